// Network rule grammar, shared by profile validation and the gate: IP addresses, host patterns,
// address rules (CIDR), static hosts, and the text forms of `network.allow` and --allow-host.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "policy/result.h"

namespace moat::policy {

// An IPv4 or IPv6 address as a value. IPv4 uses the first 4 bytes; the rest stay zero.
struct IpAddress {
  enum class Family : uint8_t { kV4 = 4, kV6 = 6 };
  Family family = Family::kV4;
  std::array<uint8_t, 16> bytes{};

  static IpAddress v4(const std::array<uint8_t, 4>& b);
  static IpAddress v6(const std::array<uint8_t, 16>& b);
  // "10.0.0.1", "2001:db8::1", "::ffff:10.0.0.1" (kept as IPv6; see unmapped()). No brackets,
  // no zone ids, no leading zeros in IPv4 parts.
  static Result<IpAddress> parse(std::string_view text);
  std::string to_string() const;  // canonical: "10.0.0.1", "2001:db8::1"
  size_t bit_width() const { return family == Family::kV4 ? 32 : 128; }
  // The IPv4 address embedded in an IPv4-mapped or NAT64 (64:ff9b::/96) IPv6 address, else itself.
  IpAddress unmapped() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

// "example.org" or "*.example.org" (any subdomain, not the apex), optionally with a port.
struct HostRule {
  std::string pattern;  // normalised: lowercase, no trailing dot
  std::optional<uint16_t> port;
  std::string source;  // where the rule came from, e.g. "profiles/npm.yaml:12" or "--allow"
};

// An address or a CIDR, optionally with a port.
struct AddressRule {
  IpAddress network;          // host bits are zero
  uint8_t prefix_length = 0;  // 32 / 128 for a single address
  std::optional<uint16_t> port;
  std::string source;

  bool contains(const IpAddress& addr) const;
  std::string to_string() const;  // "10.0.0.0/8:443", "[2001:db8::1]:443", "10.77.0.2"
};

// "name=ADDRESS" or "name:PORT=ADDRESS" (like docker's --add-host): the stub answers the name with
// this address without asking upstream, and the name is allowed (on PORT, or any port).
struct StaticHostRule {
  HostRule host;  // never a wildcard
  IpAddress address;
};

using AllowRule = std::variant<HostRule, AddressRule, StaticHostRule>;

// Parses one rule. Forms: example.org, *.example.org, 10.77.0.2, 10.0.0.0/8, 2001:db8::1,
// [2001:db8::1], 2001:db8::/32, each with an optional :PORT (IPv6 then in brackets:
// [2001:db8::1]:443, [2001:db8::/32]:443), and name[:PORT]=ADDRESS. Errors are kInvalidArgument
// and name the rule and what is wrong with it.
Result<AllowRule> parse_allow_rule(std::string_view text, std::string source);

// Validates and normalises a host name as written in a rule or asked by a client: ASCII only
// (IDNA is out of scope: write the xn-- form), lowercased, one trailing dot removed, labels of
// 1-63 letters, digits, '-' or '_', at most 253 characters, and a last label that is not all
// digits (that is an IPv4 address, not a name). The error message names the offending part.
Result<std::string> normalize_host_name(std::string_view name);

// Address helpers the gate's range tables share.
bool ip_prefix_equal(const IpAddress& a, const IpAddress& b, unsigned prefix);
IpAddress ip_zero_host_bits(IpAddress a, unsigned prefix);
bool ip_is_v4_mapped(const IpAddress& a);
// ::ffff:a.b.c.d/N (N >= 96) becomes the IPv4 rule a.b.c.d/(N-96); host bits cleared.
AddressRule normalize_address_rule(AddressRule rule);

// For profile validation: "" when `text` is a valid rule, else what is wrong with it.
std::string net_rule_error(std::string_view text);
// For `hosts:` and --add-host: "" when name and address are valid, else what is wrong.
std::string static_host_error(std::string_view name, std::string_view address);

}  // namespace moat::policy
