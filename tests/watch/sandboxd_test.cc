// sandboxd end to end (label `watch`, root): a daemon on a private socket (MOAT_SANDBOXD_SOCKET),
// real `moat run` sandboxes through it, and hostile clients speaking the protocol by hand.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mntent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sandbox_harness.h"
#include "sandboxd/daemon/client.h"
#include "sandboxd/daemon/protocol.h"

namespace moat::testing {
namespace {

using daemon::ReplyStatus;
using nlohmann::json;

std::string v2_mount() {
  std::string out;
  FILE* f = ::setmntent("/proc/self/mounts", "r");
  if (f == nullptr) return out;
  while (mntent* m = ::getmntent(f)) {
    if (std::string(m->mnt_type) == "cgroup2" && out.empty()) out = m->mnt_dir;
  }
  ::endmntent(f);
  return out;
}

// A sandboxd on its own socket, killed at the end.
class Daemon {
 public:
  explicit Daemon(std::vector<std::string> extra = {}) {
    char dir[] = "/tmp/moat-sd-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return;
    dir_ = dir;
    ::chmod(dir, 0755);
    socket_ = dir_ + "/sandboxd.sock";
    std::vector<std::string> args = {MOAT_SANDBOXD_BIN, "--socket", socket_};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !ready(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~Daemon() {
    kill(SIGTERM);
    ::unlink(socket_.c_str());
    ::rmdir(dir_.c_str());
  }
  bool ready() const { return daemon::Client::connect(socket_).ok(); }
  void kill(int sig) {
    if (pid_ > 0) {
      ::kill(pid_, sig);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  const std::string& socket() const { return socket_; }
  pid_t pid() const { return pid_; }
  std::uint64_t registered() const {
    auto c = daemon::Client::connect(socket_);
    if (!c) return ~0ull;
    auto s = c->status();
    return s ? s->sandboxes : ~0ull;
  }

 private:
  std::string dir_, socket_;
  pid_t pid_ = -1;
};

// The most sandboxes the daemon had registered at once while it lived (polled every 10 ms): proof
// that runs went through it rather than loading the watch themselves.
class PeakRegistered {
 public:
  explicit PeakRegistered(const Daemon& d)
      : thread_([this, &d] {
          while (!stop_) {
            std::uint64_t n = d.registered();
            if (n != ~0ull && n > peak_) peak_ = n;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        }) {}
  ~PeakRegistered() { stop(); }
  std::uint64_t stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> peak_{0};
  std::thread thread_;
};

std::vector<json> events_of(const std::string& path) {
  std::vector<json> out;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// Paths of the create events of an audit file.
std::vector<std::string> created(const std::string& audit) {
  std::vector<std::string> out;
  for (const json& e : events_of(audit)) {
    if (e.value("kind", "") == "create") out.push_back(e.value("path", ""));
  }
  return out;
}

// One raw request on a fresh connection; the reply (status) or -1 when none came.
int raw_request(const std::string& socket, const void* data, size_t size, std::vector<int> fds,
                int* passed_back = nullptr) {
  int s = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(s);
    return -1;
  }
  iovec iov{const_cast<void*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  timeval tv{3, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::sendmsg(s, &msg, MSG_NOSIGNAL) < 0) {
    ::close(s);
    return -1;
  }
  daemon::ReplyWire reply{};
  iovec riov{&reply, sizeof reply};
  msghdr rmsg{};
  rmsg.msg_iov = &riov;
  rmsg.msg_iovlen = 1;
  alignas(cmsghdr) char rcontrol[CMSG_SPACE(sizeof(int))] = {};
  rmsg.msg_control = rcontrol;
  rmsg.msg_controllen = sizeof rcontrol;
  ssize_t n = ::recvmsg(s, &rmsg, MSG_CMSG_CLOEXEC);
  ::close(s);
  if (passed_back != nullptr) *passed_back = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&rmsg); c != nullptr; c = CMSG_NXTHDR(&rmsg, c)) {
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    if (passed_back != nullptr) {
      *passed_back = fd;
    } else {
      ::close(fd);
    }
  }
  if (n != static_cast<ssize_t>(sizeof reply) || reply.magic != daemon::kMagic) return -1;
  return reply.status;
}

class Sandboxd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) MOAT_SKIP_OR_FAIL("sandboxd needs root (BPF)");
    sb_ = std::make_unique<Sandbox>(Identity::kRoot, Account{});
    ASSERT_TRUE(sb_->ready()) << sb_->error();
  }

  RunSpec through(const Daemon& d) const {
    RunSpec spec;
    spec.env.push_back({"MOAT_SANDBOXD_SOCKET", d.socket()});
    spec.timeout_s = 60;
    return spec;
  }

  std::unique_ptr<Sandbox> sb_;
};

// Events arrive through the daemon's ring, and the registration is there while the run lasts.
TEST_F(Sandboxd, EventsArriveThroughTheDaemon) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  const std::string audit = sb_->in_outside("a.jsonl");
  std::atomic<std::uint64_t> during{0};
  std::thread watcher([&] {
    for (int i = 0; i < 200 && during == 0; ++i) {
      during = d.registered();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  RunResult r =
      sb_->moat({"/bin/sh", "-c", "echo x > made-here; sleep 1"}, {"--audit", audit}, through(d));
  watcher.join();
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(during.load(), 1u) << "the run did not register with sandboxd";
  EXPECT_EQ(d.registered(), 0u) << "the registration outlived the run";
  auto paths = created(audit);
  EXPECT_NE(std::find(paths.begin(), paths.end(), sb_->in_project("made-here")), paths.end())
      << read_file(audit);
  bool exec_seen = false;
  for (const json& e : events_of(audit)) {
    if (e.value("kind", "") == "exec" && e.value("exe", "") == "/bin/sh") exec_seen = true;
    if (e.value("kind", "") == "end") {
      EXPECT_EQ(e.value("lost_events", -1), 0);
    }
  }
  EXPECT_TRUE(exec_seen) << read_file(audit);
}

// Runs back to back, more of them than the warm pool holds: the daemon gives released slots new
// rings in batches (one grace period for several); each run still gets a working ring of its own,
// holding its own file and none of the previous runs'.
TEST_F(Sandboxd, BackToBackRunsEachGetAFreshRing) {
  Daemon d({"--warm", "2"});
  ASSERT_TRUE(d.ready());
  for (int i = 0; i < 10; ++i) {
    const std::string audit = sb_->in_outside("run" + std::to_string(i) + ".jsonl");
    const std::string name = "made-by-" + std::to_string(i);
    RunResult r = sb_->moat({"/bin/sh", "-c", "echo x > " + name}, {"--audit", audit}, through(d));
    ASSERT_EQ(r.status, 0) << r.describe();
    EXPECT_EQ(r.err.find("sandboxd"), std::string::npos) << "not through the daemon: " << r.err;
    std::vector<std::string> mine;
    for (const std::string& p : created(audit)) {
      if (p.find("made-by-") != std::string::npos) mine.push_back(p);
    }
    EXPECT_EQ(mine, std::vector<std::string>{sb_->in_project(name)}) << read_file(audit);
    for (const json& e : events_of(audit)) {
      if (e.value("kind", "") == "end") {
        EXPECT_EQ(e.value("lost_events", -1), 0);
      }
    }
  }
}

// Two sandboxes at once: each audit holds its own file and not the other's.
TEST_F(Sandboxd, TwoConcurrentSandboxesSeeOnlyTheirOwnEvents) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  const std::string a = sb_->in_outside("a.jsonl"), b = sb_->in_outside("b.jsonl");
  RunResult ra, rb;
  PeakRegistered peak(d);
  std::thread ta([&] {
    ra = sb_->moat({"/bin/sh", "-c", "sleep 0.5; echo a > from-a; sleep 0.5"}, {"--audit", a},
                   through(d));
  });
  std::thread tb([&] {
    rb = sb_->moat({"/bin/sh", "-c", "sleep 0.5; echo b > from-b; sleep 0.5"}, {"--audit", b},
                   through(d));
  });
  ta.join();
  tb.join();
  EXPECT_EQ(peak.stop(), 2u) << "both runs must have gone through sandboxd at once";
  ASSERT_EQ(ra.status, 0) << ra.describe();
  ASSERT_EQ(rb.status, 0) << rb.describe();
  auto pa = created(a), pb = created(b);
  auto has = [](const std::vector<std::string>& v, const std::string& p) {
    return std::find(v.begin(), v.end(), p) != v.end();
  };
  EXPECT_TRUE(has(pa, sb_->in_project("from-a"))) << read_file(a);
  EXPECT_FALSE(has(pa, sb_->in_project("from-b"))) << read_file(a);
  EXPECT_TRUE(has(pb, sb_->in_project("from-b"))) << read_file(b);
  EXPECT_FALSE(has(pb, sb_->in_project("from-a"))) << read_file(b);
}

// An unprivileged client cannot register a cgroup sandboxd did not make for it, even one the
// user owns; nobody can register the root cgroup.
TEST_F(Sandboxd, ClientCannotRegisterSomeoneElsesCgroup) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  const std::string v2 = v2_mount();
  if (v2.empty()) MOAT_SKIP_OR_FAIL("no cgroup v2 mount");
  std::string why;
  auto user = ensure_test_user(&why);
  if (!user) MOAT_SKIP_OR_FAIL(why);
  const std::string root_cg = v2 + "/moat-sdtest-root-" + std::to_string(::getpid());
  const std::string user_cg = v2 + "/moat-sdtest-user-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(root_cg.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(user_cg.c_str(), 0755), 0);
  ASSERT_EQ(::chown(user_cg.c_str(), user->uid, user->gid), 0);
  int root_fd = ::open(root_cg.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int user_fd = ::open(user_cg.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int top_fd = ::open(v2.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  daemon::RequestWire reg = daemon::encode_request({daemon::Op::kRegister, 1u << 16});
  // As the user: both refused (kDenied), reported through the exit code of a child.
  pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(user->gid) != 0 || ::setuid(user->uid) != 0) ::_exit(99);
    int a = raw_request(d.socket(), &reg, sizeof reg, {root_fd});
    int b = raw_request(d.socket(), &reg, sizeof reg, {user_fd});
    ::_exit(a == static_cast<int>(ReplyStatus::kDenied) &&
                    b == static_cast<int>(ReplyStatus::kDenied)
                ? 0
                : 10 + a * 10 + b);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  // Root: the v2 root (every host process) is never a sandbox; a real sandbox cgroup works.
  EXPECT_EQ(raw_request(d.socket(), &reg, sizeof reg, {top_fd}),
            static_cast<int>(ReplyStatus::kDenied));
  int ring = -1;
  EXPECT_EQ(raw_request(d.socket(), &reg, sizeof reg, {root_fd}, &ring),
            static_cast<int>(ReplyStatus::kOk));
  EXPECT_GE(ring, 0);
  if (ring >= 0) ::close(ring);
  ::close(root_fd);
  ::close(user_fd);
  ::close(top_fd);
  ::rmdir(root_cg.c_str());
  ::rmdir(user_cg.c_str());
  EXPECT_EQ(d.registered(), 0u);
}

// moat killed with SIGKILL: the kernel closes its connection and the daemon frees the entry.
TEST_F(Sandboxd, KillNineFreesTheRegistration) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  RunSpec spec = through(d);
  spec.timeout_s = 2;  // the harness SIGKILLs moat at the timeout
  PeakRegistered peak(d);
  RunResult r = sb_->moat({"/bin/sh", "-c", "sleep 30"}, {}, spec);
  EXPECT_TRUE(r.timed_out) << r.describe();
  EXPECT_EQ(peak.stop(), 1u);
  std::uint64_t left = ~0ull;
  for (int i = 0; i < 100 && left != 0; ++i) {
    left = d.registered();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(left, 0u);
}

// The daemon dies mid-run: the watch is gone, so moat stops the sandbox and exits 125.
TEST_F(Sandboxd, DaemonDyingMidRunIs125) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  std::thread killer([&] {
    for (int i = 0; i < 200 && d.registered() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    d.kill(SIGKILL);
  });
  const std::string marker = sb_->in_project("survived");
  RunResult r = sb_->moat({"/bin/sh", "-c", "sleep 3; echo > survived"}, {}, through(d));
  killer.join();
  EXPECT_EQ(r.status, 125) << r.describe();
  EXPECT_NE(r.err.find("sandboxd went away"), std::string::npos) << r.describe();
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_FALSE(exists(marker)) << "the sandbox kept running unwatched";
}

// Malformed requests get an error reply and leave the daemon serving.
TEST_F(Sandboxd, MalformedRequestsAreRefusedAndTheDaemonLives) {
  Daemon d({"--max-per-uid", "1"});
  ASSERT_TRUE(d.ready());
  const std::string v2 = v2_mount();
  int cg = ::open(v2.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int malformed = static_cast<int>(ReplyStatus::kMalformed);
  auto req = [](daemon::Op op, std::uint32_t ring) { return daemon::encode_request({op, ring}); };

  char junk[3] = {1, 2, 3};
  EXPECT_EQ(raw_request(d.socket(), junk, sizeof junk, {}), malformed);
  char big[64] = {};
  EXPECT_EQ(raw_request(d.socket(), big, sizeof big, {}), malformed);  // truncated to 17
  auto w = req(daemon::Op::kHello, 0);
  w.magic = 0x12345678;
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {}), malformed);
  w = req(daemon::Op::kHello, 0);
  w.version = 99;
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {}), static_cast<int>(ReplyStatus::kVersion));
  w = req(static_cast<daemon::Op>(77), 0);
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {}), malformed);
  w = req(daemon::Op::kHello, 0);
  w.arg = 1;
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {}), malformed);
  w = req(daemon::Op::kHello, 0);
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {null_fd}), malformed);  // an fd unasked
  w = req(daemon::Op::kRegister, 1u << 16);
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {}), malformed);         // no fd
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {cg, cg}), malformed);   // two fds
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {null_fd}), malformed);  // not a cgroup
  w = req(daemon::Op::kRegister, 5000);
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {cg}), malformed);  // not a power of two
  w = req(daemon::Op::kRegister, 1u << 30);
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {cg}), malformed);  // too big
  w = req(daemon::Op::kLost, 0);
  EXPECT_EQ(raw_request(d.socket(), &w, sizeof w, {}), static_cast<int>(ReplyStatus::kState));
  ::close(cg);
  ::close(null_fd);

  // Still serving, and the per-uid limit holds: one sandbox of ours at a time.
  ASSERT_TRUE(d.ready());
  const std::string audit = sb_->in_outside("a.jsonl");
  RunSpec spec = through(d);
  RunResult first;
  std::thread t([&] { first = sb_->moat({"/bin/sh", "-c", "sleep 1.5"}, {}, spec); });
  for (int i = 0; i < 200 && d.registered() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  RunResult second = sb_->moat({"/bin/true"}, {"--audit", audit}, spec);
  t.join();
  EXPECT_EQ(first.status, 0) << first.describe();
  // Over the limit, moat loads the watch itself (root can) and says why.
  EXPECT_EQ(second.status, 0) << second.describe();
  EXPECT_NE(second.err.find("limit"), std::string::npos) << second.describe();
}

}  // namespace
}  // namespace moat::testing

namespace moat::testing {
namespace {

// An unprivileged client gets a cgroup made for it, may register that one (and only that one),
// may move its own child into it but not someone else's process; the cgroup goes with the
// connection.
// Runs WORK in a child that became USER (after BEFORE, still as root); returns what WORK
// returned (or -1).
template <typename Work, typename Before>
int as_user(const Account& user, Work work, Before before) {
  int report[2];
  if (::pipe(report) != 0) return -1;
  pid_t child = ::fork();
  if (child == 0) {
    ::close(report[0]);
    before();
    int code = (::setgid(user.gid) != 0 || ::setuid(user.uid) != 0) ? 100 : work();
    (void)!::write(report[1], &code, sizeof code);
    ::_exit(0);
  }
  ::close(report[1]);
  int code = -1;
  if (::read(report[0], &code, sizeof code) != static_cast<ssize_t>(sizeof code)) code = -1;
  ::close(report[0]);
  ::waitpid(child, nullptr, 0);
  return code;
}

template <typename Work>
int as_user(const Account& user, Work work) {
  return as_user(user, work, [] {});
}

TEST_F(Sandboxd, UnprivilegedClientGetsItsOwnDelegatedCgroup) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  std::string why;
  auto user = ensure_test_user(&why);
  if (!user) MOAT_SKIP_OR_FAIL(why);
  const int code = as_user(*user, [&] {
    auto c = daemon::Client::connect(d.socket());
    if (!c) return 2;
    auto dir = c->make_cgroup();
    if (!dir) return 3;
    if (!c->register_sandbox(dir->v2.get(), 1u << 16)) return 4;
    if (c->join(1)) return 5;  // init is not our child
    int hold[2];
    if (::pipe(hold) != 0) return 6;
    pid_t kid = ::fork();
    if (kid == 0) {
      char b;
      (void)!::read(hold[0], &b, 1);
      ::_exit(0);
    }
    if (!c->join(kid)) return 7;
    const std::string where = read_file("/proc/" + std::to_string(kid) + "/cgroup");
    if (where.find("/moat-sandboxd/u" + std::to_string(user->uid) + "-") == std::string::npos) {
      return 8;
    }
    // The delegated cgroup.kill is ours to use.
    int kill_fd = ::openat(dir->v2.get(), "cgroup.kill", O_WRONLY | O_CLOEXEC);
    if (kill_fd < 0 || ::write(kill_fd, "1", 1) != 1) return 9;
    int st = 0;
    ::waitpid(kid, &st, 0);
    if (!WIFSIGNALED(st)) return 10;
    return 0;
  });
  EXPECT_EQ(code, 0) << "step " << code << " failed";
  // The connection is gone: so are the registration and the cgroup.
  std::uint64_t left = ~0ull;
  for (int i = 0; i < 100 && left != 0; ++i) {
    left = d.registered();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(left, 0u);
  const std::string v2 = v2_mount();
  const std::string prefix = "u" + std::to_string(user->uid) + "-";
  bool remains = true;
  for (int i = 0; i < 100 && remains; ++i) {
    remains = false;
    if (DIR* dir = ::opendir((v2 + "/moat-sandboxd").c_str())) {
      while (dirent* e = ::readdir(dir)) {
        if (std::string(e->d_name).rfind(prefix, 0) == 0) remains = true;
      }
      ::closedir(dir);
    }
    if (remains) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(remains) << "the delegated cgroup outlived its connection";
}

// moat run as an unprivileged user with sandboxd: the run is watched (source "watch", exec and
// file events from the kernel), through a cgroup the daemon delegated, instead of the
// supervisor's seccomp-notification report.
TEST_F(Sandboxd, UnprivilegedRunIsWatchedThroughTheDaemon) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  std::string why;
  auto user = ensure_test_user(&why);
  if (!user) MOAT_SKIP_OR_FAIL(why);
  Sandbox sb(Identity::kUser, *user);
  ASSERT_TRUE(sb.ready()) << sb.error();
  const std::string audit = sb.in_outside("u.jsonl");
  PeakRegistered peak(d);
  // The sleep keeps the registration up for several of the sampler's 10 ms periods: a whole run
  // can be shorter than one.
  RunResult r = sb.moat({"/bin/sh", "-c", "echo x > by-user; /bin/true; sleep 0.2"},
                        {"--audit", audit}, through(d));
  EXPECT_EQ(peak.stop(), 1u);
  ASSERT_EQ(r.status, 0) << r.describe();
  bool watch_source = false, notify_source = false, exec_true = false, create_layer_watch = false;
  for (const json& e : events_of(audit)) {
    const std::string kind = e.value("kind", "");
    if (kind == "run") {
      for (const json& src : e.value("sources", json::array())) {
        if (src == "watch") watch_source = true;
        if (src == "file-notify") notify_source = true;
      }
    }
    if (kind == "exec" && e.value("exe", "") == "/usr/bin/true") exec_true = true;
    if (kind == "exec" && e.value("exe", "") == "/bin/true") exec_true = true;
    if (kind == "create" && e.value("path", "") == sb.in_project("by-user") &&
        e.value("layer", "") == "watch") {
      create_layer_watch = true;
    }
  }
  EXPECT_TRUE(watch_source) << read_file(audit);
  EXPECT_FALSE(notify_source) << read_file(audit);
  EXPECT_TRUE(exec_true) << read_file(audit);
  EXPECT_TRUE(create_layer_watch) << read_file(audit);
}

// Tracepoints the daemon's links are attached to, read from its /proc fdinfo (raw tracepoint
// links say tp_name there), so other BPF users on the machine do not count.
int daemon_links_to(pid_t pid, const std::string& tracepoint) {
  int n = 0;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      if (read_file(dir + "/" + e->d_name).find("tp_name:\t" + tracepoint + "\n") !=
          std::string::npos) {
        ++n;
      }
    }
    ::closedir(d);
  }
  return n;
}

// The syscall programs (which every host system call pays for) are attached only while a
// sandbox is registered, and detached ~2 s after the last one left; the process programs stay.
TEST_F(Sandboxd, SyscallProgramsAreAttachedOnlyWhileSandboxesRun) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  EXPECT_EQ(daemon_links_to(d.pid(), "sched_process_exec"), 1);
  EXPECT_EQ(daemon_links_to(d.pid(), "sys_exit"), 0);
  std::atomic<int> during{0};
  std::thread probe([&] {
    for (int i = 0; i < 200 && during == 0; ++i) {
      if (d.registered() == 1) during = daemon_links_to(d.pid(), "sys_exit");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  const std::string audit = sb_->in_outside("a.jsonl");
  RunResult r =
      sb_->moat({"/bin/sh", "-c", "sleep 0.5; echo > seen"}, {"--audit", audit}, through(d));
  probe.join();
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(during.load(), 1);
  auto paths = created(audit);
  EXPECT_NE(std::find(paths.begin(), paths.end(), sb_->in_project("seen")), paths.end());
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  EXPECT_EQ(daemon_links_to(d.pid(), "sys_exit"), 0);
  EXPECT_EQ(daemon_links_to(d.pid(), "sys_enter"), 0) << "no sys_enter program any more";
  EXPECT_EQ(daemon_links_to(d.pid(), "sched_process_exec"), 1);
}

// The sandbox's pid 1 is moat's own setup and reaper: its system calls are not traced. The
// daemon registers a run while the sandbox still builds its root (the command waits for the
// watch), so before, every mount point made after the registration was a record the kernel
// copied and the launcher decoded and threw away (~50 of a `true`'s ~55). Now a run of `true`
// carries only its own: its exec, its exit and the few of moat's exec step.
TEST_F(Sandboxd, SandboxSetupIsNotTraced) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  const std::string audit = sb_->in_outside("a.jsonl");
  RunSpec spec = through(d);
  spec.env.push_back({"MOAT_TRACE_SETUP", "1"});
  for (int i = 0; i < 8; ++i) {
    RunResult r = sb_->moat({"/bin/true"}, {"--audit", audit}, spec);
    ASSERT_EQ(r.status, 0) << r.describe();
    const std::string mark = "moat: watch records ";
    const auto at = r.err.find(mark);
    ASSERT_NE(at, std::string::npos) << r.describe();
    const unsigned long records = std::stoul(r.err.substr(at + mark.size()));
    EXPECT_LE(records, 10u) << "run " << i << ": the setup was traced\n" << r.describe();
    bool exec_seen = false;
    for (const json& e : events_of(audit)) {
      if (e.value("kind", "") == "exec" && e.value("exe", "") == "/bin/true") exec_seen = true;
    }
    EXPECT_TRUE(exec_seen) << read_file(audit);
  }
}

// Guards: memory exhaustion by an unprivileged user's hostile build. Without root a memory limit
// has no cgroup to live in (moat refuses with 125, tests/escape); with sandboxd the delegated
// cgroup carries it (v1 memory on hybrid hosts) and the hog is killed in the sandbox.
TEST_F(Sandboxd, UnprivilegedMemoryLimitThroughTheDaemon) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  std::string why;
  auto user = ensure_test_user(&why);
  if (!user) MOAT_SKIP_OR_FAIL(why);
  Sandbox sb(Identity::kUser, *user);
  ASSERT_TRUE(sb.ready()) << sb.error();
  const std::string profile = sb.base() + "/limits.yaml";
  sb.write_file(profile, "version: 1\nextends: [base]\nlimits:\n  memory: 256MiB\n");
  RunSpec spec = through(d);
  RunResult hog = sb.moat(Sandbox::probe({"mem-hog", "1024"}), {"-p", profile}, spec);
  EXPECT_NE(hog.status, 125) << "limits profile rejected\n" << hog.describe();
  EXPECT_FALSE(hog.probe_ok()) << "1 GiB touched under a 256 MiB limit\n" << hog.describe();
  EXPECT_TRUE(hog.status == 128 + SIGKILL || hog.probe_errno() == "ENOMEM") << hog.describe();
  // Under the limit the same probe works: the limit, not something else, stopped the hog.
  RunResult small = sb.moat(Sandbox::probe({"mem-hog", "64"}), {"-p", profile}, spec);
  EXPECT_TRUE(small.probe_ok()) << small.describe();
}

// A daemon speaking another protocol version: moat says so and loads the watch itself (root),
// so the run is still watched.
TEST_F(Sandboxd, OtherProtocolVersionFallsBackToTheInProcessWatch) {
  char dir[] = "/tmp/moat-sdv-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/s.sock";
  int listener = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  std::atomic<int> answered{0};
  std::thread fake([&] {
    int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    char buf[64];
    while (::recv(c, buf, sizeof buf, 0) > 0) {
      daemon::ReplyWire r = daemon::make_reply(ReplyStatus::kVersion, "speaks version 2");
      r.version = 2;
      ::send(c, &r, sizeof r, MSG_NOSIGNAL);
      ++answered;
    }
    ::close(c);
  });
  RunSpec spec;
  spec.env.push_back({"MOAT_SANDBOXD_SOCKET", path});
  const std::string audit = sb_->in_outside("v.jsonl");
  RunResult r = sb_->moat({"/bin/sh", "-c", "echo > still-watched"}, {"--audit", audit}, spec);
  ::shutdown(listener, SHUT_RDWR);
  ::close(listener);
  fake.join();
  ::unlink(path.c_str());
  ::rmdir(dir);
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_GE(answered.load(), 1);
  EXPECT_NE(r.err.find("protocol version 2"), std::string::npos) << r.describe();
  auto paths = created(audit);
  EXPECT_NE(std::find(paths.begin(), paths.end(), sb_->in_project("still-watched")), paths.end())
      << read_file(audit);
}

}  // namespace
}  // namespace moat::testing

namespace moat::testing {
namespace {

// A loopback TCP pair: the client end connected to the server end.
struct LoopbackPair {
  int client = -1, server = -1;
  LoopbackPair() {
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener, 1);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a);
    server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    ::close(listener);
  }
  ~LoopbackPair() {
    ::close(client);
    ::close(server);
  }
};

// A TLS ClientHello record with server_name NAME.
std::string hello_for(const std::string& name) {
  auto u16 = [](size_t v) { return std::string{static_cast<char>(v >> 8), static_cast<char>(v)}; };
  std::string ext =
      u16(0) + u16(name.size() + 5) + u16(name.size() + 3) + '\0' + u16(name.size()) + name;
  std::string body = std::string("\x03\x03", 2) + std::string(32, '\x11') +
                     std::string("\x00\x00\x02\x13\x01\x01\x00", 7) + u16(ext.size()) + ext;
  std::string hs = std::string("\x01\x00", 2) + u16(body.size()) + body;
  return std::string("\x16\x03\x01", 3) + u16(hs.size()) + hs;
}

// The daemon's kernel name check, through the client calls the gate uses: only connected TCP
// sockets and clean names are taken; a fronted hello never reaches the server and its refusal
// comes back to the connection that bound it (and only to it); an honest one passes.
std::string v1_memory_mount() {
  std::string out;
  FILE* f = ::setmntent("/proc/self/mounts", "r");
  if (f == nullptr) return out;
  while (mntent* m = ::getmntent(f)) {
    if (std::string(m->mnt_type) == "cgroup" && ::hasmntopt(m, "memory") != nullptr)
      out = m->mnt_dir;
  }
  ::endmntent(f);
  return out;
}

// The sandbox leaves the caller's cgroups for the one sandboxd makes: it must not leave the
// caller's memory limit behind (an administrator's limit on a user), whatever limit it asks for.
TEST_F(Sandboxd, DelegatedCgroupKeepsTheCallersMemoryLimit) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  std::string why;
  auto user = ensure_test_user(&why);
  if (!user) MOAT_SKIP_OR_FAIL(why);
  const std::string v1 = v1_memory_mount();
  if (v1.empty()) MOAT_SKIP_OR_FAIL("no cgroup v1 memory hierarchy on this host");
  const std::string limited = v1 + "/moat-test-limit-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(limited.c_str(), 0755), 0);
  std::ofstream(limited + "/memory.limit_in_bytes") << (64 << 20);
  // The limit the delegated v1 memory cgroup got, in MiB.
  const int limit_mib = as_user(
      *user,
      [&] {
        auto c = daemon::Client::connect(d.socket());
        auto dir = c ? c->make_cgroup(1ull << 40) : Result<daemon::DelegatedCgroup>(c.error());
        if (!dir || !dir->v1_memory.valid()) return -2;
        int fd = ::openat(dir->v1_memory.get(), "memory.limit_in_bytes", O_RDONLY | O_CLOEXEC);
        char buf[64] = {};
        if (fd < 0 || ::read(fd, buf, sizeof buf - 1) <= 0) return -3;
        return static_cast<int>(std::atoll(buf) >> 20);
      },
      [&] { std::ofstream(limited + "/cgroup.procs") << ::getpid(); });
  for (int i = 0; i < 50 && ::rmdir(limited.c_str()) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(limit_mib, 0) << "no v1 memory cgroup came back (" << limit_mib << ")";
  EXPECT_LE(limit_mib, 64) << "the delegated cgroup lifts the caller's 64 MiB limit";
}

// A client that keeps a descriptor on its delegated cgroup's `tasks`, made a child cgroup, and
// disconnected must not keep processes or cgroups alive: retiring kills again on every pass and
// removes the cgroups deepest first.
TEST_F(Sandboxd, RetiredCgroupsDieWithTheirConnection) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  std::string why;
  auto user = ensure_test_user(&why);
  if (!user) MOAT_SKIP_OR_FAIL(why);
  int pid_pipe[2];
  ASSERT_EQ(::pipe(pid_pipe), 0);
  auto sleeper = [] {
    pid_t p = ::fork();
    if (p == 0) {
      ::syscall(SYS_close_range, 3, ~0U, 0);  // holds none of the test's pipes open
      ::sleep(30);
      ::_exit(0);
    }
    return p;
  };
  int code = as_user(*user, [&] {
    int tasks = -1;
    auto join = [&](pid_t p) {
      const std::string text = std::to_string(p);
      (void)!::write(tasks, text.data(), text.size());
      (void)!::write(pid_pipe[1], &p, sizeof p);
    };
    {
      auto c = daemon::Client::connect(d.socket());
      if (!c) return 1;
      auto dir = c->make_cgroup(64ull << 20);
      if (!dir) return 2;
      if (::mkdirat(dir->v2.get(), "x", 0755) != 0) return 3;
      const bool v1 = dir->v1_memory.valid();
      tasks = ::openat(v1 ? dir->v1_memory.get() : dir->v2.get(), v1 ? "tasks" : "cgroup.procs",
                       O_WRONLY | O_CLOEXEC);
      if (tasks < 0) return 4;
      join(sleeper());              // busy: the cgroup cannot be removed at once
    }                               // disconnected: the daemon retires the cgroups
    for (int i = 0; i < 20; ++i) {  // and keeps adding processes through the kept descriptor
      join(sleeper());
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
    return 0;
  });
  ::close(pid_pipe[1]);
  ASSERT_EQ(code, 0);
  std::vector<pid_t> pids;
  for (pid_t p = 0; ::read(pid_pipe[0], &p, sizeof p) == static_cast<ssize_t>(sizeof p);) {
    pids.push_back(p);
  }
  ::close(pid_pipe[0]);
  const std::string prefix = "u" + std::to_string(user->uid) + "-";
  bool remains = true;
  for (int i = 0; i < 150 && remains; ++i) {
    remains = false;
    for (const std::string& root :
         {v2_mount() + "/moat-sandboxd", v1_memory_mount() + "/moat-sandboxd"}) {
      if (DIR* dir = ::opendir(root.c_str())) {
        while (dirent* e = ::readdir(dir)) {
          if (std::string(e->d_name).rfind(prefix, 0) == 0) remains = true;
        }
        ::closedir(dir);
      }
    }
    if (remains) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(remains) << "a retired cgroup outlived its connection";
  // Every process is dead, or never made it into a cgroup of the daemon's (joined after it was
  // removed): none lives on in one, past the limit it was given.
  for (pid_t p : pids) {
    const std::string where = read_file("/proc/" + std::to_string(p) + "/cgroup");
    EXPECT_EQ(where.find("moat-sandboxd"), std::string::npos)
        << "pid " << p << " lives on in a retired cgroup:\n"
        << where;
    ::kill(p, SIGKILL);
  }
}

// Sockets still under the kernel name check when their client disconnects keep counting against
// the uid until they leave the map: reconnecting must not reset the count (one user could fill
// the map, shared by every user, and push everyone's HTTPS onto the relay).
TEST_F(Sandboxd, OrphanedNameCheckSocketsKeepCounting) {
  Daemon d({"--max-bound-per-uid", "2"});
  ASSERT_TRUE(d.ready());
  auto probe = daemon::Client::connect(d.socket());
  ASSERT_TRUE(probe.ok());
  if (!probe->offers(daemon::kFeatureNameCheck)) MOAT_SKIP_OR_FAIL("no kernel name check here");
  auto first = std::make_unique<LoopbackPair>(), second = std::make_unique<LoopbackPair>();
  {
    auto a = daemon::Client::connect(d.socket());
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(a->bind_name(first->client, "front.test").ok());
    ASSERT_TRUE(a->bind_name(second->client, "front.test").ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the daemon sees the hang-up
  auto b = daemon::Client::connect(d.socket());
  ASSERT_TRUE(b.ok());
  LoopbackPair third;
  EXPECT_FALSE(b->bind_name(third.client, "front.test").ok())
      << "the count was reset by reconnecting while the sockets stay bound";
  first.reset();
  second.reset();
  EXPECT_TRUE(b->bind_name(third.client, "front.test").ok()) << "closed sockets still count";
}

// A client that keeps its ring (descriptor or mapping) after disconnecting keeps the ring's
// memory alive, charged to sandboxd: it must keep counting against the uid's ring budget until
// the kernel frees it, or one user could pin unbounded memory by reconnecting.
TEST_F(Sandboxd, KeptRingsCountUntilFreed) {
  Daemon d({"--max-ring-mib-per-uid", "1"});
  ASSERT_TRUE(d.ready());
  std::string why;
  auto user = ensure_test_user(&why);
  if (!user) MOAT_SKIP_OR_FAIL(why);
  const int code = as_user(*user, [&] {
    std::vector<sys::UniqueFd> kept;
    auto register_one = [&]() -> bool {
      auto c = daemon::Client::connect(d.socket());
      if (!c) return false;
      auto dir = c->make_cgroup();
      if (!dir) return false;
      auto ring = c->register_sandbox(dir->v2.get(), 1u << 19);
      if (!ring) return false;
      kept.push_back(std::move(*ring));
      return true;  // the client disconnects here; the ring stays with us
    };
    if (!register_one() || !register_one()) return 2;             // 1 MiB: the whole budget
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // both hang-ups seen
    if (register_one()) return 3;  // the budget was given back while the rings live
    kept.clear();
    for (int i = 0; i < 50; ++i) {  // freed by the kernel, then seen by a sweep
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (register_one()) return 0;
      kept.clear();
    }
    return 4;
  });
  EXPECT_EQ(code, 0) << "step " << code << " failed";
}

TEST_F(Sandboxd, NameCheckTakesConnectedTcpAndReportsRefusals) {
  Daemon d;
  ASSERT_TRUE(d.ready());
  auto client = daemon::Client::connect(d.socket());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client->offers(daemon::kFeatureNameCheck));
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  EXPECT_FALSE(client->bind_name(pipe_fds[0], "front.test").ok()) << "a pipe is no socket";
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  int unconnected = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_FALSE(client->bind_name(unconnected, "front.test").ok());
  ::close(unconnected);
  int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  EXPECT_FALSE(client->bind_name(udp, "front.test").ok());
  ::close(udp);
  {
    LoopbackPair p;
    EXPECT_FALSE(client->bind_name(p.client, "Front.test").ok()) << "names are lowercase";
    EXPECT_FALSE(client->bind_name(p.client, "front.test\n").ok());
  }

  LoopbackPair fronted, honest;
  auto fronted_id = client->bind_name(fronted.client, "front.test");
  auto honest_id = client->bind_name(honest.client, "front.test");
  ASSERT_TRUE(fronted_id.ok()) << fronted_id.error().to_string();
  ASSERT_TRUE(honest_id.ok());
  const std::string evil = hello_for("evil.test"), good = hello_for("front.test");
  EXPECT_EQ(::send(fronted.client, evil.data(), evil.size(), MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EACCES);
  EXPECT_EQ(::send(honest.client, good.data(), good.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(good.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  char buf[4096];
  EXPECT_EQ(::recv(fronted.server, buf, sizeof buf, 0), -1) << "fronted bytes reached the server";
  EXPECT_EQ(::recv(honest.server, buf, sizeof buf, 0), static_cast<ssize_t>(good.size()));

  // Another client sees none of this connection's refusals.
  auto other = daemon::Client::connect(d.socket());
  ASSERT_TRUE(other.ok());
  auto none = other->next_name_refusal();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->connection, 0u);

  auto refusal = client->next_name_refusal();
  for (int i = 0; i < 100 && refusal.ok() && refusal->connection == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the daemon reads its ring
    refusal = client->next_name_refusal();
  }
  ASSERT_TRUE(refusal.ok()) << refusal.error().to_string();
  EXPECT_EQ(refusal->connection, *fronted_id);
  EXPECT_EQ(refusal->seen, "evil.test");
  auto after = client->next_name_refusal();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->connection, 0u) << "the honest connection passed: no refusal for it";
}

}  // namespace
}  // namespace moat::testing
