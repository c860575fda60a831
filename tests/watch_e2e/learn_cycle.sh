#!/usr/bin/env bash
# watch e2e: learn -> enforce -> drift on a small project. `moat learn` records what a command
# needs (a write path in the home, a test host in a network namespace this script creates), the
# learned profile lets the same command succeed with nothing refused, and a command that does
# something new is reported as drift (exit status unchanged unless --fail-on-drift). Root (the
# watch sees the writes). Usage: learn_cycle.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
. "$(dirname "$(realpath "$0")")/e2e_lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
work=$(mktemp -d /tmp/moat-e2e-learn-XXXXXX)
trap 'testnet_cleanup; rm -rf "$work"' EXIT
testnet_up 40 49 || skip "no free 10.77.X.0/24 (X in 40-49) for the test host"
mkdir -p "$work/www"
echo "hello" > "$work/www/index.html"
ip netns exec "$TESTNET_NS" python3 -m http.server 8080 --bind 0.0.0.0 --directory "$work/www" \
  >/dev/null 2>&1 &
testnet_wait_port 8080 || skip "the test host's server did not start"

home="$work/home"
project="$work/project"
mkdir -p "$home/.myapp" "$project"
cd "$project"
job="echo state > \$HOME/.myapp/state && curl -sf http://$TESTNET_HOST:8080/ > fetched.txt && echo built > out.txt"

# 1. learn
HOME="$home" "$moat" learn --out "$work/learned.yaml" -- sh -c "$job" 2>"$work/learn.err" ||
  { cat "$work/learn.err"; fail "the learning run failed"; }
grep -qF '"${HOME}/.myapp"' "$work/learned.yaml" || fail "the write path was not learned"
grep -qF "\"$TESTNET_HOST:8080\"" "$work/learned.yaml" || fail "the host was not learned"
grep -q "curl" "$work/learned.yaml" || fail "the learned rules do not say who needed them"
"$moat" check "$work/learned.yaml" >/dev/null || fail "the learned profile does not check"

# 2. enforce: the same job succeeds, nothing refused, no drift; its effects are real.
rm -f "$home/.myapp/state" fetched.txt out.txt
HOME="$home" "$moat" run -p "$work/learned.yaml" --fail-on-drift -- sh -c "$job" 2>"$work/run.err" ||
  { cat "$work/run.err"; fail "the job failed under its learned profile"; }
[ "$(cat "$home/.myapp/state" 2>/dev/null)" = state ] || fail "the learned write path was not writable"
[ "$(cat fetched.txt 2>/dev/null)" = hello ] || fail "the learned host was not reachable"
grep -q "moat: drift" "$work/run.err" && fail "drift reported for the learned behaviour: $(cat "$work/run.err")"

# 3. drift: a new write and a new port. Reported; exit 0 without --fail-on-drift, 1 with it.
new="$job && (echo x > \$HOME/.other || true) && (curl -sf -m 3 http://$TESTNET_HOST:9090/ || true)"
HOME="$home" "$moat" run -p "$work/learned.yaml" -- sh -c "$new" 2>"$work/drift.err" ||
  fail "a drifting run changed the exit status without --fail-on-drift"
grep -q "moat: drift" "$work/drift.err" || fail "no drift reported: $(cat "$work/drift.err")"
grep -q "9090" "$work/drift.err" || fail "the new host is not named"
grep -q ".other" "$work/drift.err" || fail "the new write is not named"
rc=0
HOME="$home" "$moat" run -p "$work/learned.yaml" --fail-on-drift -- sh -c "$new" 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "--fail-on-drift: expected exit 1, got $rc"
if [ "$failures" -gt 0 ]; then
  echo "--- learned:"; cat "$work/learned.yaml"; echo "0 passed, 1 failed"; exit 1
fi
echo "1 passed, 0 failed"
