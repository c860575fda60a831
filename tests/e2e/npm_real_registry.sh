#!/usr/bin/env bash
# e2e: against the npm registry this machine is configured with (`npm config get registry`;
# never named here), a fresh project installs popular packages that have install scripts or
# native parts under `moat run -p npm` and under the two-phase `moat install -p npm`, and each
# works afterwards (checked outside moat). The
# packages are chosen to work from the registry alone: prebuilt binaries as optional
# dependencies, or postinstall scripts that need no download. npm's cache is kept between runs
# (MOAT_E2E_NPM_CACHE, default ~/.cache/moat-e2e-npm): a warm cache keeps the test within its
# budget, and npm still asks the registry for every package's metadata through the gate.
# Usage: npm_real_registry.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
skip() {
  if [ "${MOAT_MUST_WORK:-0}" = 1 ]; then echo "FAIL (MOAT_MUST_WORK=1): $*"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
command -v npm >/dev/null || skip "npm is not installed"
registry=$(npm config get registry 2>/dev/null)
host=$(printf '%s' "$registry" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')
[ -n "$host" ] || skip "no registry configured"
getent hosts "$host" >/dev/null || skip "the registry $host does not resolve on this machine"

# name -> what must work afterwards (node, run in the project after the install).
declare -A checks=(
  [esbuild]="require('esbuild').transformSync('let x: number = 1', {loader: 'ts'}).code.includes('let x')"
  [@swc/core]="require('@swc/core').transformSync('const a = () => 1', {jsc: {target: 'es5'}}).code.includes('function')"
  [lightningcss]="require('lightningcss').transform({filename: 'a.css', code: Buffer.from('a{color:red}'), minify: true}).code.length > 0"
  [@parcel/watcher]="typeof require('@parcel/watcher').subscribe === 'function'"
  [rollup]="typeof require('rollup').rollup === 'function' && require('rollup/dist/native.js') !== null"
  [sharp]="typeof require('sharp')().resize === 'function'"
  [core-js]="require('core-js/actual/array/at')([1, 2, 3], -1) === 3"
  [core-js-pure]="require('core-js-pure/actual/array/at')([1, 2], -1) === 2"
  [protobufjs]="typeof require('protobufjs').Root === 'function'"
  [es5-ext]="require('es5-ext/string/#/capitalize').call('moat') === 'Moat'"
  [nodemon]="typeof require('nodemon') === 'function'"
  [bufferutil]="typeof require('bufferutil').mask === 'function'"
  [utf-8-validate]="require('utf-8-validate')(Buffer.from('moat')) === true"
  [msgpackr-extract]="typeof require('msgpackr-extract').extractStrings === 'function'"
  [lmdb]="typeof require('lmdb').open === 'function'"
  [unrs-resolver]="typeof require('unrs-resolver').ResolverFactory === 'function'"
  [@node-rs/bcrypt]="require('@node-rs/bcrypt').verifySync('moat', require('@node-rs/bcrypt').hashSync('moat', {cost: 4}))"
  [@node-rs/argon2]="typeof require('@node-rs/argon2').hashSync('moat') === 'string'"
  [@resvg/resvg-js]="new (require('@resvg/resvg-js').Resvg)('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"2\" height=\"2\"/>').render().width === 2"
  [classic-level]="typeof require('classic-level').ClassicLevel === 'function'"
  [cbor-extract]="typeof require('cbor-extract').extractStrings === 'function' && ['node_modules/cbor-extract/build/Release/extract.node', 'node_modules/@cbor-extract/cbor-extract-linux-x64'].some(require('fs').existsSync)"
  [@tailwindcss/oxide]="typeof require('@tailwindcss/oxide').Scanner === 'function'"
)
[ "${#checks[@]}" -ge 20 ] || { echo "FAIL: fewer than 20 packages listed"; exit 1; }

# cbor-extract's install script picks its prebuilt addon (@cbor-extract/cbor-extract-linux-x64,
# an optional dependency) where the registry serves one, and has node-gyp build it otherwise
# (this registry served none until 2026-12-07), against node's own headers (nodedir) rather than
# headers it would download. Use npm's setting, else the headers the node package installs.
nodedir=$(npm config get nodedir 2>/dev/null || true)
if [ -z "$nodedir" ] || [ "$nodedir" = undefined ]; then
  [ -f /usr/include/node/node.h ] || skip "no node headers (npm config get nodedir is empty)"
  export npm_config_nodedir=/usr
fi

cache=${MOAT_E2E_NPM_CACHE:-$HOME/.cache/moat-e2e-npm}
mkdir -p "$cache"
work=$(mktemp -d /tmp/moat-e2e-npmreal-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
# Both forms: `moat run -p npm` (scripts with the registry reachable) and the two-phase `moat
# install` (scripts with no network at all): these packages need nothing but the registry.
for sub in run install; do
  project="$work/$sub"
  mkdir -p "$project"
  cd "$project"
  printf '{"name":"moat-e2e-real","version":"1.0.0","private":true}\n' > package.json
  start=$(date +%s)
  # The registry and the cache reach npm (and moat's resolvers) as npm settings in the environment.
  if ! npm_config_registry="$registry" npm_config_cache="$cache" \
      "$moat" "$sub" -p npm --audit "$project/audit.jsonl" -- \
      npm install --no-audit --no-fund --foreground-scripts "${!checks[@]}" \
      >"$project/out" 2>"$project/err"; then
    tail -n 40 "$project/err"; echo "FAIL: npm install under moat $sub -p npm"; exit 1
  fi
  echo "moat $sub: $(( $(date +%s) - start )) s for ${#checks[@]} packages"
  for name in "${!checks[@]}"; do
    if ! node -e "process.exit((${checks[$name]}) ? 0 : 1)" >/dev/null 2>"$project/check.err"; then
      echo "FAIL: $name does not work after moat $sub: $(head -c 300 "$project/check.err")"
      failures=$((failures + 1))
    fi
  done
  grep -q '"kind":"connect".*"verdict":"allowed"' "$project/audit.jsonl" ||
    { echo "FAIL: moat $sub: no allowed connect to the registry in the audit"; failures=$((failures + 1)); }
  # That the install scripts ran (in phase 2 for `moat install`, with no network): the account
  # shows cbor-extract's install script starting (as root: the watch sees execs).
  if [ "$(id -u)" -eq 0 ] &&
    ! grep -q '"kind":"exec".*"origin":{[^}]*"package":"cbor-extract","script":"install"' "$project/audit.jsonl"; then
    echo "FAIL: moat $sub: cbor-extract's install script did not run"; failures=$((failures + 1))
  fi
  # Honest packages' scripts keep to their own directories: no finding says they changed the
  # project or another package.
  if grep -qE '(project|package)-files-changed' "$project/err"; then
    echo "FAIL: moat $sub: an honest package is said to change files not its own: $(grep -E '(project|package)-files-changed' "$project/err" | head -3)"
    failures=$((failures + 1))
  fi
done
echo "$(( 2 * ${#checks[@]} - failures )) passed, $failures failed"
[ "$failures" -eq 0 ]
