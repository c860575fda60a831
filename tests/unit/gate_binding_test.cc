// decide_binding: the name a relayed connection carries must be the name its address was handed
// out for. Real ClientHello bytes come from the SNI test's capture helpers where possible; HTTP
// heads are written out.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "sandboxd/gate/relay.h"
#include "sandboxd/gate/relay_engine.h"

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
  // High bit set but not an SSLv2 hello (message type 2): other bytes too.
  const std::uint8_t not_hello[] = {0x80, 0x05, 0x02, 0, 0};
  EXPECT_EQ(decide_binding(not_hello, "registry.test").binding, Binding::kAllowed);
}

// An SSLv2-compatible ClientHello carries no SNI: TLS without a name, never "other" bytes.
TEST(Binding, Sslv2HelloIsRefused) {
  const std::uint8_t hello[] = {0x80, 0x2e, 0x01, 0x03, 0x01, 0, 0};
  EXPECT_EQ(decide_binding(std::span(hello, 2), "registry.test").binding, Binding::kNeedMore);
  BindingDecision d = decide_binding(hello, "registry.test");
  EXPECT_EQ(d.binding, Binding::kRefused);
  EXPECT_EQ(d.protocol, "tls");
  EXPECT_NE(d.reason.find("SSLv2"), std::string::npos) << d.reason;
}

}  // namespace
}  // namespace moat::gate

namespace moat::gate {
namespace {

// The relay engine over socketpairs: what the client sends, what reaches the upstream side.
struct RelayRun {
  std::string upstream_got;
  std::vector<BindingDecision> decisions;
};

RelayRun run_relay(const std::string& client_sends, const std::string& name) {
  int client[2], upstream[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, upstream), 0);
  auto engine = RelayEngine::create();
  EXPECT_TRUE(engine.ok());
  RelayRun run;
  std::mutex mu;  // the hook runs on the relay's thread
  EXPECT_TRUE((*engine)
                  ->add(sys::UniqueFd(client[1]), sys::UniqueFd(upstream[1]), name,
                        [&](const BindingDecision& d) {
                          std::lock_guard<std::mutex> lock(mu);
                          run.decisions.push_back(d);
                        })
                  .ok());
  EXPECT_EQ(::send(client[0], client_sends.data(), client_sends.size(), 0),
            static_cast<ssize_t>(client_sends.size()));
  ::shutdown(client[0], SHUT_WR);
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(upstream[0], buf, sizeof(buf), 0)) > 0) run.upstream_got.append(buf, n);
  ::shutdown(upstream[0], SHUT_RDWR);  // the "server" is done: lets the down direction end
  for (int i = 0; i < 2000 && (*engine)->active() > 0; ++i) ::usleep(1000);
  EXPECT_EQ((*engine)->active(), 0u);
  (*engine)->stop();
  for (int fd : {client[0], upstream[0]}) ::close(fd);
  return run;
}

TEST(Relay, EveryPipelinedHttpRequestIsChecked) {
  const std::string good1 = "GET /a HTTP/1.1\r\nHost: registry.test\r\n\r\n";
  const std::string good2 =
      "POST /b HTTP/1.1\r\nHost: registry.test\r\nContent-Length: 9\r\n\r\nGET /x\r\n\r\n";
  const std::string evil = "GET /c HTTP/1.1\r\nHost: evil.test\r\n\r\n";
  RelayRun run = run_relay(good1 + good2 + evil, "registry.test");
  EXPECT_NE(run.upstream_got.find("GET /a"), std::string::npos);
  EXPECT_NE(run.upstream_got.find("POST /b"), std::string::npos);
  EXPECT_EQ(run.upstream_got.find("evil.test"), std::string::npos) << run.upstream_got;
  ASSERT_FALSE(run.decisions.empty());
  EXPECT_EQ(run.decisions.back().binding, Binding::kRefused);
}

TEST(Relay, ChunkedBodiesAreSkippedNotParsedAsRequests) {
  // The body contains text that looks like a request head: it is body, not a request.
  const std::string chunked =
      "PUT /u HTTP/1.1\r\nHost: registry.test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "23\r\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n\r\n0\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: registry.test\r\n\r\n";
  RelayRun run = run_relay(chunked, "registry.test");
  EXPECT_NE(run.upstream_got.find("GET /next"), std::string::npos) << run.upstream_got;
  for (const BindingDecision& d : run.decisions) EXPECT_NE(d.binding, Binding::kRefused);
}

TEST(Relay, TlsWithAnotherNameNeverReachesUpstream) {
  auto hello = client_hello("collector.test");
  RelayRun run = run_relay(std::string(hello.begin(), hello.end()), "registry.test");
  EXPECT_TRUE(run.upstream_got.empty());
  ASSERT_EQ(run.decisions.size(), 1u);
  EXPECT_EQ(run.decisions[0].binding, Binding::kRefused);
}

}  // namespace
}  // namespace moat::gate
