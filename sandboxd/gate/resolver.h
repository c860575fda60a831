// Upstream resolution of allowed names as the host would do it: static hosts first, then the
// host's resolver (getaddrinfo: /etc/hosts, /etc/resolv.conf, nsswitch). Blocking; run it off-path.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "policy/result.h"
#include "sandboxd/gate/allowlist.h"

namespace moat::gate {

// getaddrinfo does not report TTLs: answers carry this one, the allowlist's minimum.
inline constexpr uint32_t kUpstreamTtl = 60;
// More addresses than this are dropped: they would not fit a 512-byte answer anyway.
inline constexpr size_t kMaxUpstreamAddresses = 16;

struct Resolution {
  std::vector<IpAddress> addrs;  // of the asked family; empty: the name exists without such records
  uint32_t ttl = kUpstreamTtl;
};

// Resolves an allowed name (match_name() must have accepted it: asserted in debug builds, an
// kInvalidArgument error otherwise) to its IPv6 (want_v6) or IPv4 addresses. Static hosts of the
// name win and are never sent upstream: a pinned name with no address of the asked family gets an
// empty Resolution. Then getaddrinfo, with AI_ADDRCONFIG off (the supervisor's interfaces say
// nothing about the sandbox's wishes) and no IPv4-mapped results. Errors: kNotFound when the name
// has no address of either family (the stub answers NXDOMAIN), kIo when resolution failed
// (temporary failure, no resolver: the stub answers SERVFAIL).
Result<Resolution> resolve_upstream(std::string_view name, bool want_v6,
                                    const Allowlist& static_hosts_source);

}  // namespace moat::gate
