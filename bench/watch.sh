#!/usr/bin/env bash
# bench/watch: what the eBPF watch costs a file-heavy workload (bench_fs_tree: 2,000 directories of
# 10 small files created, written and removed). Three cases, interleaved in one run: bare,
# `moat run --no-watch`, `moat run` (watch on). Prints medians of the whole run's wall time and of
# the workload's own time (without process and sandbox start), and the ratios. Root only.
# The project is a fresh tmpfs by default (MOAT_BENCH_FS=tmpfs): CPU-bound, so the watch's cost
# shows; MOAT_BENCH_FS=disk uses /var/tmp, where ext4 rmdir latency dominates.
# Usage: bench/watch.sh [ROUNDS] [DIRS] [FILES]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build=${MOAT_BUILD_DIR:-$root/build}
rounds=${1:-11}
dirs=${2:-2000}
files=${3:-10}
fs=${MOAT_BENCH_FS:-tmpfs}
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/watch.sh: run as root (the watch needs BPF)" >&2
  exit 2
fi
ninja -C "$build" moat bench_fs_tree >/dev/null
project=$(mktemp -d /var/tmp/moat-bench-watch-XXXXXX)
cleanup() {
  cd /  # the shell's working directory would keep the tmpfs busy
  if [ "$fs" = tmpfs ]; then umount "$project" || true; fi
  rm -rf "$project"
}
trap cleanup EXIT
[ "$fs" = tmpfs ] && mount -t tmpfs -o size=1g,mode=0755 moat-bench "$project"
cp "$build/bench/bench_fs_tree" "$project/"
cd "$project"
moat="$build/cli/moat"
workload=("$project/bench_fs_tree" "$project/tree" "$dirs" "$files")

# One run: prints "WALL_US WORKLOAD_US".
measure() {
  local start end out
  start=$(date +%s%N)
  out=$("$@" | sed -n 's/^workload_us //p')
  end=$(date +%s%N)
  echo "$(((end - start) / 1000)) $out"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

: >bare.txt
: >nowatch.txt
: >watch.txt
"${workload[@]}" >/dev/null  # warm the caches once
for ((i = 0; i < rounds; i++)); do
  measure "${workload[@]}" >>bare.txt
  measure "$moat" run --no-watch -- "${workload[@]}" >>nowatch.txt
  measure "$moat" run --audit "$project/audit.jsonl" -- "${workload[@]}" >>watch.txt
done
col() { cut -d' ' -f"$1" <"$2" | median; }
events=$(grep -c '"layer":"watch"' "$project/audit.jsonl" || true)
lost=$(grep '"kind":"end"' "$project/audit.jsonl" | sed 's/.*"lost_events":\([0-9]*\).*/\1/')
awk -v bw="$(col 1 bare.txt)" -v nw="$(col 1 nowatch.txt)" -v ww="$(col 1 watch.txt)" \
  -v bk="$(col 2 bare.txt)" -v nk="$(col 2 nowatch.txt)" -v wk="$(col 2 watch.txt)" \
  -v r="$rounds" -v d="$dirs" -v f="$files" -v fs="$fs" -v e="$events" -v l="$lost" 'BEGIN {
  printf "bench_fs_tree %d dirs x %d files on %s, medians of %d interleaved rounds\n", d, f, fs, r
  printf "%-18s %12s %12s\n", "", "wall ms", "workload ms"
  printf "%-18s %12.1f %12.1f\n", "bare", bw / 1000, bk / 1000
  printf "%-18s %12.1f %12.1f\n", "moat --no-watch", nw / 1000, nk / 1000
  printf "%-18s %12.1f %12.1f\n", "moat (watch)", ww / 1000, wk / 1000
  printf "no-watch / bare    %12.3f %12.3f   (target <= 1.03)\n", nw / bw, nk / bk
  printf "watch / no-watch   %12.3f %12.3f   (target <= 1.05)\n", ww / nw, wk / nk
  printf "last watched run: %d watch events, %s lost\n", e, l
}'
