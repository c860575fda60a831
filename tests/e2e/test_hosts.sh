# Sourced by the e2e scripts that need several test hosts: each host is a network namespace with
# one veth to the host, at a fixed address of the script's own 10.77.X range. test_host_up adds
# one; test_hosts_cleanup (callers add it to their EXIT trap) kills what runs in them and deletes
# them. Usage: test_host_up NAME ADDRESS HOST_SIDE_ADDRESS
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
test_host_wait_port() {
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
