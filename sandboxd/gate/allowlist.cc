// Allow rules, handed-out addresses and the connect check (policy documented in allowlist.h).
// The special and private ranges are tables here; each refusal says which rule would allow it.
#include "sandboxd/gate/allowlist.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "sandboxd/gate/dns_message.h"

namespace moat::gate {
namespace {

constexpr uint32_t kMinTtl = 60;
constexpr uint32_t kMaxTtl = 3600;
constexpr size_t kMaxNamesPerAddress = 64;  // a CDN address shared by many allowed names

struct Range {
  IpAddress network;
  uint8_t prefix;
  const char* what;
  bool contains(const IpAddress& a) const {
    return a.family == network.family && policy::ip_prefix_equal(a, network, prefix);
  }
};

Range make_range(std::string_view addr, uint8_t prefix, const char* what) {
  Result<IpAddress> a = IpAddress::parse(addr);
  assert(a.ok());
  return Range{a.ok() ? *a : IpAddress{}, prefix, what};
}

// Never reachable through a DNS answer or a broad rule; see allowlist.h.
const std::vector<Range>& special_ranges() {
  static const std::vector<Range> kRanges = {
      make_range("0.0.0.0", 8, "an unspecified (this-network)"),
      make_range("127.0.0.0", 8, "a loopback"),
      make_range("169.254.0.0", 16, "a link-local (cloud metadata)"),
      make_range("224.0.0.0", 4, "a multicast"),
      make_range("240.0.0.0", 4, "a reserved or broadcast"),
      make_range("::", 128, "an unspecified"),
      make_range("::1", 128, "a loopback"),
      make_range("fe80::", 10, "a link-local"),
      make_range("ff00::", 8, "a multicast"),
  };
  return kRanges;
}

// Refused when an upstream DNS answer hands them out (rebinding).
const std::vector<Range>& private_ranges() {
  static const std::vector<Range> kRanges = {
      make_range("10.0.0.0", 8, "private"),     make_range("172.16.0.0", 12, "private"),
      make_range("192.168.0.0", 16, "private"), make_range("100.64.0.0", 10, "shared (CGNAT)"),
      make_range("fc00::", 7, "unique local"),  make_range("fec0::", 10, "site-local"),
  };
  return kRanges;
}

// NAT64 (RFC 6052 well-known prefix): the host's NAT64 gateway would forward to the embedded IPv4.
std::optional<IpAddress> nat64_embedded(const IpAddress& a) {
  static const Range kNat64 = make_range("64:ff9b::", 96, "NAT64");
  if (!kNat64.contains(a)) return std::nullopt;
  return IpAddress::v4({a.bytes[12], a.bytes[13], a.bytes[14], a.bytes[15]});
}

const Range* find_range(const std::vector<Range>& ranges, const IpAddress& unmapped) {
  for (const Range& r : ranges) {
    if (r.contains(unmapped)) return &r;
  }
  if (std::optional<IpAddress> v4 = nat64_embedded(unmapped)) {
    for (const Range& r : ranges) {
      if (r.contains(*v4)) return &r;
    }
  }
  return nullptr;
}

// An address rule names a special address explicitly when its whole network lies inside the range.
bool rule_inside(const AddressRule& rule, const Range& range) {
  return rule.prefix_length >= range.prefix && range.contains(rule.network);
}


std::string endpoint(const IpAddress& a, uint16_t port) {
  if (a.family == IpAddress::Family::kV6) return "[" + a.to_string() + "]:" + std::to_string(port);
  return a.to_string() + ":" + std::to_string(port);
}

std::string with_source(const std::string& source) {
  return source.empty() ? std::string() : " (" + source + ")";
}

bool pattern_matches(std::string_view pattern, std::string_view name) {
  if (pattern.starts_with("*.")) {
    const std::string_view suffix = pattern.substr(1);  // ".example.org"
    return name.size() > suffix.size() && name.ends_with(suffix);
  }
  return pattern == name;
}

}  // namespace

void Allowlist::add(HostRule rule) { hosts_.push_back(std::move(rule)); }

void Allowlist::add(AddressRule rule) { addresses_.push_back(policy::normalize_address_rule(std::move(rule))); }

void Allowlist::add(StaticHostRule rule) {
  static_hosts_.emplace_back(rule.host.pattern, rule.address);
  hosts_.push_back(std::move(rule.host));
}

void Allowlist::add(AllowRule rule) {
  std::visit([this](auto& r) { add(std::move(r)); }, rule);
}

void Allowlist::add_static_host(std::string name, IpAddress addr, std::string /*source*/) {
  Result<std::string> n = policy::normalize_host_name(name);
  assert(n.ok() && "static host names are validated by the policy");
  if (!n) return;
  // Only the mapping, like docker's --add-host: reaching the name still needs an allow rule.
  static_hosts_.emplace_back(*n, addr);
}

const HostRule* Allowlist::match_name(std::string_view name) const {
  Result<std::string> n = policy::normalize_host_name(name);
  if (!n) return nullptr;
  for (const HostRule& rule : hosts_) {
    if (pattern_matches(rule.pattern, *n)) return &rule;
  }
  return learning_ ? &learn_rule_ : nullptr;
}

const HostRule* Allowlist::match_name_port(std::string_view name, uint16_t port) const {
  for (const HostRule& rule : hosts_) {
    if (pattern_matches(rule.pattern, name) && (!rule.port || *rule.port == port)) return &rule;
  }
  return learning_ ? &learn_rule_ : nullptr;
}

void Allowlist::record_resolution(std::string_view name, const std::vector<IpAddress>& addrs,
                                  uint32_t ttl_seconds, TimePoint now) {
  Result<std::string> n = policy::normalize_host_name(name);
  if (!n || match_name(*n) == nullptr) return;
  const TimePoint expires = now + std::chrono::seconds(std::clamp(ttl_seconds, kMinTtl, kMaxTtl));
  const std::vector<IpAddress> pinned = static_hosts(*n);
  for (const IpAddress& addr : addrs) {
    const IpAddress key = addr.unmapped();
    const bool is_pinned = std::any_of(pinned.begin(), pinned.end(),
                                       [&](const IpAddress& p) { return p.unmapped() == key; });
    std::vector<Handout>& list = handed_out_[key];
    auto same =
        std::find_if(list.begin(), list.end(), [&](const Handout& h) { return h.name == *n; });
    if (same != list.end()) {
      same->expires = std::max(same->expires, expires);
      same->pinned = is_pinned;
      continue;
    }
    if (list.size() >= kMaxNamesPerAddress) {
      auto oldest = std::min_element(
          list.begin(), list.end(),
          [](const Handout& a, const Handout& b) { return a.expires < b.expires; });
      *oldest = Handout{*n, expires, is_pinned};
      continue;
    }
    list.push_back(Handout{*n, expires, is_pinned});
  }
  if (handed_out_.size() > prune_threshold_) {
    prune(now);
    prune_threshold_ = std::max<size_t>(1024, 2 * handed_out_.size());
  }
}

void Allowlist::prune(TimePoint now) {
  for (auto it = handed_out_.begin(); it != handed_out_.end();) {
    std::erase_if(it->second, [&](const Handout& h) { return h.expires <= now; });
    it = it->second.empty() ? handed_out_.erase(it) : std::next(it);
  }
}

Allowlist::Verdict Allowlist::check_connect(const IpAddress& addr, uint16_t port,
                                            TimePoint now) const {
  const IpAddress a = addr.unmapped();
  const std::string where = endpoint(addr, port);
  auto port_ok = [&](const AddressRule& r) { return !r.port || *r.port == port; };

  if (const Range* special = find_range(special_ranges(), a)) {
    for (const AddressRule& r : addresses_) {
      if (r.contains(a) && port_ok(r) && rule_inside(r, *special)) {
        return {true, "",
                "allowed: " + where + " by address rule " + r.to_string() + with_source(r.source)};
      }
    }
    return {false, "",
            "refused: " + where + " is " + special->what +
                " address (only an address rule naming it explicitly allows it)"};
  }
  for (const AddressRule& r : addresses_) {
    if (r.contains(a) && port_ok(r)) {
      return {true, "",
              "allowed: " + where + " by address rule " + r.to_string() + with_source(r.source)};
    }
  }

  const auto it = handed_out_.find(a);
  if (learning_) {
    // The name it was resolved for, if any, so the learned rule can name the host.
    std::string name;
    if (it != handed_out_.end() && !it->second.empty()) name = it->second.front().name;
    return {true, name, "allowed: " + where + " (moat learn: any host, recorded)"};
  }
  if (it == handed_out_.end()) {
    return {false, "", "refused: " + where + " was not handed out for an allowed name"};
  }
  const Handout* wrong_port = nullptr;
  const Handout* rebinding = nullptr;
  const Handout* expired = nullptr;
  const Range* priv = find_range(private_ranges(), a);
  for (const Handout& h : it->second) {
    if (h.expires <= now) {
      expired = &h;
      continue;
    }
    const HostRule* rule = match_name_port(h.name, port);
    if (rule == nullptr) {
      wrong_port = &h;
      continue;
    }
    if (priv != nullptr && !h.pinned) {
      rebinding = &h;
      continue;
    }
    return {true, h.name,
            "allowed: " + h.name + ":" + std::to_string(port) + with_source(rule->source)};
  }
  if (rebinding != nullptr) {
    return {false, rebinding->name,
            "refused: " + where + " is a " + priv->what + " address handed out for " +
                rebinding->name +
                " (possible DNS rebinding; allow it with an explicit address rule if intended)"};
  }
  if (wrong_port != nullptr) {
    return {false, wrong_port->name,
            "refused: " + where + " was handed out for " + wrong_port->name +
                ", which is not allowed on port " + std::to_string(port)};
  }
  if (expired == nullptr) {
    return {false, "", "refused: " + where + " was not handed out for an allowed name"};
  }
  return {false, expired->name,
          "refused: " + where + " was handed out for " + expired->name + " but its TTL expired"};
}

std::vector<std::optional<uint16_t>> Allowlist::handout_ports(std::string_view name,
                                                              const IpAddress& addr) const {
  std::vector<std::optional<uint16_t>> ports;
  Result<std::string> n = policy::normalize_host_name(name);
  if (!n || match_name(*n) == nullptr) return ports;
  const IpAddress a = addr.unmapped();
  if (find_range(special_ranges(), a) != nullptr) return ports;
  if (find_range(private_ranges(), a) != nullptr) {
    const std::vector<IpAddress> pinned = static_hosts(*n);
    if (std::none_of(pinned.begin(), pinned.end(),
                     [&](const IpAddress& p) { return p.unmapped() == a; })) {
      return ports;  // rebinding: check_connect() refuses it too
    }
  }
  for (const HostRule& rule : hosts_) {
    if (!pattern_matches(rule.pattern, *n)) continue;
    if (!rule.port) return {std::nullopt};
    if (std::find(ports.begin(), ports.end(), rule.port) == ports.end()) ports.push_back(rule.port);
  }
  return ports;
}

std::optional<IpAddress> Allowlist::static_host(std::string_view name) const {
  std::vector<IpAddress> all = static_hosts(name);
  if (all.empty()) return std::nullopt;
  return all.front();
}

std::vector<IpAddress> Allowlist::static_hosts(std::string_view name) const {
  std::vector<IpAddress> out;
  Result<std::string> n = policy::normalize_host_name(name);
  if (!n) return out;
  for (const auto& [host, addr] : static_hosts_) {
    if (host == *n) out.push_back(addr);
  }
  return out;
}

}  // namespace moat::gate
