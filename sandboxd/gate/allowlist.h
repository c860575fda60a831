// Which destinations a sandbox may reach: allow rules (host patterns, addresses, CIDRs, static
// hosts) parsed from profiles and flags, the addresses the DNS stub handed out, and the connect
// check.
//
// Connect policy, in order (check_connect):
//  1. IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are checked as IPv4.
//  2. Special addresses — unspecified (0.0.0.0/8, ::), loopback (127/8, ::1), link-local
//     (169.254/16 incl. the 169.254.169.254 metadata service, fe80::/10), multicast (224/4,
//     ff00::/8), reserved/broadcast (240/4) — are refused unless an address rule names them
//     explicitly: an exact address or a CIDR that is itself inside that special range (0.0.0.0/0
//     does not count).
//  3. Any other address matching an address rule (and its port) is allowed.
//  4. An address the stub handed out (record_resolution) for an allowed name, not yet expired, is
//     allowed on the ports that name's host rules permit — except a private address (10/8,
//     172.16/12, 192.168/16, 100.64/10, fc00::/7, fec0::/10) that came from upstream DNS: an
//     allowed public name resolving to an internal address is DNS rebinding, refused unless step 3
//     allowed it. Addresses pinned by a static host (name=ADDRESS) are the user's own statement,
//     so they may be private (but special addresses still need step 2).
//  5. Everything else is refused.
// Handed-out addresses expire after the TTL, clamped to 60 s - 1 h. The check runs at connect()
// time only: a connection already established is not affected by a later expiry.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "policy/net_rule.h"
#include "policy/result.h"

namespace moat::gate {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

using policy::AddressRule;
using policy::AllowRule;
using policy::HostRule;
using policy::IpAddress;
using policy::parse_allow_rule;
using policy::StaticHostRule;

class Allowlist {
 public:
  void add(HostRule rule);
  void add(AddressRule rule);
  void add(StaticHostRule rule);
  void add(AllowRule rule);
  // Pins `name` to `addr` (the stub answers it without asking upstream). Does not allow the
  // name: that takes a host rule, as with `hosts:` next to `allow:` in a profile.
  void add_static_host(std::string name, IpAddress addr, std::string source = "static host");

  // Name check for the DNS stub: is this name allowed at all (for any port)? Returns the first
  // matching rule, or nullptr (also for names that are not valid host names). Case and one
  // trailing dot are ignored.
  const HostRule* match_name(std::string_view name) const;

  // Remember that the stub answered `name` with these addresses for ttl_seconds (clamped to
  // 60-3600). Called by the stub; names match_name() refused are ignored.
  void record_resolution(std::string_view name, const std::vector<IpAddress>& addrs,
                         uint32_t ttl_seconds, TimePoint now);

  struct Verdict {
    bool allowed = false;
    std::string name;    // the allowed name this address was handed out for, if any
    std::string reason;  // "allowed: example.org:443 (profile:12)", "refused: 10.1.2.3:22 was ..."
  };
  // Connect check (see the policy at the top of this file).
  Verdict check_connect(const IpAddress& addr, uint16_t port, TimePoint now) const;

  // The ports on which check_connect() allows ADDR because the stub handed it out for NAME
  // (std::nullopt = any port); empty when it would not (special address, rebinding, name not
  // allowed). For mirroring a handout into the in-kernel layer, which has no TTLs.
  std::vector<std::optional<uint16_t>> handout_ports(std::string_view name,
                                                     const IpAddress& addr) const;

  // `moat learn`: every valid name is allowed on every port, and every address that is not
  // special (loopback, link-local and metadata, multicast, reserved) — private ones included —
  // so the run can show what it needs. Each decision is still an event: that is the record.
  void set_learning(bool learning) { learning_ = learning; }

  // The first address pinned for `name`, if any; static_hosts() returns them all.
  std::optional<IpAddress> static_host(std::string_view name) const;
  std::vector<IpAddress> static_hosts(std::string_view name) const;

  // Number of addresses currently remembered (expired ones are pruned as new ones are recorded).
  size_t handed_out_count() const { return handed_out_.size(); }

 private:
  struct Handout {
    std::string name;
    TimePoint expires;
    bool pinned = false;  // from a static host: may be private
  };
  // The host rule for `name` that permits `port`, or nullptr. `name` is normalised.
  const HostRule* match_name_port(std::string_view name, uint16_t port) const;
  void prune(TimePoint now);

  bool learning_ = false;
  HostRule learn_rule_{"*", std::nullopt, "moat learn: any host, recorded"};
  std::vector<HostRule> hosts_;
  std::vector<AddressRule> addresses_;
  std::vector<std::pair<std::string, IpAddress>> static_hosts_;
  std::map<IpAddress, std::vector<Handout>> handed_out_;  // keyed by the unmapped address
  size_t prune_threshold_ = 1024;
};

}  // namespace moat::gate
