// Upstream resolution for the DNS stub through the host's own resolver (getaddrinfo), after the
// allowlist's static hosts. Distinguishes NXDOMAIN (no address at all) from NODATA (other family).
#include "sandboxd/gate/resolver.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>

#include "sandboxd/gate/dns_message.h"

namespace moat::gate {
namespace {

enum class Lookup { kFound, kNoName, kFailed };

struct LookupResult {
  Lookup status = Lookup::kFailed;
  std::vector<IpAddress> addrs;
  int gai_error = 0;
};

LookupResult lookup(const std::string& name, int family) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address instead of one per socket type
  hints.ai_flags = 0;               // no AI_ADDRCONFIG, no AI_V4MAPPED
  addrinfo* list = nullptr;
  LookupResult out;
  out.gai_error = getaddrinfo(name.c_str(), nullptr, &hints, &list);
  if (out.gai_error != 0) {
    const bool no_name = out.gai_error == EAI_NONAME
#ifdef EAI_NODATA
                         || out.gai_error == EAI_NODATA
#endif
#ifdef EAI_ADDRFAMILY
                         || out.gai_error == EAI_ADDRFAMILY
#endif
        ;
    out.status = no_name ? Lookup::kNoName : Lookup::kFailed;
    return out;
  }
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    IpAddress a;
    if (ai->ai_family == AF_INET && family == AF_INET && ai->ai_addrlen >= sizeof(sockaddr_in)) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      std::array<uint8_t, 4> b;
      std::memcpy(b.data(), &sin->sin_addr, 4);
      a = IpAddress::v4(b);
    } else if (ai->ai_family == AF_INET6 && family == AF_INET6 &&
               ai->ai_addrlen >= sizeof(sockaddr_in6)) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      std::array<uint8_t, 16> b;
      std::memcpy(b.data(), &sin6->sin6_addr, 16);
      a = IpAddress::v6(b);
    } else {
      continue;
    }
    if (std::find(out.addrs.begin(), out.addrs.end(), a) == out.addrs.end() &&
        out.addrs.size() < kMaxUpstreamAddresses) {
      out.addrs.push_back(a);
    }
  }
  freeaddrinfo(list);
  out.status = out.addrs.empty() ? Lookup::kNoName : Lookup::kFound;
  return out;
}

}  // namespace

Result<Resolution> resolve_upstream(std::string_view name, bool want_v6,
                                    const Allowlist& static_hosts_source) {
  assert(static_hosts_source.match_name(name) != nullptr &&
         "resolve_upstream called for a name the allowlist refused");
  Result<std::string> normalized = normalize_host_name(name);
  if (!normalized || static_hosts_source.match_name(*normalized) == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      "refusing to resolve '" + std::string(name) + "': not an allowed name");
  }
  const IpAddress::Family want = want_v6 ? IpAddress::Family::kV6 : IpAddress::Family::kV4;

  const std::vector<IpAddress> pinned = static_hosts_source.static_hosts(*normalized);
  if (!pinned.empty()) {
    Resolution r;
    for (const IpAddress& a : pinned) {
      if (a.family == want) r.addrs.push_back(a);
    }
    return r;
  }

  const int family = want_v6 ? AF_INET6 : AF_INET;
  LookupResult found = lookup(*normalized, family);
  if (found.status == Lookup::kFound) return Resolution{std::move(found.addrs), kUpstreamTtl};
  if (found.status == Lookup::kNoName) {
    // NXDOMAIN or NODATA? Ask for the other family: answering NXDOMAIN to an AAAA query for a
    // name that has A records makes some clients give up on the name altogether.
    LookupResult other = lookup(*normalized, want_v6 ? AF_INET : AF_INET6);
    if (other.status == Lookup::kFound) return Resolution{{}, kUpstreamTtl};
    if (other.status == Lookup::kNoName) {
      return make_error(ErrorCode::kNotFound, "'" + *normalized + "' has no address");
    }
    found = std::move(other);
  }
  Error e = syscall_error("resolving '" + *normalized + "' upstream", "getaddrinfo",
                          *normalized + (want_v6 ? ", AF_INET6" : ", AF_INET"), 0,
                          "check the host's /etc/resolv.conf and network");
  e.code = ErrorCode::kIo;
  e.message += std::string(": ") + gai_strerror(found.gai_error);
  return e;
}

}  // namespace moat::gate
