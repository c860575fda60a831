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

# Test hosts: each a network namespace this script creates, with one veth to the host, at an
# address of the script's own 10.77.X range. test_host_up adds one; test_hosts_cleanup (callers
# add it to their EXIT trap) kills what runs in them and deletes them.
# Usage: test_host_up NAME ADDRESS HOST_SIDE_ADDRESS
TEST_HOST_NAMESPACES=()
TEST_HOST_VETHS=()
test_host_up() {
  local ns="moat-$1-$$" veth="m$1$$"
  veth=${veth:0:15}
  TEST_HOST_NAMESPACES+=("$ns")
  TEST_HOST_VETHS+=("$veth")
  ip netns add "$ns" &&
    ip link add "$veth" type veth peer name eth0 netns "$ns" &&
    ip addr add "$3/32" dev "$veth" && ip link set "$veth" up &&
    ip route add "$2/32" dev "$veth" src "$3" &&
    ip -n "$ns" link set lo up && ip -n "$ns" addr add "$2/24" dev eth0 &&
    ip -n "$ns" link set eth0 up && ip -n "$ns" route add default dev eth0
}
# The namespace of test host NAME, for `ip netns exec`.
test_host_ns() { echo "moat-$1-$$"; }
test_hosts_cleanup() {
  local ns veth
  for ns in "${TEST_HOST_NAMESPACES[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  for veth in "${TEST_HOST_VETHS[@]}"; do ip link del "$veth" 2>/dev/null || true; done
}
# Waits until ADDRESS:PORT accepts TCP.
wait_port() {
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# One test host at 10.77.X.2, X free in FIRST..LAST (for scripts whose range is not fixed:
# ctest may run two at once); torn down by testnet_cleanup. Sets TESTNET_HOST, TESTNET_NS and
# TESTNET_PREFIX. Usage: testnet_up FIRST LAST
testnet_up() {
  local x=""
  for candidate in $(seq "$1" "$2"); do
    if ! ip -o -4 addr | grep -q "10\.77\.$candidate\." && ! ip route | grep -q "10\.77\.$candidate\."; then
      x=$candidate; break
    fi
  done
  [ -n "$x" ] || return 1
  TESTNET_NS=$(test_host_ns "t$x")
  TESTNET_HOST="10.77.$x.2"
  TESTNET_PREFIX="10.77.$x"
  TESTNET_VETH="mt$x$$"  # test_host_up's name for it (callers keep it with TESTNET_NS)
  TESTNET_VETH=${TESTNET_VETH:0:15}
  test_host_up "t$x" "$TESTNET_HOST" "10.77.$x.1"
}
testnet_cleanup() { test_hosts_cleanup; }
# Waits until TCP PORT on the test host accepts.
testnet_wait_port() { wait_port "$TESTNET_HOST" "$1"; }

# collector_serve NS PORT LOG: in namespace NS, logs whatever arrives over TCP on PORT.
collector_serve() {
  ip netns exec "$1" python3 -c '
import socket, sys, threading
log = open(sys.argv[2], "a", buffering=1)
def serve(c):
    try: data = c.recv(65536)
    except OSError: data = b""
    log.write("tcp %r\n" % data); c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$2" "$3" &
  disown  # killed with its namespace at exit, without the shell's job notice
}
# collector_check ADDRESS PORT LOG: the collector is up and, unconfined, reachable and recording
# (so silence under moat means something); skips otherwise. Leaves LOG empty.
collector_check() {
  wait_port "$1" "$2" || skip "the collector did not start"
  (exec 3<>"/dev/tcp/$1/$2"; printf 'control' >&3) 2>/dev/null || skip "collector unreachable"
  sleep 0.2
  grep -q control "$3" || skip "the collector records nothing"
  : > "$3"
}
