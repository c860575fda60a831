#!/usr/bin/env bash
# bench/startup: `moat run -p base -- true` against bare `true` and bubblewrap, interleaved in one
# run, from a scratch project directory. As root it runs twice: as root (cgroups, pids limit) and
# as an unprivileged user (created if missing). As root it also starts a sandboxd on a private
# socket for the "moat+sandboxd" lines (root: the watch loaded once; the user: the watch through a
# delegated cgroup) and stops it at the end; the "moat" lines never use a daemon.
# Usage: bench/startup.sh [ROUNDS [OTHER_MOAT...]]
# OTHER_MOAT: other moat binaries (another build) measured in the same interleaved rounds (as root
# also through the same sandboxd).
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
ninja -C "$build" moat sandboxd bench_startup >/dev/null
project=$(mktemp -d /tmp/moat-bench-XXXXXX)
sandboxd_pid=
cleanup() {
  if [ -n "$sandboxd_pid" ]; then kill "$sandboxd_pid" 2>/dev/null || true; wait "$sandboxd_pid" || true; fi
  rm -rf "$project" "$project-sd"
}
trap cleanup EXIT
cd "$project"
echo "== as $(id -un)"
if [ "$(id -u)" -eq 0 ]; then
  mkdir -m 0755 "$project-sd"
  "$build/sandboxd/daemon/sandboxd" --socket "$project-sd/sandboxd.sock" 2>/dev/null &
  sandboxd_pid=$!
  for _ in $(seq 100); do [ -S "$project-sd/sandboxd.sock" ] && break; sleep 0.05; done
  MOAT_BENCH_SANDBOXD_SOCKET="$project-sd/sandboxd.sock" \
    "${rt[@]}" "$build/bench/bench_startup" "$build/cli/moat" "$rounds" "${others[@]}"
else
  "${rt[@]}" "$build/bench/bench_startup" "$build/cli/moat" "$rounds" "${others[@]}"
fi
if [ "$(id -u)" -eq 0 ]; then
  id moat-bench >/dev/null 2>&1 || useradd -m moat-bench
  chown moat-bench "$project"
  chmod o+rx "$build" "$build/cli" "$build/bench" 2>/dev/null || true
  echo "== as moat-bench (unprivileged)"
  "${rt[@]}" setpriv --reuid=moat-bench --regid=moat-bench --init-groups \
    env HOME="$(getent passwd moat-bench | cut -d: -f6)" \
    MOAT_BENCH_SANDBOXD_SOCKET="$project-sd/sandboxd.sock" \
    "$build/bench/bench_startup" "$build/cli/moat" "$rounds" "${others[@]}"
fi
