#!/usr/bin/env bash
# e2e: yarn berry (4.x, the real client) installs the dependency tree of npm_malicious_registry.sh
# (good-a, good-b, the malicious evil-pkg) from the local registry on a test host, under `moat
# run -p yarn` and `moat install -p yarn` (two-phase), as root and as moat-test. The project's
# .yarnrc.yml names the registry (npmRegistryServer, unsafeHttpWhitelist for the http test
# registry) and `nodeLinker: node-modules`; its package.json allows both packages' builds
# (dependenciesMeta built: berry 4 runs no dependency script otherwise), so only moat's
# --mode=skip-build keeps phase 1 free of scripts. Checked from outside: the honest packages work
# (good-a's postinstall ran), evil-pkg's effects are absent, berry itself ran (its banner), moat
# says which yarn it detected and why (packageManager as root, the binary's package.json as
# moat-test), phase 1 ran no script and phase 2 the scripts, and the token in ~/.yarnrc.yml and
# ~/.npmrc never reaches the registry in the one-phase form (it does in phase 1, which is what
# phase 1 is for) nor the output; and from a terminal with a telemetry report due, berry reaches
# for no network (the profiles turn its telemetry off). yarn berry comes from scripts/install-deps.sh
# ($MOAT_E2E_TOOLS/berry, default /opt/moat-e2e-tools/berry). Usage: yarn_berry_registry.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
. "$(dirname "$(realpath "$0")")/npm_registry_lib.sh"
command -v npm >/dev/null || skip "npm is not installed"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces for the test hosts, user switch)"
tools=${MOAT_E2E_TOOLS:-/opt/moat-e2e-tools}
berry="$tools/berry/bin/yarn"
berry_version=4.18.1
berry_pkg=$(realpath "$tools/berry/lib/node_modules/@yarnpkg/cli-dist/package.json" 2>/dev/null || true)
[ -x "$berry" ] && [ -n "$berry_pkg" ] || skip "yarn berry is not installed in $tools/berry (scripts/install-deps.sh)"
[ "$(cd / && "$berry" --version)" = "$berry_version" ] ||
  skip "yarn berry in $tools/berry is not $berry_version (scripts/install-deps.sh)"
command -v script >/dev/null || skip "no script(1) (util-linux) to give yarn a terminal"
# Under a CI runner (CI=true and the like) berry refuses to create a lockfile (immutable installs)
# and never sends telemetry, so the telemetry check could not fail; CI=false makes berry behave as
# on a developer's machine wherever this test runs.
export CI=false
npm_e2e_workspace berry
registry_ip=10.77.22.10 collector_ip=10.77.22.11 port=4873
registry_hosts_up b 9 12

passed=0
scenario() {  # scenario SUB AS
  local sub=$1 as=$2 dir="$work/berry-$1-$2"
  local home="$dir/home" project="$dir/project" what="yarn berry ($1) as $2"
  mkdir -p "$home/.ssh" "$project"
  echo "MOAT-SSH-CANARY-$$" > "$home/.ssh/id_ed25519"
  echo "//registry.test:$port/:_authToken=MOAT-NPM-TOKEN-CANARY-$$" > "$home/.npmrc"
  # berry's own token, sent with every request (npmAlwaysAuth), even over http.
  printf 'npmAuthToken: "MOAT-YARN-TOKEN-CANARY-%s"\nnpmAlwaysAuth: true\n' "$$" > "$home/.yarnrc.yml"
  echo "# the user's bashrc" > "$home/.bashrc"
  (cd "$project" && git init -q .)
  printf 'nodeLinker: node-modules\nnpmRegistryServer: "%s"\nunsafeHttpWhitelist:\n  - registry.test\n' \
    "$url" > "$project/.yarnrc.yml"
  # As root the project names its yarn (corepack's packageManager); as moat-test it does not, and
  # moat reads the version of the package the yarn binary belongs to.
  local package_manager="" why="$berry_pkg: @yarnpkg/cli-dist $berry_version"
  if [ "$as" = root ]; then
    package_manager="\"packageManager\":\"yarn@$berry_version\","
    why="$project/package.json: \"packageManager\": \"yarn@$berry_version\""
  fi
  echo "{\"name\":\"victim\",\"version\":\"1.0.0\",\"private\":true,$package_manager\"dependencies\":{\"good-a\":\"1.0.0\",\"evil-pkg\":\"1.0.0\"},\"dependenciesMeta\":{\"good-a\":{\"built\":true},\"evil-pkg\":{\"built\":true}}}" \
    > "$project/package.json"
  # The project's own code, which evil-pkg's script appends to (checked in check_evil_pkg_contained).
  echo "module.exports = 42;" > "$project/index.js"
  local bashrc_before; bashrc_before=$(sha256sum < "$home/.bashrc")
  [ "$as" = root ] || chown -R moat-test:moat-test "$dir"
  : > "$collog"
  local cmd=(env HOME="$home" "$moat" "$sub" -p yarn --allow-exec "$tools"
             --add-host "registry.test=$registry_ip" --audit "$dir/audit.jsonl"
             -- "$berry" install)
  local rc=0
  : > "$reglog"
  run_in_project "$as" "$project" "$dir" "${cmd[@]}" || rc=$?
  sleep 0.5
  local before=$failures
  [ "$rc" -eq 0 ] || fail "$what: moat exited $rc"
  grep -q "Yarn $berry_version" "$dir/out" || fail "$what: yarn berry $berry_version did not run"
  (cd "$project" && node -e "process.exit(require('good-a')() ? 0 : 1)") ||
    fail "$what: good-a does not work after the install (moat exit $rc)"
  check_evil_pkg_contained "$what" "$home" "$project" "$dir" "$bashrc_before"
  grep -q 'YARN-TOKEN-CANARY' "$dir/out" "$dir/err" && fail "$what: berry's token is in the output"
  if [ "$sub" = run ]; then
    grep -q CANARY "$reglog" && fail "$what: the registry received a token: $(grep -m1 CANARY "$reglog")"
  else
    grep -qxF "moat install: yarn berry ($why): --mode=skip-build, then yarn rebuild" "$dir/err" ||
      fail "$what: moat did not say it detected berry by $why"
    # Phase 1 is where the token belongs: the home's .yarnrc.yml was readable there.
    grep -q "auth=Bearer MOAT-YARN-TOKEN-CANARY-$$" "$reglog" ||
      fail "$what: phase 1 did not fetch with the token of ~/.yarnrc.yml"
    grep -q 'NPM-TOKEN-CANARY' "$reglog" && fail "$what: the registry received the ~/.npmrc token"
    check_scripts_only_in_phase_2 "$what" "$dir"
    grep -q "moat install: phase 2/2 (.*): $berry rebuild\$" "$dir/err" ||
      fail "$what: phase 2 is not \`yarn rebuild\`"
  fi
  if [ "$failures" -gt "$before" ]; then
    echo "--- $what: exit $rc, stdout:"; tail -n 20 "$dir/out"; echo "--- stderr:"; tail -n 40 "$dir/err"
  else
    passed=$((passed + 1)); echo "ok: $what"
  fi
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
}

# telemetry AS: berry sends usage telemetry when its stdout is a terminal and the interval since
# the last report (telemetry.json in its global folder) has passed; inside, that could only be
# refused (a denial in every account). Run from a terminal (script(1)) with a report long due:
# no lookup or connection leaves yarn, and the state file is untouched (berry did not even
# record the run).
telemetry() {
  local as=$1 dir="$work/telemetry-$1" what="yarn berry's telemetry as $1"
  local home="$dir/home" project="$dir/project"
  mkdir -p "$home/.yarn/berry" "$project"
  echo '{"lastUpdate":1000,"lastTips":1000,"blocks":{}}' > "$home/.yarn/berry/telemetry.json"
  local state_before; state_before=$(sha256sum < "$home/.yarn/berry/telemetry.json")
  printf 'nodeLinker: node-modules\nnpmRegistryServer: "%s"\n' "$url" > "$project/.yarnrc.yml"
  echo '{"name":"victim","version":"1.0.0","private":true}' > "$project/package.json"
  [ "$as" = root ] || chown -R moat-test:moat-test "$dir"
  local inner rc=0
  inner=$(printf '%q ' env HOME="$home" "$moat" run -p yarn --allow-exec "$tools" \
    --audit "$dir/audit.jsonl" -- "$berry" install)
  run_in_project "$as" "$project" "$dir" script -qefc "$inner" /dev/null || rc=$?
  local before=$failures
  [ "$rc" -eq 0 ] || fail "$what: exit $rc"
  grep -q "Yarn $berry_version" "$dir/out" || fail "$what: yarn berry did not run"
  grep -E '"kind":"(dns|connect)"' "$dir/audit.jsonl" &&
    fail "$what: yarn reached for the network"
  [ "$(sha256sum < "$home/.yarn/berry/telemetry.json")" = "$state_before" ] ||
    fail "$what: berry recorded telemetry: $(cat "$home/.yarn/berry/telemetry.json")"
  if [ "$failures" -gt "$before" ]; then
    echo "--- $what: out:"; tail -n 20 "$dir/out"
  else
    passed=$((passed + 1)); echo "ok: $what"
  fi
}

for as in root moat-test; do
  scenario run "$as"
  scenario install "$as"
  telemetry "$as"
done
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
