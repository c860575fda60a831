// RelayEngine: the one epoll thread that relays name-bound connections. Over socketpairs and
// host-loopback TCP only: refusal closes both sides, bytes pass both ways, half-close, server
// speaks first, many at once, the cap, stop(), the first-bytes deadline, pipe growth on bulk.
// HttpRequestStream (the per-request check of plain HTTP) is tested here too, purely.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sandboxd/gate/http_request_stream.h"
#include "sandboxd/gate/relay_engine.h"

namespace moat::gate {
namespace {

using namespace std::chrono_literals;

const std::string kName = "registry.test";
const std::string kGoodGet = "GET / HTTP/1.1\r\nHost: registry.test\r\n\r\n";
const std::string kEvilGet = "GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n";
const std::string kSshBanner = "SSH-2.0-OpenSSH_9.2\r\n";  // "other": bound to the address only

// The decisions the engine reported, read from the test thread.
struct Decisions {
  std::mutex mu;
  std::vector<BindingDecision> list;
  DecisionHook hook() {
    return [this](const BindingDecision& d) {
      std::lock_guard<std::mutex> lock(mu);
      list.push_back(d);
    };
  }
  std::vector<BindingDecision> get() {
    std::lock_guard<std::mutex> lock(mu);
    return list;
  }
};

// One relayed connection: the test holds the sandbox's end (`app`) and the server's (`server`).
struct Link {
  int app = -1, server = -1;
  Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  Link(Link&& o) noexcept : app(std::exchange(o.app, -1)), server(std::exchange(o.server, -1)) {}
  Link& operator=(Link&& o) noexcept {
    std::swap(app, o.app);
    std::swap(server, o.server);
    return *this;
  }
  ~Link() {
    if (app >= 0) ::close(app);
    if (server >= 0) ::close(server);
  }
};

Link add_socketpair_link(RelayEngine& engine, DecisionHook hook, bool* added = nullptr) {
  int a[2], s[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  Link link;
  link.app = a[0];
  link.server = s[0];
  bool ok = engine.add(sys::UniqueFd(a[1]), sys::UniqueFd(s[1]), kName, std::move(hook)).ok();
  if (added != nullptr) {
    *added = ok;
  } else {
    EXPECT_TRUE(ok);
  }
  return link;
}

void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    off += static_cast<size_t>(n);
  }
}

// Reads exactly `n` bytes (or up to end of stream / 5 s without data).
std::string read_n(int fd, size_t n) {
  std::string got;
  char buf[65536];
  while (got.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    ssize_t r = ::recv(fd, buf, std::min(sizeof(buf), n - got.size()), 0);
    if (r <= 0) break;
    got.append(buf, static_cast<size_t>(r));
  }
  return got;
}

// True when `fd` reaches end of stream (or a reset) within `wait`.
bool ends_within(int fd, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t r = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
  return false;
}

bool drains(RelayEngine& engine, std::chrono::milliseconds wait = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (engine.active() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  return engine.active() == 0;
}

std::unique_ptr<RelayEngine> make_engine(RelayLimits limits = {}) {
  auto engine = RelayEngine::create(limits);
  EXPECT_TRUE(engine.ok()) << (engine.ok() ? "" : engine.error().to_string());
  return engine.ok() ? std::move(*engine) : nullptr;
}

TEST(RelayEngine, RefusedBindingClosesBothSides) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  Decisions decisions;
  Link link = add_socketpair_link(*engine, decisions.hook());
  send_all(link.app, kEvilGet);
  EXPECT_TRUE(ends_within(link.app, 5s)) << "the sandbox's side stays open after a refusal";
  std::string got = read_n(link.server, 1);
  EXPECT_TRUE(got.empty()) << "refused bytes reached the server: " << got;
  EXPECT_TRUE(drains(*engine));
  auto list = decisions.get();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].binding, Binding::kRefused);
  EXPECT_EQ(list[0].seen, "evil.test");
}

TEST(RelayEngine, AllowedConnectionPassesBytesBothWays) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  Decisions decisions;
  Link link = add_socketpair_link(*engine, decisions.hook());
  send_all(link.app, kGoodGet);
  EXPECT_EQ(read_n(link.server, kGoodGet.size()), kGoodGet);
  const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  send_all(link.server, reply);
  EXPECT_EQ(read_n(link.app, reply.size()), reply);
  send_all(link.app, kGoodGet);  // keep-alive: the second request is checked and passes
  EXPECT_EQ(read_n(link.server, kGoodGet.size()), kGoodGet);
  auto list = decisions.get();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].binding, Binding::kAllowed);
  EXPECT_EQ(list[0].protocol, "http");
}

TEST(RelayEngine, HalfCloseReachesEachSideAndTheOtherDirectionGoesOn) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  Decisions decisions;
  Link link = add_socketpair_link(*engine, decisions.hook());
  send_all(link.app, kSshBanner + "request");
  ::shutdown(link.app, SHUT_WR);
  const std::string expected = kSshBanner + "request";
  EXPECT_EQ(read_n(link.server, expected.size() + 10), expected) << "then end of stream";
  // The server answers after the client finished sending (like an HTTP/1.0 exchange).
  send_all(link.server, "answer");
  EXPECT_EQ(read_n(link.app, 6), "answer");
  EXPECT_EQ(engine->active(), 1u) << "one half ended, the connection must live on";
  ::shutdown(link.server, SHUT_WR);
  EXPECT_TRUE(ends_within(link.app, 5s));
  EXPECT_TRUE(drains(*engine));
}

TEST(RelayEngine, ServerSpeaksFirst) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  Decisions decisions;
  Link link = add_socketpair_link(*engine, decisions.hook());
  send_all(link.server, kSshBanner);  // before the client sent a byte
  EXPECT_EQ(read_n(link.app, kSshBanner.size()), kSshBanner);
  EXPECT_TRUE(decisions.get().empty());
  send_all(link.app, kSshBanner);
  EXPECT_EQ(read_n(link.server, kSshBanner.size()), kSshBanner);
}

TEST(RelayEngine, ManyConnectionsAtOnce) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  Decisions decisions;
  constexpr int kLinks = 64;
  std::vector<Link> links(kLinks);
  for (int i = 0; i < kLinks; ++i) links[i] = add_socketpair_link(*engine, decisions.hook());
  for (int i = 0; i < kLinks; ++i) send_all(links[i].app, kSshBanner + std::to_string(i % 10));
  for (int i = 0; i < kLinks; ++i) {
    EXPECT_EQ(read_n(links[i].server, kSshBanner.size() + 1), kSshBanner + std::to_string(i % 10));
    send_all(links[i].server, std::to_string(i % 10));
  }
  for (int i = 0; i < kLinks; ++i) EXPECT_EQ(read_n(links[i].app, 1), std::to_string(i % 10));
  EXPECT_EQ(engine->active(), static_cast<size_t>(kLinks));
  for (auto& link : links) {
    ::close(link.app);
    link.app = -1;
    ::shutdown(link.server, SHUT_WR);
  }
  EXPECT_TRUE(drains(*engine));
}

TEST(RelayEngine, RefusesBeyondTheCap) {
  RelayLimits limits;
  limits.max_relays = 4;
  auto engine = make_engine(limits);
  ASSERT_TRUE(engine);
  std::vector<Link> links(5);
  bool added = true;
  for (int i = 0; i < 4; ++i) links[i] = add_socketpair_link(*engine, {});
  EXPECT_FALSE(engine->has_room());
  links[4] = add_socketpair_link(*engine, {}, &added);
  EXPECT_FALSE(added);
  EXPECT_TRUE(ends_within(links[4].app, 1s)) << "a refused connection must be closed";
  links[0] = Link{};  // one ends: room again
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!engine->has_room() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(engine->has_room());
}

TEST(RelayEngine, StopEndsOpenConnections) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  std::vector<Link> links(3);
  for (auto& link : links) link = add_socketpair_link(*engine, {});
  send_all(links[0].app, kSshBanner);  // one bound and idle, two still deciding
  EXPECT_EQ(read_n(links[0].server, kSshBanner.size()), kSshBanner);
  engine->stop();
  EXPECT_EQ(engine->active(), 0u);
  for (auto& link : links) {
    EXPECT_TRUE(ends_within(link.app, 1s));
    EXPECT_TRUE(ends_within(link.server, 1s));
  }
  bool added = true;
  Link late = add_socketpair_link(*engine, {}, &added);
  EXPECT_FALSE(added) << "a stopped relay takes nothing";
  EXPECT_TRUE(ends_within(late.app, 1s));
}

TEST(RelayEngine, FirstBytesDeadline) {
  RelayLimits limits;
  limits.first_bytes_deadline = 100ms;
  auto engine = make_engine(limits);
  ASSERT_TRUE(engine);
  Decisions decisions;
  Link silent = add_socketpair_link(*engine, decisions.hook());
  Link partial = add_socketpair_link(*engine, decisions.hook());
  send_all(partial.app, "GET / HTTP/1.1\r\nHost: regi");  // slowloris
  Link prompt = add_socketpair_link(*engine, decisions.hook());
  send_all(prompt.app, kSshBanner);
  EXPECT_TRUE(ends_within(silent.app, 3s));
  EXPECT_TRUE(ends_within(partial.app, 3s));
  EXPECT_EQ(read_n(prompt.server, kSshBanner.size()), kSshBanner);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(engine->active(), 1u) << "a decided connection has no deadline";
  int refused = 0;
  for (const BindingDecision& d : decisions.get()) {
    if (d.binding != Binding::kRefused) continue;
    ++refused;
    EXPECT_NE(d.reason.find("deadline"), std::string::npos) << d.reason;
  }
  EXPECT_EQ(refused, 2);
}

TEST(RelayEngine, OversizedHeadIsRefused) {
  RelayLimits limits;
  limits.max_head_bytes = 1024;
  auto engine = make_engine(limits);
  ASSERT_TRUE(engine);
  Decisions decisions;
  Link link = add_socketpair_link(*engine, decisions.hook());
  // Still a valid, incomplete request head at 2 KiB (the HTTP parser alone would wait for 16).
  send_all(link.app, "GET / HTTP/1.1\r\nX-Pad: " + std::string(2000, 'a'));
  EXPECT_TRUE(ends_within(link.app, 5s));
  EXPECT_TRUE(read_n(link.server, 1).empty());
  auto list = decisions.get();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].binding, Binding::kRefused);
  EXPECT_NE(list[0].reason.find("1024 bytes"), std::string::npos) << list[0].reason;
}

TEST(RelayEngine, ClientClosingWithoutBytesIsRefusedAndEnds) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  Decisions decisions;
  Link link = add_socketpair_link(*engine, decisions.hook());
  ::shutdown(link.app, SHUT_WR);
  EXPECT_TRUE(ends_within(link.server, 5s));
  EXPECT_TRUE(drains(*engine));
  ASSERT_EQ(decisions.get().size(), 1u);
  EXPECT_EQ(decisions.get()[0].binding, Binding::kRefused);
}

// Host-loopback TCP end to end: the pair the sandbox would get, a server socket, 16 MiB down
// and 4 MiB up at once, byte for byte; large enough to grow the pipes.
TEST(RelayEngine, BulkOverLoopbackTcpBothWays) {
  RelayLimits limits;
  limits.grow_after_bytes = 256 * 1024;
  auto engine = make_engine(limits);
  ASSERT_TRUE(engine);
  auto pair = engine->make_pair();
  ASSERT_TRUE(pair.ok()) << pair.error().to_string();
  int app = pair->first.release();
  ::fcntl(app, F_SETFL, ::fcntl(app, F_GETFL) & ~O_NONBLOCK);
  // The server: a listener on 127.0.0.1, as the upstream the gate would have connected.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(upstream, reinterpret_cast<sockaddr*>(&addr), len), 0);
  int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(server, 0);
  ::close(listener);
  Decisions decisions;
  ASSERT_TRUE(
      engine->add(std::move(pair->second), sys::UniqueFd(upstream), kName, decisions.hook()).ok());
  auto pattern = [](size_t n, int seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + seed) % 251);
    return s;
  };
  const std::string down = pattern(16 << 20, 7);
  const std::string up = kSshBanner + pattern(4 << 20, 3);
  std::string app_got, server_got;
  std::thread server_side([&] {
    std::thread writer([&] {
      send_all(server, down);
      ::shutdown(server, SHUT_WR);
    });
    server_got = read_n(server, up.size() + 1);
    writer.join();
  });
  std::thread app_writer([&] {
    send_all(app, up);
    ::shutdown(app, SHUT_WR);
  });
  app_got = read_n(app, down.size() + 1);
  app_writer.join();
  server_side.join();
  EXPECT_TRUE(app_got == down) << "server to client: " << app_got.size() << " bytes";
  EXPECT_TRUE(server_got == up) << "client to server: " << server_got.size() << " bytes";
  EXPECT_TRUE(drains(*engine));
  ::close(app);
  ::close(server);
}

TEST(RelayEngine, PairIsConnectedLoopbackTcp) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  for (int i = 0; i < 50; ++i) {  // one listener serves every pair
    auto pair = engine->make_pair();
    ASSERT_TRUE(pair.ok()) << pair.error().to_string();
    sockaddr_in a{}, b{};
    socklen_t la = sizeof(a), lb = sizeof(b);
    ASSERT_EQ(::getsockname(pair->first.get(), reinterpret_cast<sockaddr*>(&a), &la), 0);
    ASSERT_EQ(::getpeername(pair->second.get(), reinterpret_cast<sockaddr*>(&b), &lb), 0);
    EXPECT_EQ(a.sin_port, b.sin_port);
    EXPECT_EQ(::send(pair->first.get(), "x", 1, MSG_NOSIGNAL), 1);
    EXPECT_EQ(read_n(pair->second.get(), 1), "x");
  }
}

TEST(RelayEngine, PairListenerIsRenewed) {
  RelayLimits limits;
  limits.pairs_per_listener = 3;  // a fresh destination port every 3 pairs
  auto engine = make_engine(limits);
  ASSERT_TRUE(engine);
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 9; ++i) {
    auto pair = engine->make_pair();
    ASSERT_TRUE(pair.ok()) << pair.error().to_string();
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    ASSERT_EQ(::getpeername(pair->first.get(), reinterpret_cast<sockaddr*>(&peer), &len), 0);
    ports.push_back(peer.sin_port);
  }
  EXPECT_EQ(ports[0], ports[2]);
  EXPECT_NE(ports[2], ports[3]);
  EXPECT_EQ(ports[3], ports[5]);
  EXPECT_NE(ports[5], ports[6]);
}

// HttpRequestStream: what a relayed plain-HTTP connection may forward.
std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

// Feeds `stream` the whole input and returns what it forwarded, stopping at a refusal.
std::string forwarded(HttpRequestStream& stream, const std::string& input, bool* refused) {
  std::vector<std::uint8_t> pending = bytes(input);
  std::string out;
  *refused = false;
  while (true) {
    HttpRequestStream::Step step = stream.next(pending);
    if (step.action == HttpRequestStream::Action::kRefuse) {
      *refused = true;
      return out;
    }
    if (step.action == HttpRequestStream::Action::kNeedMore) return out;
    out.append(pending.begin(), pending.begin() + static_cast<long>(step.bytes));
    pending.erase(pending.begin(), pending.begin() + static_cast<long>(step.bytes));
  }
}

TEST(HttpRequestStream, BodiesAreSkippedByTheirFraming) {
  HttpRequestStream stream(kName);
  char hex[16];
  std::snprintf(hex, sizeof(hex), "%zx", kEvilGet.size());
  // Both bodies are a request naming another host: body, not a request.
  const std::string input =
      "POST /a HTTP/1.1\r\nHost: registry.test\r\nContent-Length: " +
      std::to_string(kEvilGet.size()) + "\r\n\r\n" + kEvilGet +
      "PUT /b HTTP/1.1\r\nHost: registry.test\r\nTransfer-Encoding: chunked\r\n\r\n" + hex +
      " ;ext=1\r\n" + kEvilGet + "\r\n0\r\nTrailer: x\r\n\r\n" + kGoodGet;
  bool refused = false;
  EXPECT_EQ(forwarded(stream, input, &refused), input);
  EXPECT_FALSE(refused);
  EXPECT_TRUE(stream.at_request_boundary());
}

TEST(HttpRequestStream, EveryRequestIsChecked) {
  HttpRequestStream stream(kName);
  bool refused = false;
  EXPECT_EQ(forwarded(stream, kGoodGet + kEvilGet, &refused), kGoodGet);
  EXPECT_TRUE(refused);
}

TEST(HttpRequestStream, NonHttpAfterARequestIsRefused) {
  HttpRequestStream stream(kName);
  bool refused = false;
  EXPECT_EQ(forwarded(stream, kGoodGet + kSshBanner, &refused), kGoodGet);
  EXPECT_TRUE(refused) << "an 'other' protocol after a checked request would skip the check";
}

TEST(HttpRequestStream, MalformedChunkSizeIsRefused) {
  for (const std::string line : {"zz\r\n", "\r\n", "-1\r\n", "1 0\r\n", "10000000000000000\r\n"}) {
    HttpRequestStream stream(kName);
    bool refused = false;
    forwarded(stream,
              "PUT / HTTP/1.1\r\nHost: registry.test\r\nTransfer-Encoding: chunked\r\n\r\n" + line,
              &refused);
    EXPECT_TRUE(refused) << line;
  }
}

TEST(HttpRequestStream, UpgradeSwitchesToRaw) {
  HttpRequestStream stream(kName);
  const std::string head =
      "GET /ws HTTP/1.1\r\nHost: registry.test\r\nUpgrade: websocket\r\nConnection: "
      "Upgrade\r\n\r\n";
  std::vector<std::uint8_t> pending = bytes(head + "\x81\x05hello");
  HttpRequestStream::Step step = stream.next(pending);
  EXPECT_EQ(step.action, HttpRequestStream::Action::kRaw);
  EXPECT_EQ(step.bytes, pending.size());
}

TEST(HttpRequestStream, PartialHeadWaits) {
  HttpRequestStream stream(kName);
  std::vector<std::uint8_t> pending = bytes("GET / HTTP/1.1\r\nHost: regis");
  EXPECT_EQ(stream.next(pending).action, HttpRequestStream::Action::kNeedMore);
  EXPECT_TRUE(stream.at_request_boundary());
}

}  // namespace
}  // namespace moat::gate
