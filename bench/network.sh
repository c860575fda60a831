#!/usr/bin/env bash
# bench/network: connect latency (median of N connects) and bulk throughput through the gate
# against the same client run directly, to a test host in a network namespace this script makes
# (10.77.250.2) and removes. Needs root. Usage: bench/network.sh [CONNECTS] [BYTES] [RUNS]
# Three gate paths: an address rule (the gate's own connection is handed over), a host-name rule
# on port 9000 (relayed, for the SNI/Host check) and a host-name rule on 443 with a ClientHello
# first (as root the kernel checks its SNI on the handed-over socket: no relay). The measures are
# taken RUNS times, interleaved, and the medians printed: one run of each is too noisy on a busy
# machine. The last path again as an unprivileged user (moat-bench, created if missing) whose
# moat reaches a sandboxd on a private socket (the daemon's kernel check; without it: relayed).
# MOAT_BENCH_NET=10.77.N uses another /24 (and netns and veth names) when 10.77.250 is taken.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build=${MOAT_BUILD_DIR:-$root/build}
connects=${1:-1000}
bytes=${2:-1073741824}
runs=${3:-3}
net=${MOAT_BENCH_NET:-10.77.250}
tag=${net##*.}
ninja -C "$build" moat sandboxd bench_net_tool >/dev/null
tool="$build/bench/bench_net_tool"
ns=moat-bench-net-$tag
host_if=mbn$tag-h
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  [ -n "${server443:-}" ] && kill "$server443" 2>/dev/null || true
  [ -n "${sandboxd:-}" ] && kill "$sandboxd" 2>/dev/null || true
  rm -rf "${sd_dir:-}"
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$host_if" 2>/dev/null || true
  rm -rf "${project:-}"
}
cleanup
trap cleanup EXIT
ip netns add "$ns"
ip link add "$host_if" type veth peer name mbn$tag-n
ip link set mbn$tag-n netns "$ns"
ip addr add "$net.1/24" dev "$host_if"
ip link set "$host_if" up
ip -n "$ns" addr add "$net.2/24" dev mbn$tag-n
ip -n "$ns" link set mbn$tag-n up
ip -n "$ns" link set lo up
ip netns exec "$ns" "$tool" serve 9000 &
server=$!
ip netns exec "$ns" "$tool" serve 443 &
server443=$!
for port in 9000 443; do
  for _ in $(seq 50); do  # until the server listens
    "$tool" connect "$net.2" $port 1 >/dev/null 2>&1 && break
    sleep 0.1
  done
done
project=$(mktemp -d /tmp/moat-bench-net-XXXXXX)
cp "$tool" "$project/net_tool"
cd "$project"
direct=(./net_tool)
gate=("$build/cli/moat" run --allow-host "$net.2:9000" -- ./net_tool)
# Allowed by name: the gate relays (to check SNI/Host). The client's bytes are no TLS or HTTP,
# so the relay allows them bound to the address ("other") and splices the rest.
named=("$build/cli/moat" run --add-host "bench.test=$net.2" --allow-host bench.test:9000 --
       ./net_tool)
# Allowed by name on the HTTPS port, a ClientHello naming it first: checked in the kernel.
https=("$build/cli/moat" run --add-host "bench.test=$net.2" --allow-host bench.test:443 --
       ./net_tool)
# The same as an unprivileged user through a sandboxd of its own.
id moat-bench >/dev/null 2>&1 || useradd -m moat-bench
chown moat-bench "$project"
chmod 0755 "$project"  # root's runs (no capabilities inside) enter it too
chmod o+rx "$build" "$build/cli" 2>/dev/null || true
sd_dir=$(mktemp -d /tmp/moat-bench-sd-XXXXXX)
chmod 0755 "$sd_dir"
"$build/sandboxd/daemon/sandboxd" --socket "$sd_dir/sandboxd.sock" 2>/dev/null &
sandboxd=$!
for _ in $(seq 100); do [ -S "$sd_dir/sandboxd.sock" ] && break; sleep 0.05; done
user_https=(setpriv --reuid=moat-bench --regid=moat-bench --init-groups
            env HOME="$(getent passwd moat-bench | cut -d: -f6)"
            MOAT_SANDBOXD_SOCKET="$sd_dir/sandboxd.sock" "${https[@]}")
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
declare -A c b
for run in $(seq "$runs"); do
  c[direct]+="$("${direct[@]}" connect "$net.2" 9000 "$connects")"$'\n'
  c[gate]+="$("${gate[@]}" connect "$net.2" 9000 "$connects" 2>/dev/null)"$'\n'
  c[relay]+="$("${named[@]}" connect bench.test 9000 "$connects" 2>/dev/null)"$'\n'
  b[direct]+="$("${direct[@]}" bulk "$net.2" 9000 "$bytes")"$'\n'
  b[gate]+="$("${gate[@]}" bulk "$net.2" 9000 "$bytes" 2>/dev/null)"$'\n'
  b[relay]+="$("${named[@]}" bulk bench.test 9000 "$bytes" 2>/dev/null)"$'\n'
  c[kernel]+="$("${https[@]}" connect-tls bench.test 443 "$connects" 2>/dev/null)"$'\n'
  b[kernel]+="$("${https[@]}" bulk-tls bench.test 443 "$bytes" 2>/dev/null)"$'\n'
  c[user]+="$("${user_https[@]}" connect-tls bench.test 443 "$connects" 2>/dev/null)"$'\n'
  b[user]+="$("${user_https[@]}" bulk-tls bench.test 443 "$bytes" 2>/dev/null)"$'\n'
done
declare -A mc mb
for k in direct gate relay kernel user; do
  echo "$k: connect us [$(echo -n "${c[$k]}" | tr '\n' ' ')] bulk MiB/s [$(echo -n "${b[$k]}" | tr '\n' ' ')]"
  mc[$k]=$(echo -n "${c[$k]}" | median)
  mb[$k]=$(echo -n "${b[$k]}" | median)
done
echo "medians of $runs runs:"
echo "connect, median of $connects: direct ${mc[direct]} us," \
  "address rule ${mc[gate]} us (+$(echo "${mc[gate]} - ${mc[direct]}" | bc) us)," \
  "name rule (relayed) ${mc[relay]} us (+$(echo "${mc[relay]} - ${mc[direct]}" | bc) us)," \
  "name rule on 443 (kernel SNI check) ${mc[kernel]} us (+$(echo "${mc[kernel]} - ${mc[direct]}" | bc) us)," \
  "the same unprivileged through sandboxd ${mc[user]} us (+$(echo "${mc[user]} - ${mc[direct]}" | bc) us)"
echo "bulk $((bytes >> 20)) MiB: direct ${mb[direct]} MiB/s," \
  "address rule ${mb[gate]} MiB/s (ratio $(echo "scale=2; ${mb[gate]} / ${mb[direct]}" | bc))," \
  "name rule (relayed) ${mb[relay]} MiB/s (ratio $(echo "scale=2; ${mb[relay]} / ${mb[direct]}" | bc))," \
  "name rule on 443 (kernel SNI check) ${mb[kernel]} MiB/s (ratio $(echo "scale=2; ${mb[kernel]} / ${mb[direct]}" | bc))," \
  "the same unprivileged through sandboxd ${mb[user]} MiB/s (ratio $(echo "scale=2; ${mb[user]} / ${mb[direct]}" | bc))"
