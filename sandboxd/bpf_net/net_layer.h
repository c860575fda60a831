// The in-kernel second layer of the network gate: cgroup connect4/6, sendmsg4/6 and sock_create
// programs on a sandbox's cgroup that allow loopback plus an address allowlist and refuse the rest.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "policy/net_rule.h"
#include "policy/result.h"

namespace moat::bpfnet {

// An address or CIDR. IPv4-mapped IPv6 networks (::ffff:a.b.c.d/N, N >= 96) are stored as IPv4,
// because the kernel programs judge a mapped destination by the IPv4 rules.
struct IpNet {
  policy::IpAddress address;  // host bits beyond prefix_length are ignored (cleared)
  uint8_t prefix_length = 0;  // 0..32 for IPv4, 0..128 for IPv6

  static IpNet host(const policy::IpAddress& a) {
    return IpNet{a, static_cast<uint8_t>(a.bit_width())};
  }
};

struct AttachOptions {
  // Allow 127.0.0.0/8, ::1 and the unspecified addresses (0.0.0.0, ::, which also mean "this
  // host"). Right inside a network namespace, where loopback is the sandbox's own. Without one
  // (landlock tier) loopback is the HOST's: pass false and allow() just the stub's address.
  bool loopback = true;
};

class NetLayer {
 public:
  // Loads the programs and attaches them as bpf_links to the cgroup (an O_DIRECTORY fd of a
  // cgroup v2 directory; the fd may be closed afterwards). They stay attached until this object
  // is destroyed. Errors name the program and errno, with a hint (root, CONFIG_CGROUP_BPF).
  static Result<NetLayer> attach(int cgroup_fd, AttachOptions options = {});

  NetLayer(NetLayer&&) noexcept;
  NetLayer& operator=(NetLayer&&) noexcept;
  ~NetLayer();

  // Allows NET (exact address at prefix 32/128, or a CIDR) on PORT; no port or 0 = any port.
  // Takes effect for the next connect()/sendmsg(); connections already made are not re-judged.
  Status allow(const IpNet& net, std::optional<uint16_t> port = std::nullopt);
  Status allow(const policy::AddressRule& rule);
  // Removes an entry made by allow() with the same arguments (kNotFound when absent).
  Status revoke(const IpNet& net, std::optional<uint16_t> port = std::nullopt);
  // What attach() does with options.loopback (127.0.0.0/8, ::1, 0.0.0.0, ::; any port).
  Status allow_loopback();
  // Without a network namespace: every connect()/sendmsg() to port 53 of any address goes to the
  // DNS stub at STUB (IPv4) instead, TCP to tcp_port and UDP to udp_port. Allowed, not counted.
  Status redirect_dns(const policy::IpAddress& stub, uint16_t tcp_port, uint16_t udp_port);

  // Refusals so far, summed over CPUs and hooks; and per hook.
  enum class Hook { kConnect4, kConnect6, kSendmsg4, kSendmsg6, kSockCreate };
  std::uint64_t denied_count() const;
  std::uint64_t denied_count(Hook hook) const;

 private:
  struct State;
  explicit NetLayer(std::unique_ptr<State> state);
  Status update(const IpNet& net, std::optional<uint16_t> port, std::uint32_t flags, bool remove);
  std::unique_ptr<State> state_;
};

// Load-only probe: can this process load (not attach) a cgroup sock_addr program via libbpf?
bool probe_cgroup_sock_addr();

}  // namespace moat::bpfnet
