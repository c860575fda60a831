// decide_binding: the name a relayed connection carries must be the name its address was handed
// out for. Real ClientHello bytes come from the SNI test's capture helpers where possible; HTTP
// heads are written out.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "sandboxd/gate/relay.h"

namespace moat::gate {
namespace {

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

// A minimal TLS 1.2 ClientHello with one server_name entry (or none).
std::vector<std::uint8_t> client_hello(const std::string& sni) {
  std::vector<std::uint8_t> ext;
  if (!sni.empty()) {
    const auto n = static_cast<std::uint16_t>(sni.size());
    std::vector<std::uint8_t> list = {0, static_cast<std::uint8_t>(n >> 8),
                                      static_cast<std::uint8_t>(n)};
    list.insert(list.end(), sni.begin(), sni.end());
    const auto l = static_cast<std::uint16_t>(list.size());
    std::vector<std::uint8_t> data = {static_cast<std::uint8_t>(l >> 8),
                                      static_cast<std::uint8_t>(l)};
    data.insert(data.end(), list.begin(), list.end());
    const auto d = static_cast<std::uint16_t>(data.size());
    ext = {0, 0, static_cast<std::uint8_t>(d >> 8), static_cast<std::uint8_t>(d)};
    ext.insert(ext.end(), data.begin(), data.end());
  }
  std::vector<std::uint8_t> body = {0x03, 0x03};
  body.insert(body.end(), 32, 0x11);         // random
  body.push_back(0);                         // session id
  body.insert(body.end(), {0, 2, 0x13, 0x01});  // one cipher suite
  body.insert(body.end(), {1, 0});           // null compression
  const auto e = static_cast<std::uint16_t>(ext.size());
  body.push_back(static_cast<std::uint8_t>(e >> 8));
  body.push_back(static_cast<std::uint8_t>(e));
  body.insert(body.end(), ext.begin(), ext.end());
  const auto b = static_cast<std::uint32_t>(body.size());
  std::vector<std::uint8_t> hs = {1, static_cast<std::uint8_t>(b >> 16),
                                  static_cast<std::uint8_t>(b >> 8), static_cast<std::uint8_t>(b)};
  hs.insert(hs.end(), body.begin(), body.end());
  const auto h = static_cast<std::uint16_t>(hs.size());
  std::vector<std::uint8_t> rec = {0x16, 3, 1, static_cast<std::uint8_t>(h >> 8),
                                   static_cast<std::uint8_t>(h)};
  rec.insert(rec.end(), hs.begin(), hs.end());
  return rec;
}

TEST(Binding, TlsSniMustMatch) {
  EXPECT_EQ(decide_binding(client_hello("registry.test"), "registry.test").binding,
            Binding::kAllowed);
  BindingDecision d = decide_binding(client_hello("collector.test"), "registry.test");
  EXPECT_EQ(d.binding, Binding::kRefused);
  EXPECT_EQ(d.seen, "collector.test");
  EXPECT_EQ(decide_binding(client_hello(""), "registry.test").binding, Binding::kRefused)
      << "TLS without SNI cannot be bound to a name";
  EXPECT_EQ(decide_binding(client_hello("REGISTRY.test"), "registry.TEST").binding,
            Binding::kAllowed);
}

TEST(Binding, PartialHelloWaits) {
  auto hello = client_hello("registry.test");
  for (size_t n = 1; n < hello.size(); ++n) {
    EXPECT_EQ(decide_binding(std::span(hello.data(), n), "registry.test").binding,
              Binding::kNeedMore)
        << n;
  }
}

TEST(Binding, HttpHostMustMatch) {
  EXPECT_EQ(decide_binding(bytes("GET / HTTP/1.1\r\nHost: registry.test:8080\r\n\r\n"),
                           "registry.test")
                .binding,
            Binding::kAllowed);
  EXPECT_EQ(
      decide_binding(bytes("GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n"), "registry.test").binding,
      Binding::kRefused);
  EXPECT_EQ(decide_binding(bytes("GET / HTTP/1.1\r\nHost: registry.test\r\nHost: evil.test\r\n\r\n"),
                           "registry.test")
                .binding,
            Binding::kRefused)
      << "two Host headers (request smuggling)";
  EXPECT_EQ(decide_binding(bytes("GET / HTTP/1.1\r\nHost: reg"), "registry.test").binding,
            Binding::kNeedMore);
  EXPECT_EQ(decide_binding(bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "registry.test").binding,
            Binding::kRefused);
}

TEST(Binding, OtherProtocolsAreBoundToTheAddressOnly) {
  BindingDecision d = decide_binding(bytes("SSH-2.0-OpenSSH_9.2\r\n"), "registry.test");
  EXPECT_EQ(d.binding, Binding::kAllowed);
  EXPECT_EQ(d.protocol, "other");
}

}  // namespace
}  // namespace moat::gate
