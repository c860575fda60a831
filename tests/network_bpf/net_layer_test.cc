// Tests of the in-kernel network layer: a scratch cgroup v2 with NetLayer attached, children moved
// into it, and a test host in its own network namespace (veth, 10.77.X.0/24) that proves refusals.
#include "sandboxd/bpf_net/net_layer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "sandboxd/sys/unique_fd.h"

namespace moat::bpfnet {
namespace {

using policy::IpAddress;
using sys::UniqueFd;

bool must_work() {
  const char* v = std::getenv("MOAT_MUST_WORK");
  return v != nullptr && std::string(v) == "1";
}

// Skips for a missing environment feature; under MOAT_MUST_WORK=1 (CI) that is a failure.
#define BPF_SKIP_OR_FAIL(reason)                                   \
  do {                                                             \
    if (must_work()) {                                             \
      FAIL() << "MOAT_MUST_WORK=1 forbids skipping: " << (reason); \
    } else {                                                       \
      GTEST_SKIP() << (reason);                                    \
    }                                                              \
  } while (0)

int sh(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool pid_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

std::string cgroup_root() {
  struct stat st {};
  if (::stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0) return "/sys/fs/cgroup";
  return "/sys/fs/cgroup/unified";
}

void remove_cgroup(const std::string& dir) {
  std::ofstream(dir + "/cgroup.kill") << "1";
  for (int i = 0; i < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) ::usleep(10000);
}

// Leftovers of crashed runs: netns "moat-bpf-X-PID" and cgroups "moat-bpftest-PID" of dead pids.
void sweep_stale() {
  FILE* p = ::popen("ip netns list 2>/dev/null", "r");
  if (p != nullptr) {
    char line[256];
    while (std::fgets(line, sizeof line, p) != nullptr) {
      int x = 0, pid = 0;
      if (std::sscanf(line, "moat-bpf-%d-%d", &x, &pid) == 2 && !pid_alive(pid)) {
        sh("ip netns del moat-bpf-" + std::to_string(x) + "-" + std::to_string(pid));
      }
    }
    ::pclose(p);
  }
  std::string root = cgroup_root();
  FILE* q = ::popen(("ls -d " + root + "/moat-bpftest-* 2>/dev/null").c_str(), "r");
  if (q != nullptr) {
    char line[512];
    while (std::fgets(line, sizeof line, q) != nullptr) {
      std::string dir(line);
      while (!dir.empty() && dir.back() == '\n') dir.pop_back();
      int pid = std::atoi(dir.substr(dir.rfind('-') + 1).c_str());
      if (pid > 0 && !pid_alive(pid)) remove_cgroup(dir);
    }
    ::pclose(q);
  }
}

// The test host: network namespace moat-bpf-X-PID behind a veth pair. Host side 10.77.X.1/24 and
// fd77:b:X::1/64; namespace side 10.77.X.{2,3,17,33}/24 and fd77:b:X::{2,3}/64. Its listeners
// are sockets of this process, created by a thread that joined the namespace, bound to wildcard
// addresses so every address above reaches them.
struct TestHost {
  int x = -1;
  std::string ns, veth;
  UniqueFd tcp_a, tcp_b, tcp6_a, udp, udp6;
  uint16_t port_a = 0, port_b = 0, port6_a = 0, port_u = 0, port6_u = 0;

  std::string v4(int host) const {
    return "10.77." + std::to_string(x) + "." + std::to_string(host);
  }
  std::string v6(int host) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "fd77:b:%x::%x", x, host);
    return buf;
  }

  bool set_up(std::string* why) {
    std::random_device rd;
    // X in 50..99: disjoint from tests/network's lab (100..249); the veth name claims it.
    for (int attempt = 0; attempt < 40 && x < 0; ++attempt) {
      int c = 50 + static_cast<int>(rd() % 50);
      std::string v = "mbpf" + std::to_string(c);
      if (sh("ip -4 route show table all | grep -q ' 10.77." + std::to_string(c) + ".'") == 0 ||
          sh("ip -4 route show table all | grep -q '^10.77." + std::to_string(c) + ".'") == 0) {
        continue;
      }
      if (sh("ip link add " + v + "h type veth peer name " + v + "n") != 0) continue;
      x = c;
      veth = v;
    }
    if (x < 0) {
      *why = "no free 10.77.X.0/24 (X in 50..99) or cannot create a veth pair";
      return false;
    }
    ns = "moat-bpf-" + std::to_string(x) + "-" + std::to_string(::getpid());
    const std::string h = veth + "h", n = veth + "n", in = "ip -n " + ns + " ";
    const std::string cmds[] = {
        "ip netns add " + ns,
        "ip link set " + n + " netns " + ns + " name eth0",
        "ip addr add " + v4(1) + "/24 dev " + h,
        "ip -6 addr add " + v6(1) + "/64 dev " + h + " nodad",
        "ip link set " + h + " up",
        in + "link set lo up",
        in + "addr add " + v4(2) + "/24 dev eth0",
        in + "addr add " + v4(3) + "/24 dev eth0",
        in + "addr add " + v4(17) + "/24 dev eth0",
        in + "addr add " + v4(33) + "/24 dev eth0",
        in + "-6 addr add " + v6(2) + "/64 dev eth0 nodad",
        in + "-6 addr add " + v6(3) + "/64 dev eth0 nodad",
        in + "link set eth0 up",
    };
    for (const auto& c : cmds) {
      if (sh(c) != 0) {
        *why = "test host setup failed: " + c;
        return false;
      }
    }
    bool ok = false;
    std::thread t([&] {
      UniqueFd nsfd(::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
      if (!nsfd.valid() || ::setns(nsfd.get(), CLONE_NEWNET) != 0) return;
      ok = listen_on(AF_INET, SOCK_STREAM, &tcp_a, &port_a) &&
           listen_on(AF_INET, SOCK_STREAM, &tcp_b, &port_b) &&
           listen_on(AF_INET6, SOCK_STREAM, &tcp6_a, &port6_a) &&
           listen_on(AF_INET, SOCK_DGRAM, &udp, &port_u) &&
           listen_on(AF_INET6, SOCK_DGRAM, &udp6, &port6_u);
    });
    t.join();
    if (!ok) *why = "cannot open the test host's sockets in " + ns;
    return ok;
  }

  static bool listen_on(int family, int type, UniqueFd* fd, uint16_t* port) {
    fd->reset(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd->valid()) return false;
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      len = sizeof *a;
    } else {
      int one = 1;
      ::setsockopt(fd->get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      len = sizeof *a;
    }
    if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return false;
    if (type == SOCK_STREAM && ::listen(fd->get(), 64) != 0) return false;
    if (::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
    *port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return true;
  }

  void tear_down() {
    tcp_a.reset(), tcp_b.reset(), tcp6_a.reset(), udp.reset(), udp6.reset();
    if (!ns.empty()) sh("ip netns del " + ns);  // takes the veth pair with it
    if (!veth.empty()) sh("ip link del " + veth + "h");
    x = -1;
  }
};

// Drains what a listener or datagram socket received: accepted connections or datagrams.
int drain(int fd, int type) {
  int n = 0;
  ::usleep(50000);  // a refused case must have had the chance to arrive
  for (;;) {
    if (type == SOCK_STREAM) {
      int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) break;
      ::close(c);
    } else {
      char buf[512];
      if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0) break;
    }
    ++n;
  }
  return n;
}

sockaddr_storage sockaddr_of(const std::string& ip, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof *a4;
  } else {
    ::inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof *a6;
  }
  return ss;
}

// The operations children run; each returns 0 or the errno of the failing call.
int tcp_connect(const std::string& ip, uint16_t port) {
  socklen_t len;
  sockaddr_storage ss = sockaddr_of(ip, port, &len);
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

int udp_send(const std::string& ip, uint16_t port, bool connect_first = false) {
  socklen_t len;
  sockaddr_storage ss = sockaddr_of(ip, port, &len);
  int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int rc = 0;
  if (connect_first) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::send(fd, "x", 1, 0) != 1) {
      rc = errno;
    }
  } else if (::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&ss), len) != 1) {
    rc = errno;
  }
  ::close(fd);
  return rc;
}

int make_socket(int domain, int type, int protocol) {
  int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

IpNet net(const std::string& text, int prefix = -1) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.ok()) << text;
  IpAddress addr = a.ok() ? *a : IpAddress{};
  return IpNet{addr, static_cast<uint8_t>(prefix < 0 ? addr.bit_width() : prefix)};
}

class NetLayerBpf : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    sweep_stale();
    host_ = new TestHost;
    if (!host_->set_up(&host_error_)) {
      host_->tear_down();
      delete host_;
      host_ = nullptr;
    }
  }
  static void TearDownTestSuite() {
    if (host_ != nullptr) host_->tear_down();
    delete host_;
    host_ = nullptr;
  }

  void SetUp() override {
    if (::geteuid() != 0) BPF_SKIP_OR_FAIL("the BPF network layer tests need root");
    if (host_ == nullptr) BPF_SKIP_OR_FAIL(host_error_);
    cg_dir_ = cgroup_root() + "/moat-bpftest-" + std::to_string(::getpid());
    if (::mkdir(cg_dir_.c_str(), 0755) != 0 && errno != EEXIST) {
      BPF_SKIP_OR_FAIL("cannot create a cgroup v2 dir " + cg_dir_ + ": " + std::strerror(errno));
    }
    cg_fd_.reset(::open(cg_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(cg_fd_.valid()) << std::strerror(errno);
  }
  void TearDown() override {
    layer_.reset();
    cg_fd_.reset();
    if (!cg_dir_.empty()) remove_cgroup(cg_dir_);
  }

  NetLayer& attach(AttachOptions options = {}) {
    auto r = NetLayer::attach(cg_fd_.get(), options);
    if (!r.ok()) ADD_FAILURE() << r.error().to_string();
    layer_ = std::make_unique<NetLayer>(std::move(*r));
    return *layer_;
  }

  // Runs FN in a child that is in the scratch cgroup before FN starts (or, with inside=false,
  // stays outside as the control). Returns FN's result, or -1 if the child died otherwise.
  int run(const std::function<int()>& fn, bool inside = true) {
    int go[2];
    if (::pipe2(go, O_CLOEXEC) != 0) return -1;
    pid_t pid = ::fork();
    if (pid == 0) {
      char c;
      ::close(go[1]);
      if (::read(go[0], &c, 1) != 1) ::_exit(254);
      ::_exit(fn() & 0xff);
    }
    ::close(go[0]);
    bool moved = true;
    if (inside) {
      std::ofstream procs(cg_dir_ + "/cgroup.procs");
      procs << pid << std::flush;
      moved = procs.good();
    }
    EXPECT_TRUE(moved) << "moving pid " << pid << " into " << cg_dir_;
    if (moved) (void)!::write(go[1], "g", 1);
    ::close(go[1]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return moved && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  static TestHost* host_;
  static std::string host_error_;
  std::string cg_dir_;
  UniqueFd cg_fd_;
  std::unique_ptr<NetLayer> layer_;
};

TestHost* NetLayerBpf::host_ = nullptr;
std::string NetLayerBpf::host_error_;

TEST_F(NetLayerBpf, ProbeLoadsAsRoot) { EXPECT_TRUE(probe_cgroup_sock_addr()); }

TEST_F(NetLayerBpf, AttachRejectsWhatIsNotACgroupDir) {
  auto bad = NetLayer::attach(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kSyscall);
  EXPECT_EQ(bad.error().err, EBADF);
  UniqueFd file(::open("/etc/hostname", O_RDONLY | O_CLOEXEC));
  auto not_dir = NetLayer::attach(file.get());
  ASSERT_FALSE(not_dir.ok());
  EXPECT_EQ(not_dir.error().err, ENOTDIR);
  // A directory that is not a cgroup: the kernel refuses the link, and the error names the program.
  UniqueFd tmp(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto not_cg = NetLayer::attach(tmp.get());
  ASSERT_FALSE(not_cg.ok());
  EXPECT_NE(not_cg.error().message.find("cgroup/connect4"), std::string::npos)
      << not_cg.error().to_string();
}

TEST_F(NetLayerBpf, AllowedAddressAndPortConnects) {
  NetLayer& l = attach();
  ASSERT_TRUE(l.allow(net(host_->v4(2)), host_->port_a).ok());
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(2), host_->port_a); }), 0);
  EXPECT_EQ(drain(host_->tcp_a.get(), SOCK_STREAM), 1);
  EXPECT_EQ(l.denied_count(), 0u);
}

TEST_F(NetLayerBpf, SameAddressOtherPortIsRefused) {
  NetLayer& l = attach();
  ASSERT_TRUE(l.allow(net(host_->v4(2)), host_->port_a).ok());
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(2), host_->port_b); }), EPERM);
  EXPECT_EQ(drain(host_->tcp_b.get(), SOCK_STREAM), 0);
  EXPECT_EQ(l.denied_count(NetLayer::Hook::kConnect4), 1u);
  EXPECT_EQ(l.denied_count(), 1u);
}

TEST_F(NetLayerBpf, OtherAddressIsRefused) {
  NetLayer& l = attach();
  ASSERT_TRUE(l.allow(net(host_->v4(2)), host_->port_a).ok());
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(3), host_->port_a); }), EPERM);
  EXPECT_EQ(drain(host_->tcp_a.get(), SOCK_STREAM), 0);
  EXPECT_EQ(l.denied_count(), 1u);
}

TEST_F(NetLayerBpf, CidrAllowsAnyPortInsideOnly) {
  NetLayer& l = attach();
  ASSERT_TRUE(l.allow(net(host_->v4(16), 28), std::nullopt).ok());
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(17), host_->port_a); }), 0);
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(17), host_->port_b); }), 0);
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(33), host_->port_a); }), EPERM);
  EXPECT_EQ(drain(host_->tcp_a.get(), SOCK_STREAM), 1);
  EXPECT_EQ(drain(host_->tcp_b.get(), SOCK_STREAM), 1);
}

TEST_F(NetLayerBpf, CidrWithPort) {
  NetLayer& l = attach();
  ASSERT_TRUE(l.allow(net(host_->v4(0), 24), host_->port_b).ok());
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(3), host_->port_b); }), 0);
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(3), host_->port_a); }), EPERM);
  EXPECT_EQ(drain(host_->tcp_b.get(), SOCK_STREAM), 1);
  EXPECT_EQ(drain(host_->tcp_a.get(), SOCK_STREAM), 0);
}

TEST_F(NetLayerBpf, RevokeRemovesTheEntry) {
  NetLayer& l = attach();
  ASSERT_TRUE(l.allow(net(host_->v4(2)), host_->port_a).ok());
  ASSERT_TRUE(l.revoke(net(host_->v4(2)), host_->port_a).ok());
  EXPECT_EQ(l.revoke(net(host_->v4(2)), host_->port_a).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(2), host_->port_a); }), EPERM);
  EXPECT_EQ(drain(host_->tcp_a.get(), SOCK_STREAM), 0);
}

TEST_F(NetLayerBpf, UdpOnlyToAllowedAddresses) {
  NetLayer& l = attach();
  ASSERT_TRUE(l.allow(net(host_->v4(2)), host_->port_u).ok());
  EXPECT_EQ(run([&] { return udp_send(host_->v4(3), host_->port_u); }), EPERM);
  EXPECT_EQ(run([&] { return udp_send(host_->v4(3), host_->port_u, /*connect_first=*/true); }),
            EPERM);
  EXPECT_EQ(drain(host_->udp.get(), SOCK_DGRAM), 0);
  EXPECT_EQ(l.denied_count(NetLayer::Hook::kSendmsg4), 1u);
  EXPECT_EQ(l.denied_count(NetLayer::Hook::kConnect4), 1u);
  EXPECT_EQ(run([&] { return udp_send(host_->v4(2), host_->port_u); }), 0);
  EXPECT_EQ(drain(host_->udp.get(), SOCK_DGRAM), 1);
}

TEST_F(NetLayerBpf, UdpToTheDnsStubIsAllowed) {
  attach();
  // Receive it when the host lets us bind the stub address (nothing else holds port 53).
  UniqueFd stub(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  socklen_t len;
  sockaddr_storage ss = sockaddr_of("127.0.0.53", 53, &len);
  bool bound = ::bind(stub.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0;
  EXPECT_EQ(run([] { return udp_send("127.0.0.53", 53); }), 0);
  if (bound) {
    EXPECT_EQ(drain(stub.get(), SOCK_DGRAM), 1);
  }
}

TEST_F(NetLayerBpf, HostLoopbackFollowsTheOption) {
  UniqueFd lis(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  socklen_t len;
  sockaddr_storage ss = sockaddr_of("127.0.0.1", 0, &len);
  ASSERT_EQ(::bind(lis.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(::listen(lis.get(), 8), 0);
  ASSERT_EQ(::getsockname(lis.get(), reinterpret_cast<sockaddr*>(&ss), &len), 0);
  uint16_t port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);

  attach();  // loopback allowed (the default: inside a netns it is the sandbox's own)
  EXPECT_EQ(run([&] { return tcp_connect("127.0.0.1", port); }), 0);
  EXPECT_EQ(drain(lis.get(), SOCK_STREAM), 1);
  layer_.reset();

  // Without a netns loopback is the host's: with loopback=false only allow() entries pass.
  NetLayer& l = attach(AttachOptions{.loopback = false});
  EXPECT_EQ(run([&] { return tcp_connect("127.0.0.1", port); }), EPERM);
  EXPECT_EQ(run([] { return udp_send("127.0.0.53", 53); }), EPERM);
  EXPECT_EQ(drain(lis.get(), SOCK_STREAM), 0);
  ASSERT_TRUE(l.allow(net("127.0.0.53"), 53).ok());
  EXPECT_EQ(run([] { return udp_send("127.0.0.53", 53); }), 0);
}

// Without a network namespace (tier landlock): port 53 of any address is the stub on the host's
// loopback, and no other datagram leaves, even to an allowed address.
TEST_F(NetLayerBpf, DnsRedirectWithoutNamespace) {
  UniqueFd udp_stub(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  UniqueFd tcp_stub(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  uint16_t ports[2] = {0, 0};
  int i = 0;
  for (int fd : {udp_stub.get(), tcp_stub.get()}) {
    socklen_t len;
    sockaddr_storage ss = sockaddr_of("127.0.0.1", 0, &len);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
    ports[i++] = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ASSERT_EQ(::listen(tcp_stub.get(), 8), 0);
  NetLayer& l = attach(AttachOptions{.loopback = false});
  ASSERT_TRUE(l.redirect_dns(IpAddress::v4({127, 0, 0, 1}), ports[1], ports[0]).ok());
  ASSERT_TRUE(l.allow(net(host_->v4(2))).ok());
  EXPECT_EQ(run([&] { return udp_send(host_->v4(3), 53); }), 0);
  EXPECT_EQ(run([&] { return udp_send(host_->v4(3), 53, /*connect_first=*/true); }), 0);
  EXPECT_EQ(drain(udp_stub.get(), SOCK_DGRAM), 2);
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(3), 53); }), 0);
  EXPECT_EQ(drain(tcp_stub.get(), SOCK_STREAM), 1);
  // An allowed address takes TCP, not datagrams.
  EXPECT_EQ(run([&] { return udp_send(host_->v4(2), host_->port_u); }), EPERM);
  EXPECT_EQ(drain(host_->udp.get(), SOCK_DGRAM), 0);
  EXPECT_EQ(l.denied_count(NetLayer::Hook::kSendmsg4), 1u);
}

TEST_F(NetLayerBpf, RawPingAndOtherSocketsAreRefused) {
  NetLayer& l = attach();
  EXPECT_EQ(run([] { return make_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP); }), EPERM);
  EXPECT_EQ(run([] { return make_socket(AF_INET, SOCK_RAW, IPPROTO_RAW); }), EPERM);
  EXPECT_EQ(run([] { return make_socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6); }), EPERM);
  EXPECT_EQ(run([] { return make_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP); }) != 0, true);
  EXPECT_EQ(run([] { return make_socket(AF_INET, SOCK_DGRAM, 0); }), 0);
  EXPECT_EQ(run([] { return make_socket(AF_INET6, SOCK_STREAM, 0); }), 0);
  EXPECT_GE(l.denied_count(NetLayer::Hook::kSockCreate), 3u);
  // Control: the same process kind outside the cgroup may (root has CAP_NET_RAW).
  EXPECT_EQ(run([] { return make_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP); }, false), 0);
}

TEST_F(NetLayerBpf, Ipv6IsRefusedUnlessAllowed) {
  NetLayer& l = attach();
  EXPECT_EQ(run([&] { return tcp_connect(host_->v6(2), host_->port6_a); }), EPERM);
  EXPECT_EQ(run([&] { return udp_send(host_->v6(3), host_->port6_u); }), EPERM);
  EXPECT_EQ(drain(host_->tcp6_a.get(), SOCK_STREAM), 0);
  EXPECT_EQ(drain(host_->udp6.get(), SOCK_DGRAM), 0);
  EXPECT_EQ(l.denied_count(NetLayer::Hook::kConnect6), 1u);
  EXPECT_EQ(l.denied_count(NetLayer::Hook::kSendmsg6), 1u);

  ASSERT_TRUE(l.allow(net(host_->v6(2)), host_->port6_a).ok());
  EXPECT_EQ(run([&] { return tcp_connect(host_->v6(2), host_->port6_a); }), 0);
  EXPECT_EQ(drain(host_->tcp6_a.get(), SOCK_STREAM), 1);
  EXPECT_EQ(run([&] { return tcp_connect(host_->v6(3), host_->port6_a); }), EPERM);
  EXPECT_EQ(drain(host_->tcp6_a.get(), SOCK_STREAM), 0);
}

TEST_F(NetLayerBpf, V4MappedIpv6IsJudgedByTheIpv4Rules) {
  NetLayer& l = attach();
  ASSERT_TRUE(l.allow(net(host_->v4(2)), host_->port_a).ok());
  const std::string mapped = "::ffff:" + host_->v4(2);
  EXPECT_EQ(run([&] { return tcp_connect(mapped, host_->port_b); }), EPERM);
  EXPECT_EQ(run([&] { return udp_send("::ffff:" + host_->v4(3), host_->port_u); }), EPERM);
  EXPECT_EQ(drain(host_->tcp_b.get(), SOCK_STREAM), 0);
  EXPECT_EQ(drain(host_->udp.get(), SOCK_DGRAM), 0);
  EXPECT_EQ(run([&] { return tcp_connect(mapped, host_->port_a); }), 0);
  EXPECT_EQ(drain(host_->tcp_a.get(), SOCK_STREAM), 1);
  // An entry written as mapped IPv6 lands in the IPv4 rules.
  ASSERT_TRUE(l.allow(net("::ffff:" + host_->v4(3)), host_->port_b).ok());
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(3), host_->port_b); }), 0);
  EXPECT_EQ(drain(host_->tcp_b.get(), SOCK_STREAM), 1);
}

TEST_F(NetLayerBpf, ProcessesOutsideTheCgroupAreUnaffected) {
  NetLayer& l = attach();
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(2), host_->port_b); }, false), 0);
  EXPECT_EQ(run([&] { return udp_send(host_->v4(3), host_->port_u); }, false), 0);
  EXPECT_EQ(run([&] { return tcp_connect(host_->v6(2), host_->port6_a); }, false), 0);
  EXPECT_EQ(drain(host_->tcp_b.get(), SOCK_STREAM), 1);
  EXPECT_EQ(drain(host_->udp.get(), SOCK_DGRAM), 1);
  EXPECT_EQ(drain(host_->tcp6_a.get(), SOCK_STREAM), 1);
  EXPECT_EQ(l.denied_count(), 0u);
}

TEST_F(NetLayerBpf, DetachedOnDestruction) {
  attach();
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(2), host_->port_b); }), EPERM);
  layer_.reset();
  EXPECT_EQ(run([&] { return tcp_connect(host_->v4(2), host_->port_b); }), 0);
  EXPECT_EQ(drain(host_->tcp_b.get(), SOCK_STREAM), 1);
}

TEST_F(NetLayerBpf, NestedCgroupsInheritTheLayer) {
  attach();
  std::string inner = cg_dir_ + "/inner";
  ASSERT_EQ(::mkdir(inner.c_str(), 0755), 0);
  std::string outer = cg_dir_;
  cg_dir_ = inner;  // run() moves children here
  int rc = run([&] { return tcp_connect(host_->v4(2), host_->port_b); });
  cg_dir_ = outer;
  ::rmdir(inner.c_str());
  EXPECT_EQ(rc, EPERM);
  EXPECT_EQ(drain(host_->tcp_b.get(), SOCK_STREAM), 0);
}

}  // namespace
}  // namespace moat::bpfnet
