#!/usr/bin/env bash
# The whole watch suite again, every run through a sandboxd (label watch, root): the daemon's
# shared programs must give each sandbox exactly what the per-run watch gives it (10,000
# creations, overflow counted, host activity not reported...). Usage: SANDBOXD WATCH_TESTS
set -euo pipefail
sandboxd=$1
tests=$2
if [ "$(id -u)" -ne 0 ]; then
  if [ "${MOAT_MUST_WORK:-}" = 1 ]; then echo "FAIL: needs root"; exit 1; fi
  echo "SKIP: needs root"; exit 77
fi
dir=$(mktemp -d /tmp/moat-sdw-XXXXXX)
chmod 0755 "$dir"
log="$dir/sandboxd.log"
"$sandboxd" --socket "$dir/s.sock" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$dir/s.sock" ] && break; sleep 0.05; done
MOAT_SANDBOXD_SOCKET="$dir/s.sock" "$tests" --gtest_filter='Watch.*'
kill "$pid"
wait "$pid" || true
cat "$log"
served=$(sed -n 's/^sandboxd: stopping after \([0-9]*\) registrations$/\1/p' "$log")
# Every Watch.* test but the ones that turn the watch off or are refused runs through it.
if [ -z "$served" ] || [ "$served" -lt 5 ]; then
  echo "FAIL: the runs did not go through sandboxd (registrations: ${served:-none})"
  exit 1
fi
echo "ok: $served registrations through sandboxd"
