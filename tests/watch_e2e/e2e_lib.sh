# Sourced by the watch e2e scripts. skip: exit 77 (ctest's skip), or fail under MOAT_MUST_WORK=1
# (CI: a skipped security test proves nothing); fail: count a failure and go on; and one test
# host in a network namespace (below).
skip() {
  if [ "${MOAT_MUST_WORK:-0}" = 1 ]; then echo "FAIL (MOAT_MUST_WORK=1): $*"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespace, eBPF watch)"

# One test host in a network namespace this script creates,
# at 10.77.X.2 (X free in FIRST..LAST: each script takes its own range, because ctest may run two
# at once), reached from the host over a veth pair; torn down by testnet_cleanup (callers add it
# to their EXIT trap). Sets TESTNET_HOST and TESTNET_NS. Usage: testnet_up FIRST LAST
testnet_up() {
  local x=""
  for candidate in $(seq "$1" "$2"); do
    if ! ip -o -4 addr | grep -q "10\.77\.$candidate\." && ! ip route | grep -q "10\.77\.$candidate\."; then
      x=$candidate; break
    fi
  done
  [ -n "$x" ] || return 1
  TESTNET_NS="moat-t$x-$$"
  TESTNET_VETH="mt$x$$"
  TESTNET_HOST="10.77.$x.2"
  TESTNET_PREFIX="10.77.$x"
  ip netns add "$TESTNET_NS" &&
    ip link add "$TESTNET_VETH" type veth peer name eth0 netns "$TESTNET_NS" &&
    ip addr add "10.77.$x.1/32" dev "$TESTNET_VETH" &&
    ip link set "$TESTNET_VETH" up &&
    ip route add "$TESTNET_HOST/32" dev "$TESTNET_VETH" src "10.77.$x.1" &&
    ip -n "$TESTNET_NS" link set lo up &&
    ip -n "$TESTNET_NS" addr add "$TESTNET_HOST/24" dev eth0 &&
    ip -n "$TESTNET_NS" link set eth0 up &&
    ip -n "$TESTNET_NS" route add default dev eth0
}
testnet_cleanup() {
  [ -n "${TESTNET_NS:-}" ] || return 0
  for p in $(ip netns pids "$TESTNET_NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$TESTNET_NS" 2>/dev/null || true
  ip link del "$TESTNET_VETH" 2>/dev/null || true
}
# Waits until TCP PORT on the test host accepts.
testnet_wait_port() {
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/$TESTNET_HOST/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
