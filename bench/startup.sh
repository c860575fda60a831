#!/usr/bin/env bash
# bench/startup: `moat run -p base -- true` against bare `true` and bubblewrap, interleaved in one
# run, from a scratch project directory. As root it runs twice: as root (cgroups, pids limit) and
# as an unprivileged user (created if missing). Usage: bench/startup.sh [ROUNDS [OTHER_MOAT...]]
# OTHER_MOAT: other moat binaries (another build) measured in the same interleaved rounds.
# MOAT_BENCH_RT=1 runs everything at SCHED_FIFO 50 (chrt): on a machine shared with builds the
# runs then wait for no one, and the figures say what the code costs rather than the load.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build=${MOAT_BUILD_DIR:-$root/build}
rounds=${1:-200}
shift || true
others=("$@")
rt=()
[ "${MOAT_BENCH_RT:-0}" = 1 ] && rt=(chrt -f 50)
ninja -C "$build" moat bench_startup >/dev/null
project=$(mktemp -d /tmp/moat-bench-XXXXXX)
trap 'rm -rf "$project"' EXIT
cd "$project"
echo "== as $(id -un)"
"${rt[@]}" "$build/bench/bench_startup" "$build/cli/moat" "$rounds" "${others[@]}"
if [ "$(id -u)" -eq 0 ]; then
  id moat-bench >/dev/null 2>&1 || useradd -m moat-bench
  chown moat-bench "$project"
  chmod o+rx "$build" "$build/cli" "$build/bench" 2>/dev/null || true
  echo "== as moat-bench (unprivileged)"
  "${rt[@]}" setpriv --reuid=moat-bench --regid=moat-bench --init-groups \
    env HOME="$(getent passwd moat-bench | cut -d: -f6)" \
    "$build/bench/bench_startup" "$build/cli/moat" "$rounds" "${others[@]}"
fi
