// The rule grammar (see net_rule.h): parsing and printing of addresses, names and rules.
// Pure: no system calls; errors name the rule and what is wrong with it.
#include "policy/net_rule.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace moat::policy {
namespace {

constexpr std::size_t kMaxNameLength = 253;
constexpr std::size_t kMaxLabelLength = 63;

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string hex_byte(uint8_t b) {
  static const char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[b >> 4] + kDigits[b & 15];
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<uint16_t> parse_port(std::string_view text) {
  if (text.empty()) return make_error(ErrorCode::kInvalidArgument, "missing port after ':'");
  unsigned value = 0;
  bool ok = text.size() <= 5 && all_digits(text);
  for (char c : text) {
    if (!ok) break;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (!ok || value == 0 || value > 65535) {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad port '" + std::string(text) + "' (expected 1-65535)");
  }
  return static_cast<uint16_t>(value);
}

// "ADDR" or "ADDR/PREFIX", of the given family when `want` is set.
Result<AddressRule> parse_network(std::string_view text, std::optional<IpAddress::Family> want) {
  const size_t slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  Result<IpAddress> addr = IpAddress::parse(addr_text);
  if (!addr) return addr.error();
  if (want && addr->family != *want) {
    return make_error(ErrorCode::kInvalidArgument,
                      *want == IpAddress::Family::kV6
                          ? "brackets are only for IPv6 addresses: write " +
                                std::string(addr_text) + " without them"
                          : "'" + std::string(addr_text) + "' is not an IPv4 address");
  }
  const unsigned width = static_cast<unsigned>(addr->bit_width());
  unsigned prefix = width;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    if (p.empty())
      return make_error(ErrorCode::kInvalidArgument, "missing prefix length after '/'");
    prefix = 0;
    bool ok = p.size() <= 3 && all_digits(p);
    for (char c : p) {
      if (!ok) break;
      prefix = prefix * 10 + static_cast<unsigned>(c - '0');
    }
    if (!ok || prefix > width) {
      return make_error(ErrorCode::kInvalidArgument,
                        "bad prefix length '" + std::string(p) + "' (" +
                            (width == 32 ? "IPv4 allows 0-32" : "IPv6 allows 0-128") + ")");
    }
  }
  const IpAddress network = ip_zero_host_bits(*addr, prefix);
  if (network != *addr) {
    return make_error(ErrorCode::kInvalidArgument,
                      "address " + addr->to_string() + " has bits set outside the /" +
                          std::to_string(prefix) + " prefix (did you mean " + network.to_string() +
                          "/" + std::to_string(prefix) + "?)");
  }
  AddressRule rule;
  rule.network = network;
  rule.prefix_length = static_cast<uint8_t>(prefix);
  return rule;
}

// "example.org" or "*.example.org", normalised.
Result<std::string> parse_host_pattern(std::string_view text) {
  std::string_view body = text;
  std::string prefix;
  if (body.starts_with("*.")) {
    body.remove_prefix(2);
    prefix = "*.";
  }
  if (text == "*") {
    return make_error(ErrorCode::kInvalidArgument,
                      "'*' alone would allow every name (write '*.example.org' for subdomains)");
  }
  if (body.find('*') != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "wildcard '*' is only allowed as the whole first label, as in "
                      "'*.example.org'");
  }
  Result<std::string> name = normalize_host_name(body);
  if (!name) return name.error();
  return prefix + *name;
}

// "name" or "name:PORT" (the host side of a host rule or static host).
Result<HostRule> parse_host_rule(std::string_view text) {
  HostRule rule;
  const size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    Result<uint16_t> port = parse_port(text.substr(colon + 1));
    if (!port) return port.error();
    rule.port = *port;
    text = text.substr(0, colon);
  }
  Result<std::string> pattern = parse_host_pattern(text);
  if (!pattern) return pattern.error();
  rule.pattern = std::move(*pattern);
  return rule;
}

Result<AllowRule> parse_rule_body(std::string_view text) {
  if (const size_t eq = text.find('='); eq != std::string_view::npos) {
    Result<HostRule> host = parse_host_rule(text.substr(0, eq));
    if (!host) return host.error();
    if (host->pattern.starts_with("*.")) {
      return make_error(ErrorCode::kInvalidArgument, "a static host cannot be a wildcard");
    }
    std::string_view addr_text = text.substr(eq + 1);
    if (addr_text.size() >= 2 && addr_text.front() == '[' && addr_text.back() == ']') {
      addr_text = addr_text.substr(1, addr_text.size() - 2);
    }
    Result<IpAddress> addr = IpAddress::parse(addr_text);
    if (!addr) return addr.error();
    return AllowRule(StaticHostRule{std::move(*host), *addr});
  }
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument, "missing ']' after the IPv6 address");
    }
    Result<AddressRule> rule = parse_network(text.substr(1, close - 1), IpAddress::Family::kV6);
    if (!rule) return rule.error();
    const std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return make_error(ErrorCode::kInvalidArgument,
                          "unexpected '" + std::string(after) + "' after ']' (expected :PORT)");
      }
      Result<uint16_t> port = parse_port(after.substr(1));
      if (!port) return port.error();
      rule->port = *port;
    }
    return AllowRule(*rule);
  }
  const std::string_view before_colon = text.substr(0, text.find(':'));
  const bool host_like = before_colon.find_first_not_of("0123456789abcdefABCDEF") !=
                         std::string_view::npos;  // "example.org:443:1", not "2001:db8::1"
  if (!host_like && std::count(text.begin(), text.end(), ':') >= 2) {  // bare IPv6, no port
    Result<AddressRule> rule = parse_network(text, IpAddress::Family::kV6);
    if (!rule) {
      return make_error(ErrorCode::kInvalidArgument,
                        rule.error().message +
                            " (an IPv6 address with a port goes in brackets: "
                            "[2001:db8::1]:443)");
    }
    return AllowRule(*rule);
  }
  std::optional<uint16_t> port;
  if (const size_t colon = text.find(':'); colon != std::string_view::npos) {
    Result<uint16_t> p = parse_port(text.substr(colon + 1));
    if (!p) return p.error();
    port = *p;
    text = text.substr(0, colon);
  }
  const bool looks_v4 = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == '/';
  });
  if (looks_v4 || text.find('/') != std::string_view::npos) {
    Result<AddressRule> rule = parse_network(text, IpAddress::Family::kV4);
    if (!rule) return rule.error();
    rule->port = port;
    return AllowRule(*rule);
  }
  Result<std::string> pattern = parse_host_pattern(text);
  if (!pattern) return pattern.error();
  return AllowRule(HostRule{std::move(*pattern), port, {}});
}

}  // namespace

bool ip_prefix_equal(const IpAddress& a, const IpAddress& b, unsigned prefix) {
  const unsigned full = prefix / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), full) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a.bytes[full] & mask) == (b.bytes[full] & mask);
}

IpAddress ip_zero_host_bits(IpAddress a, unsigned prefix) {
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned bit = i * 8;
    if (bit >= prefix) {
      a.bytes[i] = 0;
    } else if (prefix - bit < 8) {
      a.bytes[i] &= static_cast<uint8_t>(0xFF << (8 - (prefix - bit)));
    }
  }
  return a;
}

bool ip_is_v4_mapped(const IpAddress& a) {
  static constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return a.family == IpAddress::Family::kV6 &&
         std::equal(kMapped.begin(), kMapped.end(), a.bytes.begin());
}

// ::ffff:a.b.c.d/N (N >= 96) is the IPv4 rule a.b.c.d/(N-96); host bits are cleared.
AddressRule normalize_address_rule(AddressRule rule) {
  const unsigned width = static_cast<unsigned>(rule.network.bit_width());
  rule.prefix_length = static_cast<uint8_t>(std::min<unsigned>(rule.prefix_length, width));
  if (ip_is_v4_mapped(rule.network) && rule.prefix_length >= 96) {
    rule.network = rule.network.unmapped();
    rule.prefix_length = static_cast<uint8_t>(rule.prefix_length - 96);
  }
  rule.network = ip_zero_host_bits(rule.network, rule.prefix_length);
  return rule;
}

IpAddress IpAddress::v4(const std::array<uint8_t, 4>& b) {
  IpAddress a;
  a.family = Family::kV4;
  std::copy(b.begin(), b.end(), a.bytes.begin());
  return a;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& b) {
  IpAddress a;
  a.family = Family::kV6;
  a.bytes = b;
  return a;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad IP address '" + std::string(text.substr(0, 64)) + "'");
  };
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return bad();
  const std::string z(text);  // inet_pton needs a terminated string
  if (z.find('\0') != std::string::npos) return bad();
  IpAddress a;
  if (z.find(':') != std::string::npos) {
    a.family = Family::kV6;
    if (inet_pton(AF_INET6, z.c_str(), a.bytes.data()) != 1) return bad();
  } else {
    a.family = Family::kV4;
    if (inet_pton(AF_INET, z.c_str(), a.bytes.data()) != 1) return bad();
  }
  return a;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == Family::kV4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

IpAddress IpAddress::unmapped() const {
  if (!ip_is_v4_mapped(*this)) return *this;
  return v4({bytes[12], bytes[13], bytes[14], bytes[15]});
}

bool AddressRule::contains(const IpAddress& addr) const {
  const IpAddress a = addr.unmapped();
  return a.family == network.family && ip_prefix_equal(a, network, prefix_length);
}

std::string AddressRule::to_string() const {
  std::string net = network.to_string();
  if (prefix_length != network.bit_width()) net += "/" + std::to_string(prefix_length);
  if (!port) return net;
  if (network.family == IpAddress::Family::kV6) net = "[" + net + "]";
  return net + ":" + std::to_string(*port);
}

Result<AllowRule> parse_allow_rule(std::string_view text, std::string source) {
  std::string_view body = text;
  while (!body.empty() && (body.front() == ' ' || body.front() == '\t')) body.remove_prefix(1);
  while (!body.empty() && (body.back() == ' ' || body.back() == '\t')) body.remove_suffix(1);
  if (body.empty()) return make_error(ErrorCode::kInvalidArgument, "empty allow rule");
  Result<AllowRule> rule = parse_rule_body(body);
  if (!rule) {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad allow rule '" + std::string(body) + "': " + rule.error().message);
  }
  std::visit(
      [&](auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, StaticHostRule>) {
          r.host.source = std::move(source);
        } else if constexpr (std::is_same_v<T, AddressRule>) {
          r = normalize_address_rule(std::move(r));
          r.source = std::move(source);
        } else {
          r.source = std::move(source);
        }
      },
      *rule);
  return rule;
}

Result<std::string> normalize_host_name(std::string_view name) {
  auto fail = [&](std::string why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad host name '" + std::string(name) + "': " + std::move(why));
  };
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return fail(
          "non-ASCII character (internationalized names are not supported: write the "
          "xn-- punycode form)");
    }
  }
  std::string_view body = name;
  if (!body.empty() && body.back() == '.') body.remove_suffix(1);
  if (body.empty()) return fail("empty name");
  if (body.size() > kMaxNameLength) {
    return fail("name too long (" + std::to_string(body.size()) + " characters, at most " +
                std::to_string(kMaxNameLength) + ")");
  }
  std::string out = to_lower_ascii(body);
  std::string_view rest = out;
  std::string_view last;
  while (true) {
    const size_t dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    if (label.empty()) return fail("empty label");
    if (label.size() > kMaxLabelLength) {
      return fail("label '" + std::string(label.substr(0, 16)) + "...' is too long (" +
                  std::to_string(label.size()) + " characters, at most 63)");
    }
    for (char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok) {
        const std::string shown = (c >= 0x20 && c < 0x7F) ? std::string("'") + c + "'"
                                                          : hex_byte(static_cast<uint8_t>(c));
        return fail("invalid character " + shown +
                    " (allowed: letters, digits, '-', '_', and '.' between labels)");
      }
    }
    last = label;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fail("the last label '" + std::string(last) + "' is numeric (an address, not a name)");
  }
  return out;
}

std::string net_rule_error(std::string_view text) {
  auto rule = parse_allow_rule(text, {});
  return rule ? std::string() : rule.error().message;
}

std::string static_host_error(std::string_view name, std::string_view address) {
  auto n = normalize_host_name(name);
  if (!n) return n.error().message;
  auto a = IpAddress::parse(address);
  if (!a) return a.error().message;
  return {};
}

}  // namespace moat::policy
