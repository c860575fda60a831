#!/usr/bin/env bash
# bench/network: connect latency (median of N connects) and bulk throughput through the gate
# against the same client run directly, to a test host in a network namespace this script makes
# (10.77.250.2) and removes. Needs root. Usage: bench/network.sh [CONNECTS] [BYTES]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build=${MOAT_BUILD_DIR:-$root/build}
connects=${1:-1000}
bytes=${2:-1073741824}
ninja -C "$build" moat bench_net_tool >/dev/null
tool="$build/bench/bench_net_tool"
ns=moat-bench-net
ip netns del "$ns" 2>/dev/null || true
ip link del mbn-h 2>/dev/null || true
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del mbn-h 2>/dev/null || true
  rm -rf "${project:-}"
}
trap cleanup EXIT
ip netns add "$ns"
ip link add mbn-h type veth peer name mbn-n
ip link set mbn-n netns "$ns"
ip addr add 10.77.250.1/24 dev mbn-h
ip link set mbn-h up
ip -n "$ns" addr add 10.77.250.2/24 dev mbn-n
ip -n "$ns" link set mbn-n up
ip -n "$ns" link set lo up
ip netns exec "$ns" "$tool" serve 9000 &
server=$!
sleep 0.3
project=$(mktemp -d /tmp/moat-bench-net-XXXXXX)
cp "$tool" "$project/net_tool"
cd "$project"
moat=("$build/cli/moat" run --allow-host 10.77.250.2:9000 --)
direct_c=$(./net_tool connect 10.77.250.2 9000 "$connects")
gate_c=$("${moat[@]}" ./net_tool connect 10.77.250.2 9000 "$connects" 2>/dev/null)
direct_b=$(./net_tool bulk 10.77.250.2 9000 "$bytes")
gate_b=$("${moat[@]}" ./net_tool bulk 10.77.250.2 9000 "$bytes" 2>/dev/null)
# Allowed by name: the gate relays (to check SNI/Host) with splice.
named=("$build/cli/moat" run --add-host bench.test=10.77.250.2 --allow-host bench.test:9000 --)
relay_c=$("${named[@]}" ./net_tool connect bench.test 9000 "$connects" 2>/dev/null)
relay_b=$("${named[@]}" ./net_tool bulk bench.test 9000 "$bytes" 2>/dev/null)
echo "connect, median of $connects: direct ${direct_c} us, through the gate ${gate_c} us" \
  "(+$(echo "$gate_c - $direct_c" | bc) us)"
echo "bulk $((bytes >> 20)) MiB: direct ${direct_b} MiB/s, through the gate ${gate_b} MiB/s" \
  "(ratio $(echo "scale=2; $gate_b / $direct_b" | bc))"
echo "allowed by name (relayed, SNI/Host checked): connect ${relay_c} us" \
  "(+$(echo "$relay_c - $direct_c" | bc) us), bulk ${relay_b} MiB/s" \
  "(ratio $(echo "scale=2; $relay_b / $direct_b" | bc))"
