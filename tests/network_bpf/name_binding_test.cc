// The kernel name check (bpf/name_binding.bpf.c through sandboxd/bpf_net) on real loopback TCP
// connections: what the client sends is either received by the server or never leaves, and the
// verdict says why. Root only (CAP_BPF, CAP_NET_ADMIN).
#include "sandboxd/bpf_net/name_binding.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sandboxd/sys/unique_fd.h"

namespace moat::bpfnet {
namespace {

using sys::UniqueFd;
using Bytes = std::vector<std::uint8_t>;

bool must_work() {
  const char* v = std::getenv("MOAT_MUST_WORK");
  return v != nullptr && std::string(v) == "1";
}

void append16(Bytes& b, size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

struct Hello {
  std::string sni;  // empty: no server_name extension
  bool ech = false;
  bool two_sni = false;
  size_t padding = 0;  // bytes of a padding extension (21), to make the hello large
};

// A TLS 1.3-shaped ClientHello record.
Bytes client_hello(const Hello& h) {
  Bytes ext;
  auto server_name = [&ext](const std::string& name) {
    append16(ext, 0);
    append16(ext, name.size() + 5);
    append16(ext, name.size() + 3);
    ext.push_back(0);
    append16(ext, name.size());
    ext.insert(ext.end(), name.begin(), name.end());
  };
  append16(ext, 0x0a0a);  // GREASE, empty
  append16(ext, 0);
  if (!h.sni.empty()) server_name(h.sni);
  if (h.two_sni) server_name(h.sni);
  if (h.ech) {
    append16(ext, 0xfe0d);
    append16(ext, 4);
    ext.insert(ext.end(), {1, 2, 3, 4});
  }
  if (h.padding != 0) {
    append16(ext, 21);
    append16(ext, h.padding);
    ext.insert(ext.end(), h.padding, 0);
  }
  Bytes body = {3, 3};
  body.insert(body.end(), 32, 0x11);
  body.push_back(0);  // session id
  append16(body, 2);
  body.insert(body.end(), {0x13, 0x01});
  body.insert(body.end(), {1, 0});  // compression: null
  append16(body, ext.size());
  body.insert(body.end(), ext.begin(), ext.end());
  Bytes hs = {1, static_cast<std::uint8_t>(body.size() >> 16),
              static_cast<std::uint8_t>(body.size() >> 8), static_cast<std::uint8_t>(body.size())};
  hs.insert(hs.end(), body.begin(), body.end());
  Bytes record = {0x16, 3, 1};
  append16(record, hs.size());
  record.insert(record.end(), hs.begin(), hs.end());
  return record;
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

class NameBindingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = load_name_binding();
    if (!loaded) {
      if (must_work() || ::geteuid() == 0) FAIL() << loaded.error().to_string();
      GTEST_SKIP() << "needs root: " << loaded.error().to_string();
    }
    binding_ = std::move(*loaded);
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(listener_.get(), 16), 0);
    socklen_t len = sizeof addr_;
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr_), &len);
  }

  // A connected pair (client, server side), the client under the check for NAME.
  std::pair<UniqueFd, UniqueFd> connect_bound(const std::string& name) {
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr_), sizeof addr_), 0);
    UniqueFd server(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    Status st = binding_->bind(client.get(), ++connection_, name);
    EXPECT_TRUE(st.ok()) << st.error().to_string();
    return {std::move(client), std::move(server)};
  }

  // Everything the server receives within WAIT_MS.
  static Bytes received(int server, int wait_ms = 200) {
    Bytes got;
    pollfd p{server, POLLIN, 0};
    while (::poll(&p, 1, wait_ms) == 1) {
      std::uint8_t buf[65536];
      ssize_t n = ::recv(server, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      got.insert(got.end(), buf, buf + n);
    }
    return got;
  }

  // Sends B in pieces of STEP bytes; the errno of the first failure, or 0.
  static int send_in_pieces(int fd, const Bytes& b, size_t step) {
    for (size_t i = 0; i < b.size(); i += step) {
      const size_t n = std::min(step, b.size() - i);
      if (::send(fd, b.data() + i, n, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) return errno;
    }
    return 0;
  }

  // The verdict for the last connection (waits for the ring up to a second).
  gate::KernelVerdict verdict() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (std::chrono::steady_clock::now() < deadline) {
      for (gate::KernelVerdict& v : binding_->take_verdicts()) {
        if (v.connection == connection_) return v;
      }
      pollfd p{binding_->poll_fd(), POLLIN, 0};
      ::poll(&p, 1, 50);
    }
    ADD_FAILURE() << "no verdict for connection " << connection_;
    return {};
  }

  // Sends B (in pieces of STEP) and expects the server to receive none of it, ever.
  void expect_refused(const Bytes& b, const std::string& reason_part, size_t step = 65536) {
    auto [client, server] = connect_bound("front.test");
    EXPECT_EQ(send_in_pieces(client.get(), b, step), EACCES);
    const Bytes later = text("secret data after the refusal");
    EXPECT_EQ(::send(client.get(), later.data(), later.size(), MSG_NOSIGNAL), -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_TRUE(received(server.get()).empty()) << "bytes of a refused connection left";
    gate::KernelVerdict v = verdict();
    EXPECT_EQ(v.decision.binding, gate::Binding::kRefused);
    EXPECT_NE(v.decision.reason.find(reason_part), std::string::npos) << v.decision.reason;
    EXPECT_TRUE(binding_->still_bound(connection_)) << "a refused socket must stay refused";
  }

  // Sends B (in pieces of STEP) then a tail; the server receives exactly all of it.
  void expect_passed(const Bytes& b, const std::string& protocol, size_t step = 65536) {
    auto [client, server] = connect_bound("front.test");
    ASSERT_EQ(send_in_pieces(client.get(), b, step), 0) << std::strerror(errno);
    gate::KernelVerdict v = verdict();
    EXPECT_EQ(v.decision.binding, gate::Binding::kAllowed) << v.decision.reason;
    EXPECT_EQ(v.decision.protocol, protocol);
    EXPECT_FALSE(binding_->still_bound(connection_)) << "a passed socket leaves the map";
    Bytes tail(300000, 'x');
    ASSERT_EQ(send_in_pieces(client.get(), tail, 65536), 0);
    Bytes want = b;
    want.insert(want.end(), tail.begin(), tail.end());
    EXPECT_EQ(received(server.get()), want);
  }

  std::unique_ptr<NameCheck> binding_;
  UniqueFd listener_;
  sockaddr_in addr_{};
  std::uint64_t connection_ = 0;
};

TEST_F(NameBindingTest, MatchingSniPasses) {
  expect_passed(client_hello({.sni = "front.test"}), "tls");
  expect_passed(client_hello({.sni = "FRONT.Test"}), "tls");
}

TEST_F(NameBindingTest, HelloSentByteByByteIsCheckedWhole) {
  expect_passed(client_hello({.sni = "front.test"}), "tls", 1);
  expect_refused(client_hello({.sni = "evil.test"}), "does not match", 1);
}

TEST_F(NameBindingTest, LargeHelloInOneRecordPasses) {
  expect_passed(client_hello({.sni = "front.test", .padding = 15000}), "tls", 4000);
}

TEST_F(NameBindingTest, FrontingIsRefused) {
  expect_refused(client_hello({.sni = "evil.test"}), "SNI evil.test does not match front.test");
  expect_refused(client_hello({.sni = "front.test.evil.test"}), "does not match");
  expect_refused(client_hello({.sni = "front.tes"}), "does not match");
}

TEST_F(NameBindingTest, HellosThatHideTheNameAreRefused) {
  expect_refused(client_hello({}), "without SNI");
  expect_refused(client_hello({.sni = "front.test", .ech = true}), "ECH");
  expect_refused(client_hello({.sni = "front.test", .two_sni = true}), "repeats");
  expect_refused({0x80, 0x2e, 0x01, 0x03, 0x01}, "SSLv2");
}

TEST_F(NameBindingTest, HelloSplitAcrossRecordsIsRefused) {
  Bytes whole = client_hello({.sni = "front.test"});
  // The handshake message cut into two records of 40 bytes and the rest.
  Bytes hs(whole.begin() + 5, whole.end());
  Bytes split = {0x16, 3, 1, 0, 40};
  split.insert(split.end(), hs.begin(), hs.begin() + 40);
  split.insert(split.end(), {0x16, 3, 1});
  append16(split, hs.size() - 40);
  split.insert(split.end(), hs.begin() + 40, hs.end());
  expect_refused(split, "beyond its first record");
}

TEST_F(NameBindingTest, MalformedHellosAreRefused) {
  Bytes h = client_hello({.sni = "front.test"});
  Bytes bad_version = h;
  bad_version[1] = 2;
  expect_refused(bad_version, "record");
  Bytes overlong = h;
  overlong[8] = 0xff;  // the ClientHello claims more than its record
  expect_refused(overlong, "beyond its first record");
  Bytes bad_ext = h;
  bad_ext.back() = 0;
  bad_ext.pop_back();
  bad_ext[4] = static_cast<std::uint8_t>(bad_ext[4] - 1);  // record shorter, hello length not
  expect_refused(bad_ext, "beyond its first record");
}

TEST_F(NameBindingTest, ClearTextHttpIsRefused) {
  expect_refused(text("GET / HTTP/1.1\r\nHost: front.test\r\n\r\n"), "clear-text HTTP");
  expect_refused(text("POST /x HTTP/1.1\r\nHost: evil.test\r\n\r\n"), "clear-text HTTP", 2);
}

TEST_F(NameBindingTest, OtherProtocolsPassBoundToTheAddress) {
  expect_passed(text("SSH-2.0-OpenSSH_9.2\r\n"), "other");
  expect_passed({0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f}, "other");  // a PostgreSQL SSLRequest
}

TEST_F(NameBindingTest, SendfileAndWritevAreCheckedToo) {
  Bytes evil = client_hello({.sni = "evil.test"});
  {
    auto [client, server] = connect_bound("front.test");
    char path[] = "/tmp/moat-hello-XXXXXX";
    UniqueFd file(::mkstemp(path));
    ::unlink(path);
    ASSERT_EQ(::write(file.get(), evil.data(), evil.size()), static_cast<ssize_t>(evil.size()));
    off_t off = 0;
    EXPECT_EQ(::sendfile(client.get(), file.get(), &off, evil.size()), -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_TRUE(received(server.get()).empty());
    EXPECT_EQ(verdict().decision.binding, gate::Binding::kRefused);
  }
  {
    auto [client, server] = connect_bound("front.test");
    iovec iov[2] = {{evil.data(), 7}, {evil.data() + 7, evil.size() - 7}};
    EXPECT_EQ(::writev(client.get(), iov, 2), -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_TRUE(received(server.get()).empty());
    EXPECT_EQ(verdict().decision.binding, gate::Binding::kRefused);
  }
}

TEST_F(NameBindingTest, SpliceZeroCopyAndUrgentSendsAreCheckedToo) {
  Bytes evil = client_hello({.sni = "evil.test"});
  {
    auto [client, server] = connect_bound("front.test");
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    UniqueFd in(pipe_fds[0]), out(pipe_fds[1]);
    ASSERT_EQ(::write(out.get(), evil.data(), evil.size()), static_cast<ssize_t>(evil.size()));
    EXPECT_EQ(::splice(in.get(), nullptr, client.get(), nullptr, evil.size(), 0), -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_TRUE(received(server.get()).empty());
    EXPECT_EQ(verdict().decision.binding, gate::Binding::kRefused);
  }
  {
    auto [client, server] = connect_bound("front.test");
    int one = 1;
    ASSERT_EQ(::setsockopt(client.get(), SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one), 0);
    EXPECT_EQ(::send(client.get(), evil.data(), evil.size(), MSG_ZEROCOPY), -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_TRUE(received(server.get()).empty());
    EXPECT_EQ(verdict().decision.binding, gate::Binding::kRefused);
  }
  {
    auto [client, server] = connect_bound("front.test");
    EXPECT_EQ(::send(client.get(), evil.data(), evil.size(), MSG_OOB), -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_TRUE(received(server.get()).empty());
    char urgent;
    EXPECT_EQ(::recv(server.get(), &urgent, 1, MSG_OOB | MSG_DONTWAIT), -1);
    EXPECT_EQ(verdict().decision.binding, gate::Binding::kRefused);
  }
}

TEST_F(NameBindingTest, ClosedSocketLeavesTheMap) {
  auto [client, server] = connect_bound("front.test");
  EXPECT_TRUE(binding_->still_bound(connection_));
  client.reset();
  EXPECT_FALSE(binding_->still_bound(connection_));
  // The server sees the close at once: nothing else holds the socket open.
  pollfd p{server.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 1000), 1);
  char c;
  EXPECT_EQ(::recv(server.get(), &c, 1, 0), 0);
}

}  // namespace
}  // namespace moat::bpfnet
