// Unit tests for the network gate's allowlist (rule parsing, name match, connect check, expiry,
// special and private ranges) and for upstream resolution with static hosts and /etc/hosts only.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include "sandboxd/gate/allowlist.h"
#include "sandboxd/gate/resolver.h"

namespace moat::gate {
namespace {

using std::chrono::seconds;

IpAddress ip(std::string_view text) {
  Result<IpAddress> a = IpAddress::parse(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? *a : IpAddress{};
}

Allowlist from_rules(std::initializer_list<const char*> rules) {
  Allowlist list;
  int line = 1;
  for (const char* text : rules) {
    Result<AllowRule> r = parse_allow_rule(text, "profile:" + std::to_string(line++));
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
    if (r.ok()) list.add(std::move(*r));
  }
  return list;
}

const TimePoint kT0 = TimePoint{} + std::chrono::hours(100);

TEST(GateAllowlist, IpAddressParseAndFormat) {
  EXPECT_EQ(ip("10.77.0.2").to_string(), "10.77.0.2");
  EXPECT_EQ(ip("2001:DB8:0:0::1").to_string(), "2001:db8::1");
  EXPECT_EQ(ip("::ffff:127.0.0.1").unmapped(), ip("127.0.0.1"));
  EXPECT_EQ(ip("::ffff:127.0.0.1").family, IpAddress::Family::kV6);
  EXPECT_EQ(ip("2001:db8::1").unmapped(), ip("2001:db8::1"));
  for (const char* bad : {"", "1.2.3", "1.2.3.256", "01.2.3.4", "fe80::1%eth0", "1.2.3.4 ", "x"}) {
    EXPECT_FALSE(IpAddress::parse(bad).ok()) << bad;
  }
}

TEST(GateAllowlist, ParsesGoodRules) {
  struct Good {
    const char* text;
    const char* shown;  // pattern[:port] for hosts, to_string() for addresses
  };
  const Good good[] = {
      {"example.org", "example.org"},
      {"Example.ORG.", "example.org"},
      {"*.example.org", "*.example.org"},
      {"*.example.org:443", "*.example.org:443"},
      {"registry.example.test:443", "registry.example.test:443"},
      {"_acme-challenge.example.org", "_acme-challenge.example.org"},
      {"localhost", "localhost"},
      {" example.org ", "example.org"},
      {"10.77.0.2", "10.77.0.2"},
      {"10.77.0.2:5432", "10.77.0.2:5432"},
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"10.0.0.0/8:443", "10.0.0.0/8:443"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"2001:db8::1", "2001:db8::1"},
      {"[2001:db8::1]", "2001:db8::1"},
      {"[2001:db8::1]:443", "[2001:db8::1]:443"},
      {"2001:db8::/32", "2001:db8::/32"},
      {"[2001:db8::/32]:443", "[2001:db8::/32]:443"},
      {"::ffff:10.0.0.0/104", "10.0.0.0/8"},  // IPv4-mapped CIDR becomes IPv4
  };
  for (const Good& g : good) {
    Result<AllowRule> r = parse_allow_rule(g.text, "test");
    ASSERT_TRUE(r.ok()) << g.text << ": " << r.error().message;
    std::string shown;
    if (const auto* h = std::get_if<HostRule>(&*r)) {
      shown = h->pattern + (h->port ? ":" + std::to_string(*h->port) : "");
      EXPECT_EQ(h->source, "test");
    } else if (const auto* a = std::get_if<AddressRule>(&*r)) {
      shown = a->to_string();
      EXPECT_EQ(a->source, "test");
    }
    EXPECT_EQ(shown, g.shown) << g.text;
  }
  Result<AllowRule> s = parse_allow_rule("db.internal:5432=10.77.0.2", "flag");
  ASSERT_TRUE(s.ok());
  const auto& st = std::get<StaticHostRule>(*s);
  EXPECT_EQ(st.host.pattern, "db.internal");
  EXPECT_EQ(st.host.port, 5432);
  EXPECT_EQ(st.host.source, "flag");
  EXPECT_EQ(st.address, ip("10.77.0.2"));
  Result<AllowRule> s6 = parse_allow_rule("v6.internal=[2001:db8::5]", "flag");
  ASSERT_TRUE(s6.ok());
  EXPECT_EQ(std::get<StaticHostRule>(*s6).address, ip("2001:db8::5"));
}

TEST(GateAllowlist, RejectsBadRulesWithClearErrors) {
  struct Bad {
    const char* text;
    const char* error;
  };
  const Bad bad[] = {
      {"", "empty allow rule"},
      {"   ", "empty allow rule"},
      {"example.org:", "missing port after ':'"},
      {"example.org:0", "bad port '0' (expected 1-65535)"},
      {"example.org:65536", "bad port '65536'"},
      {"example.org:https", "bad port 'https'"},
      {"example.org:443:1", "bad port '443:1'"},
      {"10.0.0.0/33", "bad prefix length '33' (IPv4 allows 0-32)"},
      {"10.0.0.0/", "missing prefix length after '/'"},
      {"2001:db8::/129", "bad prefix length '129' (IPv6 allows 0-128)"},
      {"10.0.0.1/8", "has bits set outside the /8 prefix (did you mean 10.0.0.0/8?)"},
      {"10.0.0.256", "bad IP address '10.0.0.256'"},
      {"10.0.0", "bad IP address '10.0.0'"},
      {"example.org/8", "bad IP address 'example.org'"},
      {"[10.0.0.1]:80", "brackets are only for IPv6 addresses"},
      {"[2001:db8::1:443", "missing ']'"},
      {"[2001:db8::1]443", "unexpected '443' after ']'"},
      {"2001:db8::zz", "an IPv6 address with a port goes in brackets"},
      {"*", "'*' alone would allow every name"},
      {"foo.*.example.org", "wildcard '*' is only allowed as the whole first label"},
      {"*example.org", "wildcard '*' is only allowed as the whole first label"},
      {"*.*.example.org", "wildcard '*' is only allowed as the whole first label"},
      {"a..example.org", "empty label"},
      {"b\xc3\xbc"
       "cher.de",
       "non-ASCII"},
      {"exa mple.org", "invalid character ' '"},
  };
  for (const Bad& b : bad) {
    Result<AllowRule> r = parse_allow_rule(b.text, "test");
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(b.error), std::string::npos)
        << b.text << " -> " << r.error().message;
    if (*b.text != '\0' && std::string_view(b.text).find_first_not_of(' ') != std::string::npos) {
      EXPECT_NE(r.error().message.find("bad allow rule '"), std::string::npos) << b.text;
    }
  }
  const std::string long_label = std::string(64, 'a') + ".org";
  EXPECT_NE(parse_allow_rule(long_label, "t").error().message.find("is too long (64 characters"),
            std::string::npos);
  std::string long_name;
  for (int i = 0; i < 30; ++i) long_name += "abcdefghi.";
  long_name += "org";
  EXPECT_NE(parse_allow_rule(long_name, "t").error().message.find("name too long (303 characters"),
            std::string::npos);
  EXPECT_NE(parse_allow_rule("*.db=10.0.0.1", "t").error().message.find("cannot be a wildcard"),
            std::string::npos);
  EXPECT_NE(parse_allow_rule("db=10.0.0", "t").error().message.find("bad IP address"),
            std::string::npos);
}

TEST(GateAllowlist, WildcardMatchesSubdomainsNotApex) {
  Allowlist list = from_rules({"*.example.org", "exact.test"});
  EXPECT_NE(list.match_name("a.example.org"), nullptr);
  EXPECT_NE(list.match_name("a.b.example.org"), nullptr);
  EXPECT_EQ(list.match_name("example.org"), nullptr);
  EXPECT_EQ(list.match_name("badexample.org"), nullptr);
  EXPECT_EQ(list.match_name("example.org.evil.test"), nullptr);
  EXPECT_NE(list.match_name("exact.test"), nullptr);
  EXPECT_EQ(list.match_name("sub.exact.test"), nullptr);
  EXPECT_EQ(list.match_name(""), nullptr);
  EXPECT_EQ(list.match_name("a b.example.org"), nullptr);
  const HostRule* r = list.match_name("x.example.org");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->source, "profile:1");
}

TEST(GateAllowlist, NamesAreCaseInsensitiveAndIgnoreTrailingDot) {
  Allowlist list = from_rules({"Registry.EXAMPLE.test."});
  EXPECT_NE(list.match_name("registry.example.test"), nullptr);
  EXPECT_NE(list.match_name("REGISTRY.example.TEST."), nullptr);
  EXPECT_EQ(list.match_name("registry.example.test.."), nullptr);
  list.record_resolution("REGISTRY.EXAMPLE.TEST.", {ip("203.0.113.35")}, 300, kT0);
  Allowlist::Verdict v = list.check_connect(ip("203.0.113.35"), 443, kT0);
  EXPECT_TRUE(v.allowed) << v.reason;
  EXPECT_EQ(v.name, "registry.example.test");
}

TEST(GateAllowlist, HandedOutAddressOnAllowedPortOnly) {
  Allowlist list = from_rules({"example.org:443", "api.example.org"});
  list.record_resolution("example.org", {ip("93.184.216.34"), ip("2606:2800:220:1::1")}, 300, kT0);
  Allowlist::Verdict ok = list.check_connect(ip("93.184.216.34"), 443, kT0 + seconds(1));
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.name, "example.org");
  EXPECT_EQ(ok.reason, "allowed: example.org:443 (profile:1)");
  EXPECT_TRUE(list.check_connect(ip("2606:2800:220:1::1"), 443, kT0).allowed);

  Allowlist::Verdict port = list.check_connect(ip("93.184.216.34"), 22, kT0);
  EXPECT_FALSE(port.allowed);
  EXPECT_EQ(port.reason,
            "refused: 93.184.216.34:22 was handed out for example.org, which is not allowed on "
            "port 22");

  Allowlist::Verdict unknown = list.check_connect(ip("10.1.2.3"), 22, kT0);
  EXPECT_FALSE(unknown.allowed);
  EXPECT_EQ(unknown.reason, "refused: 10.1.2.3:22 was not handed out for an allowed name");
  EXPECT_FALSE(list.check_connect(ip("93.184.216.35"), 443, kT0).allowed);

  // A name without a port rule is allowed on every port.
  list.record_resolution("api.example.org", {ip("93.184.216.99")}, 300, kT0);
  EXPECT_TRUE(list.check_connect(ip("93.184.216.99"), 8443, kT0).allowed);
  // Names that match no rule are not remembered.
  list.record_resolution("evil.test", {ip("203.0.113.9")}, 300, kT0);
  EXPECT_FALSE(list.check_connect(ip("203.0.113.9"), 443, kT0).allowed);
  // IPv4-mapped form of a handed-out IPv4 address is the same destination.
  EXPECT_TRUE(list.check_connect(ip("::ffff:93.184.216.34"), 443, kT0).allowed);
}

TEST(GateAllowlist, SharedAddressAllowsThePortOfAnyName) {
  // Two names on one CDN address: one allowed on 443 only, the other on 80.
  Allowlist list = from_rules({"a.example:443", "b.example:80"});
  list.record_resolution("a.example", {ip("198.51.100.7")}, 300, kT0);
  list.record_resolution("b.example", {ip("198.51.100.7")}, 300, kT0);
  EXPECT_EQ(list.check_connect(ip("198.51.100.7"), 443, kT0).name, "a.example");
  EXPECT_EQ(list.check_connect(ip("198.51.100.7"), 80, kT0).name, "b.example");
  EXPECT_FALSE(list.check_connect(ip("198.51.100.7"), 22, kT0).allowed);
}

TEST(GateAllowlist, AddressAndCidrRules) {
  Allowlist list =
      from_rules({"203.0.113.0/24:443", "198.51.100.9", "[2001:db8::/32]:443", "2001:db8:ffff::1"});
  Allowlist::Verdict v = list.check_connect(ip("203.0.113.77"), 443, kT0);
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.reason, "allowed: 203.0.113.77:443 by address rule 203.0.113.0/24:443 (profile:1)");
  EXPECT_EQ(v.name, "");
  EXPECT_FALSE(list.check_connect(ip("203.0.113.77"), 80, kT0).allowed);
  EXPECT_FALSE(list.check_connect(ip("203.0.114.1"), 443, kT0).allowed);
  EXPECT_TRUE(list.check_connect(ip("198.51.100.9"), 1, kT0).allowed);
  EXPECT_FALSE(list.check_connect(ip("198.51.100.10"), 1, kT0).allowed);
  EXPECT_TRUE(list.check_connect(ip("2001:db8:1234::5"), 443, kT0).allowed);
  EXPECT_FALSE(list.check_connect(ip("2001:db9::5"), 443, kT0).allowed);
  EXPECT_TRUE(list.check_connect(ip("2001:db8:ffff::1"), 22, kT0).allowed);
  EXPECT_FALSE(list.check_connect(ip("2001:db8:ffff::2"), 22, kT0).allowed);
  EXPECT_TRUE(list.check_connect(ip("::ffff:203.0.113.1"), 443, kT0).allowed);
  Allowlist::Verdict v6 = list.check_connect(ip("2001:db8::1"), 80, kT0);
  EXPECT_EQ(v6.reason, "refused: [2001:db8::1]:80 was not handed out for an allowed name");
}

TEST(GateAllowlist, HandedOutAddressesExpire) {
  Allowlist list = from_rules({"example.org"});
  list.record_resolution("example.org", {ip("93.184.216.34")}, 5, kT0);  // clamped to 60 s
  EXPECT_TRUE(list.check_connect(ip("93.184.216.34"), 443, kT0 + seconds(59)).allowed);
  Allowlist::Verdict late = list.check_connect(ip("93.184.216.34"), 443, kT0 + seconds(60));
  EXPECT_FALSE(late.allowed);
  EXPECT_EQ(late.reason,
            "refused: 93.184.216.34:443 was handed out for example.org but its TTL "
            "expired");
  // A fresh answer renews it.
  list.record_resolution("example.org", {ip("93.184.216.34")}, 120, kT0 + seconds(100));
  EXPECT_TRUE(list.check_connect(ip("93.184.216.34"), 443, kT0 + seconds(219)).allowed);
  EXPECT_FALSE(list.check_connect(ip("93.184.216.34"), 443, kT0 + seconds(220)).allowed);
  // TTLs above an hour are clamped.
  list.record_resolution("example.org", {ip("93.184.216.35")}, 86400, kT0);
  EXPECT_TRUE(list.check_connect(ip("93.184.216.35"), 443, kT0 + seconds(3599)).allowed);
  EXPECT_FALSE(list.check_connect(ip("93.184.216.35"), 443, kT0 + seconds(3600)).allowed);
}

TEST(GateAllowlist, ExpiredEntriesArePruned) {
  Allowlist list = from_rules({"*.example.org"});
  for (int i = 0; i < 3000; ++i) {
    const IpAddress a =
        IpAddress::v4({198, 18, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i & 0xFF)});
    list.record_resolution("h" + std::to_string(i) + ".example.org", {a}, 60,
                           kT0 + seconds(i * 10));
  }
  // With one new address every 10 s and a 60 s TTL, only a handful are alive at any time.
  EXPECT_LE(list.handed_out_count(), 1025u);
}

TEST(GateAllowlist, SpecialAddressesRefusedEvenUnderBroadRules) {
  Allowlist list = from_rules({"0.0.0.0/0", "::/0", "evil.example"});
  list.record_resolution("evil.example", {ip("127.0.0.1"), ip("169.254.169.254"), ip("::1")}, 300,
                         kT0);
  struct Case {
    const char* addr;
    const char* what;
  };
  const Case cases[] = {
      {"127.0.0.1", "is a loopback address"},
      {"127.1.2.3", "is a loopback address"},
      {"::1", "is a loopback address"},
      {"::ffff:127.0.0.1", "is a loopback address"},
      {"169.254.169.254", "is a link-local (cloud metadata) address"},
      {"::ffff:169.254.169.254", "is a link-local (cloud metadata) address"},
      {"64:ff9b::a9fe:a9fe", "is a link-local (cloud metadata) address"},  // NAT64
      {"fe80::1", "is a link-local address"},
      {"0.0.0.0", "is an unspecified (this-network) address"},
      {"::", "is an unspecified address"},
      {"224.0.0.251", "is a multicast address"},
      {"ff02::1", "is a multicast address"},
      {"255.255.255.255", "is a reserved or broadcast address"},
  };
  for (const Case& c : cases) {
    Allowlist::Verdict v = list.check_connect(ip(c.addr), 80, kT0);
    EXPECT_FALSE(v.allowed) << c.addr;
    EXPECT_NE(v.reason.find(c.what), std::string::npos) << c.addr << ": " << v.reason;
  }
  // Broad rules still work for ordinary addresses.
  EXPECT_TRUE(list.check_connect(ip("8.8.8.8"), 53, kT0).allowed);
}

TEST(GateAllowlist, SpecialAddressesNeedAnExplicitRule) {
  Allowlist list = from_rules({"127.0.0.1:8080", "169.254.0.0/16:80", "[::1]:5432"});
  EXPECT_TRUE(list.check_connect(ip("127.0.0.1"), 8080, kT0).allowed);
  EXPECT_TRUE(list.check_connect(ip("::ffff:127.0.0.1"), 8080, kT0).allowed);
  EXPECT_FALSE(list.check_connect(ip("127.0.0.1"), 8081, kT0).allowed);
  EXPECT_FALSE(list.check_connect(ip("127.0.0.2"), 8080, kT0).allowed);
  EXPECT_TRUE(list.check_connect(ip("169.254.169.254"), 80, kT0).allowed);
  EXPECT_TRUE(list.check_connect(ip("::1"), 5432, kT0).allowed);
  // A CIDR that merely contains loopback is not explicit.
  Allowlist broad = from_rules({"96.0.0.0/3"});
  EXPECT_TRUE(broad.check_connect(ip("100.0.0.1"), 80, kT0).allowed);
  EXPECT_FALSE(broad.check_connect(ip("127.0.0.1"), 80, kT0).allowed);
}

TEST(GateAllowlist, RebindingToPrivateAddressRefused) {
  Allowlist list = from_rules({"example.org:443"});
  list.record_resolution(
      "example.org",
      {ip("10.0.0.5"), ip("192.168.1.1"), ip("fd00::1"), ip("100.64.0.1"), ip("172.16.0.1")}, 300,
      kT0);
  for (const char* a :
       {"10.0.0.5", "192.168.1.1", "fd00::1", "100.64.0.1", "172.16.0.1", "::ffff:10.0.0.5"}) {
    Allowlist::Verdict v = list.check_connect(ip(a), 443, kT0);
    EXPECT_FALSE(v.allowed) << a;
    EXPECT_NE(v.reason.find("handed out for example.org (possible DNS rebinding"),
              std::string::npos)
        << v.reason;
    EXPECT_EQ(v.name, "example.org");
  }
  // An explicit address rule allows it.
  Allowlist explicit_rule = from_rules({"example.org:443", "10.0.0.0/8:443"});
  explicit_rule.record_resolution("example.org", {ip("10.0.0.5")}, 300, kT0);
  EXPECT_TRUE(explicit_rule.check_connect(ip("10.0.0.5"), 443, kT0).allowed);
  // So does pinning the name with a static host: the user said where it lives.
  Allowlist pinned = from_rules({"db.internal:5432=10.77.0.2"});
  pinned.record_resolution("db.internal", {ip("10.77.0.2")}, 300, kT0);
  Allowlist::Verdict v = pinned.check_connect(ip("10.77.0.2"), 5432, kT0);
  EXPECT_TRUE(v.allowed) << v.reason;
  EXPECT_EQ(v.reason, "allowed: db.internal:5432 (profile:1)");
  EXPECT_FALSE(pinned.check_connect(ip("10.77.0.2"), 22, kT0).allowed);
  // But a static host cannot smuggle in loopback.
  Allowlist loop = from_rules({"db=127.0.0.1"});
  loop.record_resolution("db", {ip("127.0.0.1")}, 300, kT0);
  EXPECT_FALSE(loop.check_connect(ip("127.0.0.1"), 5432, kT0).allowed);
}

TEST(GateAllowlist, StaticHosts) {
  Allowlist list;
  list.add_static_host("DB.Internal", ip("10.77.0.2"));
  list.add_static_host("db.internal", ip("2001:db8::2"));
  // A mapping only (like docker's --add-host): the name is not allowed by it.
  EXPECT_EQ(list.match_name("db.internal"), nullptr);
  list.record_resolution("db.internal", {ip("10.77.0.2")}, 300, kT0);
  EXPECT_FALSE(list.check_connect(ip("10.77.0.2"), 5432, kT0).allowed);
  list.add(std::get<HostRule>(*parse_allow_rule("db.internal", "test")));
  EXPECT_NE(list.match_name("db.internal"), nullptr);
  EXPECT_EQ(list.static_host("db.internal."), ip("10.77.0.2"));
  EXPECT_EQ(list.static_hosts("DB.INTERNAL").size(), 2u);
  EXPECT_FALSE(list.static_host("other.internal").has_value());
}

TEST(GateResolver, StaticHostsWinAndStayLocal) {
  Allowlist list = from_rules(
      {"db.internal=10.77.0.2", "db.internal=[2001:db8::2]", "v4only.internal=10.77.0.3"});
  Result<Resolution> v4 = resolve_upstream("DB.internal", false, list);
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  ASSERT_EQ(v4->addrs.size(), 1u);
  EXPECT_EQ(v4->addrs[0], ip("10.77.0.2"));
  Result<Resolution> v6 = resolve_upstream("db.internal", true, list);
  ASSERT_TRUE(v6.ok());
  ASSERT_EQ(v6->addrs.size(), 1u);
  EXPECT_EQ(v6->addrs[0], ip("2001:db8::2"));
  // Pinned without IPv6: NODATA, and nothing goes upstream.
  Result<Resolution> none = resolve_upstream("v4only.internal", true, list);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->addrs.empty());
}

TEST(GateResolver, LocalhostFromEtcHosts) {
  Allowlist list = from_rules({"localhost"});
  Result<Resolution> r = resolve_upstream("localhost", false, list);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_FALSE(r->addrs.empty());
  EXPECT_EQ(r->addrs[0], ip("127.0.0.1"));
  EXPECT_EQ(r->ttl, kUpstreamTtl);
  // Resolving it does not make host loopback reachable.
  list.record_resolution("localhost", r->addrs, r->ttl, kT0);
  EXPECT_FALSE(list.check_connect(r->addrs[0], 80, kT0).allowed);
}

TEST(GateResolverDeathTest, RefusedNameIsNeverResolved) {
  Allowlist list = from_rules({"example.org"});
  EXPECT_DEBUG_DEATH(
      {
        Result<Resolution> r = resolve_upstream("localhost", false, list);
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
      },
      "name the allowlist refused");
}

// What the kernel layer mirrors of a handout: the same verdict as check_connect(), per port.
TEST(GateAllowlist, HandoutPortsMatchTheConnectCheck) {
  Allowlist list = from_rules({"registry.example.test:443", "registry.example.test:8443",
                               "any.example.test", "pinned.example.test"});
  list.add_static_host("pinned.example.test", ip("10.1.2.3"));
  using Ports = std::vector<std::optional<uint16_t>>;
  EXPECT_EQ(list.handout_ports("registry.example.test", ip("203.0.113.5")), (Ports{443, 8443}));
  EXPECT_EQ(list.handout_ports("ANY.example.test.", ip("203.0.113.6")), (Ports{std::nullopt}));
  // Names not allowed, special addresses and rebinding answers give the kernel nothing.
  EXPECT_TRUE(list.handout_ports("other.example.test", ip("203.0.113.7")).empty());
  EXPECT_TRUE(list.handout_ports("any.example.test", ip("127.0.0.1")).empty());
  EXPECT_TRUE(list.handout_ports("any.example.test", ip("169.254.169.254")).empty());
  EXPECT_TRUE(list.handout_ports("any.example.test", ip("::ffff:10.0.0.1")).empty());
  EXPECT_TRUE(list.handout_ports("any.example.test", ip("192.168.1.1")).empty());
  // A static host may pin a private address (the user's own statement).
  EXPECT_EQ(list.handout_ports("pinned.example.test", ip("10.1.2.3")), (Ports{std::nullopt}));
}

}  // namespace
}  // namespace moat::gate

namespace moat::gate {
namespace {

// `moat learn`: every host is allowed and named, but the special ranges stay closed.
TEST(GateAllowlist, LearningAllowsAnyHostButNotSpecialAddresses) {
  Allowlist list;
  EXPECT_EQ(list.match_name("anything.test"), nullptr);
  list.set_learning(true);
  ASSERT_NE(list.match_name("anything.test"), nullptr);
  EXPECT_EQ(list.match_name("not a name"), nullptr);
  list.record_resolution("anything.test", {ip("10.77.0.2")}, 300, kT0);
  Allowlist::Verdict named = list.check_connect(ip("10.77.0.2"), 8443, kT0);
  EXPECT_TRUE(named.allowed) << named.reason;
  EXPECT_EQ(named.name, "anything.test");
  EXPECT_TRUE(list.check_connect(ip("93.184.216.34"), 22, kT0).allowed);
  EXPECT_FALSE(list.check_connect(ip("169.254.169.254"), 80, kT0).allowed);
  EXPECT_FALSE(list.check_connect(ip("127.0.0.1"), 22, kT0).allowed);
}

}  // namespace
}  // namespace moat::gate
