// Parent of the sandbox: clone3 with every namespace, id maps, cgroups, release, then a poll loop
// over the child's reports, forwarded signals, the timeout and the child's pidfd.
#include "sandboxd/launcher/launch.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>

#include "sandboxd/bpf_net/name_binding.h"
#include "sandboxd/bpf_net/net_layer.h"
#include "sandboxd/daemon/client.h"
#include "sandboxd/gate/gate.h"
#include "sandboxd/launcher/cgroup.h"
#include "sandboxd/launcher/child.h"
#include "sandboxd/launcher/daemon_name_check.h"
#include "sandboxd/launcher/leftovers.h"
#include "sandboxd/launcher/placeholder_journal.h"
#include "sandboxd/launcher/prepare.h"
#include "sandboxd/report/run_events.h"
#include "sandboxd/supervisor/file_notifier.h"
#include "sandboxd/sys/landlock.h"
#include "sandboxd/sys/small_file.h"
#include "sandboxd/sys/unique_fd.h"
#include "sandboxd/watch/watch.h"

namespace moat::launcher {
namespace {
namespace ll = sys::landlock;
using sys::UniqueFd;

constexpr int kFdFloor = 10;  // pipe fds live above the child's fixed fds (3, 4)

Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return syscall_error("creating a pipe", "pipe2", "", errno);
  UniqueFd r(::fcntl(fds[0], F_DUPFD_CLOEXEC, kFdFloor));
  UniqueFd w(::fcntl(fds[1], F_DUPFD_CLOEXEC, kFdFloor));
  ::close(fds[0]);
  ::close(fds[1]);
  if (!r.valid() || !w.valid()) return syscall_error("creating a pipe", "fcntl", "", errno);
  return std::pair{std::move(r), std::move(w)};
}

// The report channel: SOCK_SEQPACKET keeps each Report a message and carries descriptors.
Result<std::pair<UniqueFd, UniqueFd>> make_report_channel() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return syscall_error("creating the report channel", "socketpair", "AF_UNIX, SOCK_SEQPACKET",
                         errno);
  }
  UniqueFd r(::fcntl(fds[0], F_DUPFD_CLOEXEC, kFdFloor));
  UniqueFd w(::fcntl(fds[1], F_DUPFD_CLOEXEC, kFdFloor));
  ::close(fds[0]);
  ::close(fds[1]);
  if (!r.valid() || !w.valid())
    return syscall_error("creating the report channel", "fcntl", "", errno);
  return std::pair{std::move(r), std::move(w)};
}

// One report and the descriptors that came with it. 0 on EOF, -1 on error.
ssize_t receive_report(int fd, Report& report, std::vector<UniqueFd>& fds) {
  iovec iov{&report, sizeof(report)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(received);
    }
  }
  return n;
}

// The allowlist from the plan's rules; a rule that does not parse is a setup error.
Result<gate::Allowlist> build_allowlist(const policy::Plan& plan) {
  gate::Allowlist allowlist;
  allowlist.set_learning(plan.learning);
  auto where = [](const policy::SourceRef& s) {
    return s.line > 0 ? s.file + ":" + std::to_string(s.line) : s.file;
  };
  for (const policy::NetRule& rule : plan.net_allow) {
    auto parsed = gate::parse_allow_rule(rule.text, where(rule.origin));
    if (!parsed) return parsed.error();
    allowlist.add(std::move(*parsed));
  }
  for (const policy::StaticHost& host : plan.net_hosts) {
    auto address = gate::IpAddress::parse(host.address);
    if (!address) {
      return make_error(ErrorCode::kInvalidArgument,
                        "hosts: " + host.name + ": '" + host.address + "' is not an IP address");
    }
    allowlist.add_static_host(host.name, *address, where(host.origin));
  }
  return allowlist;
}

Status write_proc_file(pid_t pid, const char* name, const std::string& content) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return syscall_error("writing the id map", "open", path, errno);
  if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    return syscall_error("writing the id map", "write", path + ", \"" + content + "\"", errno,
                         "user namespaces may be restricted (sysctl user.max_user_namespaces, "
                         "kernel.apparmor_restrict_unprivileged_userns)");
  }
  return {};
}

// The command keeps the caller's uid and gid; nothing else is mapped.
// Unprivileged: the caller's ids alone. Root: every id as itself, so the setup steps (root in
// the namespace) read the paths root reads: a project under a home of mode 0700 owned by another
// user (`sudo moat run` there) is then traversable, where with root alone mapped the
// namespace's capabilities do not cover files of unmapped owners (EACCES). The command gains
// nothing from it: it runs with no capabilities, as before.
Status write_id_maps(pid_t pid) {
  const bool root = ::getuid() == 0 && ::getgid() == 0;
  std::string uid = std::to_string(::getuid());
  std::string gid = std::to_string(::getgid());
  const std::string uid_map = root ? "0 0 4294967295\n" : uid + " " + uid + " 1\n";
  const std::string gid_map = root ? "0 0 4294967295\n" : gid + " " + gid + " 1\n";
  if (auto st = write_proc_file(pid, "uid_map", uid_map); !st) return st;
  if (auto st = write_proc_file(pid, "setgroups", "deny"); !st) return st;
  return write_proc_file(pid, "gid_map", gid_map);
}

std::string describe_setup_failure(const Report& report, const ChildSpec& spec) {
  int count = 0;
  const StepInfo* steps = setup_steps(&count);
  std::string step = report.step >= 0 && report.step < count ? steps[report.step].name : "?";
  std::string out = "sandbox setup failed at step '" + step + "'";
  if (step == "mounts" && report.index >= 0 &&
      static_cast<size_t>(report.index) < spec.mounts.size()) {
    const MountOp& op = spec.mounts[static_cast<size_t>(report.index)];
    out += " (" + op.why + ": " + (op.source.empty() ? "" : op.source + " -> ") + op.target + ")";
  }
  if (step == "landlock-ruleset" && report.index >= 0 &&
      static_cast<size_t>(report.index) < spec.landlock_paths.size()) {
    out += " (path " + spec.landlock_paths[static_cast<size_t>(report.index)].path + ")";
  }
  return out;
}

std::string hint_for_step(const std::string& message, int err) {
  if (message.find("'staging-root'") != std::string::npos ||
      message.find("'mount-propagation'") != std::string::npos) {
    return "mounting inside a user namespace failed; check `moat doctor`";
  }
  if (err == EACCES || err == EPERM) return "check `moat doctor` for what this kernel allows";
  return {};
}

pid_t clone_sandbox(bool namespaces, bool network, int cgroup_fd, int* pidfd) {
  clone_args args{};
  args.flags = CLONE_PIDFD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
  }
  // Unless `network`, the network namespace is made by the child itself, in parallel with its
  // mounts (child.cc, start-network / join-network): here it costs ~0.5 ms on the critical path.
  if (namespaces) {
    args.flags |=
        CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (network) args.flags |= CLONE_NEWNET;
  }
  args.pidfd = reinterpret_cast<std::uint64_t>(pidfd);
  args.exit_signal = SIGCHLD;
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof(args)));
}

sigset_t supervised_signals();

// The signals moat takes over, held (blocked) from the start of the run to its end, declared
// first so that everything else is undone before they are released:
// - the supervised ones and SIGCHLD: a Ctrl-C while the placeholders are being pinned in the
//   project, before the signalfd exists, killed moat and left them there with no journal (an
//   empty `.git` file breaks git in that directory); now it waits, and is forwarded to the
//   command once it runs;
// - SIGPIPE: a warning or trace line written to a closed stderr (`moat run ... 2>&1 | head`)
//   killed moat halfway through the same way; the write fails with EPIPE instead, and a pending
//   SIGPIPE is discarded at the end.
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t held = supervised_signals();
    sigaddset(&held, SIGCHLD);
    sigaddset(&held, SIGPIPE);
    ::sigprocmask(SIG_BLOCK, &held, &caller_mask_);
  }
  ~SignalsHeld() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    const timespec now{};
    if (sigismember(&caller_mask_, SIGPIPE) != 1) {
      while (::sigtimedwait(&pipe, nullptr, &now) == SIGPIPE) {
      }
    }
    ::sigprocmask(SIG_SETMASK, &caller_mask_, nullptr);
  }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;
  // The mask the command starts with.
  const sigset_t& caller_mask() const { return caller_mask_; }

 private:
  sigset_t caller_mask_{};
};

sigset_t supervised_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT}) {
    sigaddset(&set, sig);
  }
  return set;
}

// MOAT_TRACE_SETUP=1 prints how long each phase of the launch took, for performance work.
class PhaseClock {
 public:
  PhaseClock() : enabled_(std::getenv("MOAT_TRACE_SETUP") != nullptr) { last_ = now(); }
  void mark(const char* phase) {
    if (!enabled_) return;
    double t = now();
    std::fprintf(stderr, "moat: %-22s %7.3f ms\n", phase, (t - last_) * 1e3);
    last_ = t;
  }
  bool enabled() const { return enabled_; }
  // The child's own steps (stamped into a shared page), from the moment the parent released it.
  void mark_release() { release_ = now(); }
  void print_steps(const std::int64_t* stamps, int count) const {
    if (!enabled_ || stamps == nullptr) return;
    int names = 0;
    const StepInfo* steps = setup_steps(&names);
    double previous = release_;
    for (int i = 0; i < count && i < names; ++i) {
      if (stamps[i] == 0) continue;
      double t = static_cast<double>(stamps[i]) * 1e-9;
      std::fprintf(stderr, "moat:   child %-18s %7.3f ms\n", steps[i].name, (t - previous) * 1e3);
      previous = t;
    }
  }

 private:
  static double now() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  bool enabled_;
  double last_;
  double release_ = 0;
};

// Tier landlock has no pid namespace: every process that descends from us (orphans reparent to
// us, the subreaper) is killed until none is left.
void kill_descendants() {
  const pid_t self = ::getpid();
  for (int round = 0; round < 50; ++round) {
    std::map<pid_t, pid_t> parent;
    if (DIR* proc = ::opendir("/proc")) {
      while (dirent* d = ::readdir(proc)) {
        pid_t pid = static_cast<pid_t>(std::atoi(d->d_name));
        if (pid <= 0) continue;
        if (const pid_t ppid = sys::proc_parent_pid(pid); ppid > 0) parent[pid] = ppid;
      }
      ::closedir(proc);
    }
    std::vector<pid_t> victims;
    for (const auto& [pid, ppid] : parent) {
      for (pid_t p = ppid, hops = 0; p > 1 && hops < 64;
           p = parent.count(p) ? parent[p] : 0, ++hops) {
        if (p == self) {
          victims.push_back(pid);
          break;
        }
      }
    }
    if (victims.empty()) return;
    for (pid_t pid : victims) ::kill(pid, SIGKILL);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::usleep(1000);
  }
}

void remove_tree(const std::string& path) {
  ::nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) {
        ::remove(p);
        return 0;
      },
      16, FTW_DEPTH | FTW_PHYS);
}

// The DNS stub's sockets on the host's loopback (tier landlock): 127.0.0.1, ephemeral ports.
struct StubSockets {
  UniqueFd udp, tcp;
  std::uint16_t udp_port = 0, tcp_port = 0;
};

Result<StubSockets> make_stub_sockets() {
  StubSockets out;
  for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
    UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        (type == SOCK_STREAM && ::listen(fd.get(), 64) != 0) ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return syscall_error("opening the DNS stub on the host's loopback", "socket/bind/listen",
                           type == SOCK_STREAM ? "TCP 127.0.0.1:0" : "UDP 127.0.0.1:0", errno);
    }
    (type == SOCK_STREAM ? out.tcp_port : out.udp_port) = ntohs(addr.sin_port);
    (type == SOCK_STREAM ? out.tcp : out.udp) = std::move(fd);
  }
  return out;
}

// The kernel layer without a network namespace: port 53 goes to the stub, which (and the
// explicit address rules) is allowed before anything runs; handed-out addresses come later.
Status allow_without_namespace(bpfnet::NetLayer& layer, const policy::Plan& plan,
                               const StubSockets& stub) {
  const gate::IpAddress loopback = gate::IpAddress::v4({127, 0, 0, 1});
  if (Status st = layer.redirect_dns(loopback, stub.tcp_port, stub.udp_port); !st) return st;
  for (std::uint16_t port : {stub.tcp_port, stub.udp_port}) {
    if (Status st = layer.allow(bpfnet::IpNet::host(loopback), port); !st) return st;
  }
  for (const policy::NetRule& rule : plan.net_allow) {
    auto parsed = gate::parse_allow_rule(rule.text, "");
    if (!parsed) return parsed.error();
    if (const auto* address = std::get_if<gate::AddressRule>(&*parsed)) {
      if (Status st = layer.allow(*address); !st) return st;
    }
  }
  return {};
}

}  // namespace

void PendingReap::wait() {
  if (pid_ <= 0) return;
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (after_) std::exchange(after_, nullptr)();
}

Result<LaunchResult> run_sandboxed(const policy::Plan& plan, const std::vector<std::string>& argv,
                                   const LaunchOptions& options) {
  const SignalsHeld signals_held;
  LaunchResult result;
  PhaseClock clock;
  const bool namespaces = options.tier == Tier::kFull;
  const bool root = ::geteuid() == 0;

  int abi = ll::abi_version();
  if (abi < 1) {
    return make_error(ErrorCode::kUnsupported,
                      std::string("Landlock is not available: ") + std::strerror(-abi),
                      abi == -ENOSYS ? "use a kernel built with CONFIG_SECURITY_LANDLOCK=y"
                                     : "add landlock to the lsm= kernel boot parameter");
  }

  const bool allowlist_mode = plan.network == policy::NetworkMode::kAllowlist;
  const bool gate_layer = options.net_layers != NetLayers::kKernelOnly;
  const bool bpf_layer = options.net_layers != NetLayers::kGateOnly;
  if (allowlist_mode && !gate_layer && (namespaces || !root)) {
    return make_error(ErrorCode::kUnsupported,
                      "the in-kernel network layer alone (MOAT_TEST_ONLY_LAYER=kernel) runs only "
                      "as root in tier landlock",
                      "run as root with --tier landlock, or unset MOAT_TEST_ONLY_LAYER");
  }
  // Without a network namespace, Landlock's TCP rule is what keeps a connect() the gate did not
  // broker from leaving: fail closed where the kernel lacks it.
  if (allowlist_mode && !namespaces && gate_layer && abi < 4) {
    return make_error(ErrorCode::kUnsupported,
                      "network allowlist mode in tier landlock needs Landlock TCP rules (ABI 4, "
                      "Linux 6.7); this kernel has ABI " + std::to_string(abi),
                      "run where user namespaces work (tier full), or use network mode none");
  }
  // With one, the gate performs every IP connect and bind itself; Landlock refusing the ones the
  // sandbox makes is what keeps a descriptor swapped under a unix connect (one of the gate's
  // host-side sockets) from being connected anywhere (gate.cc). Degrading is explicit.
  if (allowlist_mode && namespaces && gate_layer && abi < 4) {
    if (!options.allow_missing_limits) {
      return make_error(ErrorCode::kUnsupported,
                        "network allowlist mode needs Landlock TCP rules (ABI 4, Linux 6.7) to "
                        "close a descriptor-swap race on the gate's sockets; this kernel has ABI " +
                            std::to_string(abi),
                        "upgrade the kernel, use network mode none, or pass --allow-degraded to "
                        "run without that layer");
    }
    options.warn("--allow-degraded: no Landlock TCP rules (ABI " + std::to_string(abi) +
                 "): a descriptor swapped under a unix connect is not refused in the kernel");
  }

  // Without root, the watch comes from sandboxd when one runs: it makes a cgroup delegated to us,
  // watches it, and moves the sandbox into it after clone (we may not: a move needs write access
  // to the common ancestor's cgroup.procs). The connection outlives the watcher (its lost()).
  // The same cgroup carries the memory limit (v2, or a v1 memory cgroup beside it on hybrid
  // hosts), which without root has nowhere else to live.
  std::optional<daemon::Client> daemon_client;
  UniqueFd delegated_cgroup;
  UniqueFd delegated_memory;  // v1 memory cgroup directory, when the limit lives there
  UniqueFd delegated_ring;
  const bool watch_wanted = options.watch && options.events != nullptr;
  if (!root && (watch_wanted || plan.limits.memory_bytes)) {
    auto connected = daemon::Client::connect(daemon::socket_path());
    if (connected) {
      auto dir = connected->make_cgroup(plan.limits.memory_bytes.value_or(0));
      auto ring = !dir            ? Result<UniqueFd>(dir.error())
                  : watch_wanted ? connected->register_sandbox(dir->v2.get(), watch::kDefaultRingBytes)
                                 : Result<UniqueFd>(UniqueFd());
      if (ring) {
        daemon_client.emplace(std::move(*connected));
        delegated_cgroup = std::move(dir->v2);
        delegated_memory = std::move(dir->v1_memory);
        delegated_ring = std::move(*ring);
      } else {
        options.warn("sandboxd gives this run no cgroup (no watch, no memory limit): " +
                     ring.error().to_string());
      }
    } else if (connected.error().code != ErrorCode::kNotFound) {
      options.warn("sandboxd is not usable, the supervisor reports file changes: " +
                   connected.error().to_string());
    }
  }
  // Without root and without sandboxd there is no eBPF watch: the supervisor reports file changes
  // outside the usual places from seccomp notifications instead (unless the watch is turned off).
  const bool file_notify =
      options.watch && !root && options.events != nullptr && !delegated_ring.valid();
  // Tier landlock as root: the command's uid 0 owns the host's system files and Landlock does not
  // govern chmod, so the supervisor changes modes for it, inside the write paths only.
  const bool broker_modes = root && !namespaces;
  PrepareOptions prepare_options;
  prepare_options.notify_file_changes = file_notify;
  prepare_options.broker_mode_changes = broker_modes;
  prepare_options.gate_seccomp = gate_layer;
  prepare_options.namespaces = namespaces;
  prepare_options.landlock_abi = abi;
  prepare_options.running_as_root = root;
  prepare_options.allow_unprotected = options.allow_missing_limits;
  std::string private_tmp;
  if (!namespaces) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && base[0] == '/' ? base : "/tmp") + "/moat-tmp-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return syscall_error("creating the sandbox's private temporary directory", "mkdtemp", pattern,
                           errno);
    }
    private_tmp = pattern;
    prepare_options.private_tmpdir = private_tmp;
  }
  struct TmpCleanup {
    const std::string& path;
    ~TmpCleanup() {
      if (!path.empty()) remove_tree(path);
    }
  } tmp_cleanup{private_tmp};
  // Placeholders a killed run left in a project go first; this run journals its own.
  const std::string journal_dir = plan.home + "/.cache/moat/placeholders";
  clean_stale_placeholders(journal_dir);
  auto prepared = setup_child_spec(plan, argv, prepare_options);
  if (!prepared) return prepared.error();
  // Written once the child is released (it costs an ext4 create, ~0.05-0.1 ms, that then
  // overlaps the child's setup); a moat killed before that leaves this run's placeholders behind
  // as any crash between their creation and the journal always could.
  std::string journal;
  ChildSpec& spec = prepared->spec;
  clock.mark("prepare");
  for (const std::string& path : prepared->unprotected) {
    options.warn("NOT protected (--allow-degraded): " + path);
  }
  if (!prepared->narrowed.empty()) {
    std::string list;
    for (const std::string& n : prepared->narrowed) list += " " + n;
    options.warn("tier landlock: nothing new can be created directly in" + list +
                 " (a protected or denied path lies below, and without mounts "
                 "Landlock can only narrow whole directories)");
  }
  if (abi >= 6) spec.landlock_scoped = ll::kScopeAbstractUnixSocket | ll::kScopeSignal;
  // Without a network namespace, Landlock's TCP rules are what keeps `net: none` closed.
  if (!namespaces && plan.network == policy::NetworkMode::kNone && abi >= 4) {
    spec.landlock_handled_net = ll::kBindTcp | ll::kConnectTcp;
  }
  // Allowlist without a network namespace: the sandbox never connects a TCP socket itself (the
  // gate connects and hands over connected sockets, from outside this Landlock domain), so no
  // port is granted; binding the host's ports would open an inbound channel.
  if (!namespaces && allowlist_mode && abi >= 4) {
    spec.landlock_handled_net = ll::kBindTcp | (gate_layer ? ll::kConnectTcp : 0);
  }
  // Allowlist with a network namespace: the gate binds and connects every TCP socket of the
  // sandbox on its behalf, on the socket it checked (gate.cc). A bind or connect the kernel runs
  // for the sandbox itself can only be one that slipped past that check, on a descriptor swapped
  // after it: one of the gate's own host-side sockets. No port is granted.
  if (namespaces && allowlist_mode && gate_layer && abi >= 4) {
    spec.landlock_handled_net = ll::kBindTcp | ll::kConnectTcp;
  }
  struct PlaceholderCleanup {
    const std::vector<Placeholder>& list;
    std::vector<sys::UniqueFd>& locks;
    const std::string& journal;
    ~PlaceholderCleanup() {
      locks.clear();  // ours must not stop our own removal
      remove_placeholders(list);
      if (!journal.empty()) ::unlink(journal.c_str());
    }
  } cleanup{prepared->placeholders, prepared->placeholder_locks, journal};

  // The network gate (allowlist mode): built now, so a bad rule stops us before anything starts.
  // Declared after the kernel layer: the gate (whose threads call into the layer) goes first.
  std::optional<bpfnet::NetLayer> kernel_layer;
  std::unique_ptr<gate::Gate> network_gate;
  StubSockets stub;
  if (allowlist_mode) {
    auto allowlist = build_allowlist(plan);
    if (!allowlist) return allowlist.error();
    network_gate = std::make_unique<gate::Gate>(std::move(*allowlist), *options.events);
    // As root, a name-bound HTTPS connection is checked in the kernel on the sandbox's own
    // socket instead of being relayed (kernel_binding.h): the same rules, no second hop.
    // Without root, sandboxd's check when the daemon runs; else (or when neither loads) the
    // gate relays them.
    network_gate->set_kernel_binding_loader(
        [root]() -> Result<std::unique_ptr<gate::KernelBinding>> {
          if (!root) return connect_daemon_name_check(daemon::socket_path());
          auto loaded = bpfnet::load_name_binding();
          if (!loaded) return loaded.error();
          return std::unique_ptr<gate::KernelBinding>(std::move(*loaded));
        });
    if (!namespaces) {
      // No namespace of our own to bind 127.0.0.53:53 in: the stub takes ephemeral ports on the
      // host's loopback, and port 53 is redirected to it (gate, kernel layer).
      auto made = make_stub_sockets();
      if (!made) return made.error();
      stub = std::move(*made);
      network_gate->set_dns_sockets(std::move(stub.udp), std::move(stub.tcp));
      network_gate->use_host_network();
    }
  }

  // Limits that need a cgroup.
  CgroupLimits cgroup_limits;
  cgroup_limits.memory_bytes = plan.limits.memory_bytes;
  if (root) cgroup_limits.processes = plan.limits.processes;
  SandboxCgroups cgroups;
  if (root) {
    auto cg = setup_cgroups(std::to_string(::getpid()), cgroup_limits);
    if (!cg) return cg.error();
    cgroups = *cg;
  } else if (cgroup_limits.memory_bytes && !delegated_cgroup.valid()) {
    Error e = make_error(ErrorCode::kUnsupported,
                         "limits.memory needs a cgroup, and only root can create one here",
                         "run as root, start sandboxd (it delegates one), remove limits.memory, "
                         "or pass --allow-degraded to run without the memory limit");
    if (!options.allow_missing_limits) return e;
    options.warn("running WITHOUT the memory limit (--allow-degraded)");
  }
  struct CgroupCleanup {
    const SandboxCgroups& cg;
    ~CgroupCleanup() { cgroup_destroy(cg); }
  } cgroup_cleanup{cgroups};

  for (std::string& s : spec.argv_storage) spec.argv.push_back(s.data());
  spec.argv.push_back(nullptr);
  for (std::string& s : spec.env_storage) spec.envp.push_back(s.data());
  spec.envp.push_back(nullptr);

  auto release = make_pipe();
  if (!release) return release.error();
  auto report = make_report_channel();
  if (!report) return report.error();
  spec.release_read_fd = release->first.get();
  auto v1_tasks = cgroup_open_v1_tasks(cgroups, kFirstFreeChildFd);
  if (!v1_tasks) return v1_tasks.error();
  if (delegated_memory.valid()) {
    // Opened as us: the kernel lets the opener move only processes of its own uid.
    UniqueFd tasks(::openat(delegated_memory.get(), "tasks", O_WRONLY | O_CLOEXEC));
    UniqueFd moved(tasks.valid() ? ::fcntl(tasks.get(), F_DUPFD_CLOEXEC, kFirstFreeChildFd) : -1);
    if (!moved.valid()) {
      return syscall_error("opening the delegated memory cgroup", "openat", "tasks", errno);
    }
    v1_tasks->push_back(std::move(moved));
  }
  for (size_t i = 0; i < v1_tasks->size() && i < 2; ++i) {
    spec.v1_cgroup_tasks_fds[i] = (*v1_tasks)[i].get();
  }
  spec.report_write_fd = report->second.get();

  // Signals are taken by a signalfd (held since the start of the run: none is lost).
  const sigset_t signals = supervised_signals();
  spec.command_mask = signals_held.caller_mask();

  if (!namespaces) ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  UniqueFd cgroup_fd;
  if (!cgroups.v2.empty()) {
    cgroup_fd.reset(::open(cgroups.v2.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup_fd.valid()) {
      return syscall_error("opening the sandbox cgroup", "open", cgroups.v2, errno);
    }
  }
  // With root, the allowlist is enforced a second time in the kernel, on the sandbox's cgroup.
  // Inside a network namespace its processes may reach only their own loopback (the gate's
  // connections are made outside the cgroup). Without one: the stub, the address rules and
  // every address the stub hands out. Attached before clone, so nothing in the sandbox runs
  // without it.
  if (network_gate && root && bpf_layer) {
    UniqueFd dir(::open(cgroups.v2.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    auto layer = dir.valid() ? bpfnet::NetLayer::attach(dir.get(), {.loopback = namespaces})
                             : Result<bpfnet::NetLayer>(syscall_error(
                                   "opening the sandbox cgroup", "open", cgroups.v2, errno));
    if (layer && !namespaces) {
      if (Status st = allow_without_namespace(*layer, plan, stub); !st) return st.error();
    }
    if (layer) {
      kernel_layer.emplace(std::move(*layer));
      if (!namespaces) {
        // A failed update leaves the address refused by the kernel: closed, not open.
        network_gate->set_handout_hook(
            [layer = &*kernel_layer](const gate::IpAddress& a, std::optional<std::uint16_t> p) {
              (void)layer->allow(bpfnet::IpNet::host(a), p);
            });
      }
    } else if (options.allow_missing_limits) {
      options.warn("running WITHOUT the in-kernel network layer (--allow-degraded): " +
                   layer.error().to_string());
    } else {
      Error e = layer.error();
      e.hint = "the cgroup BPF layer needs root and CONFIG_CGROUP_BPF; --allow-degraded runs "
               "with the user-space gate alone";
      return e;
    }
  }
  clock.mark("cgroups, gate");
  // The watch. Unprivileged with sandboxd: the daemon's ring for the delegated cgroup, consumed
  // from now on. As root (on by default): attached right after clone, while the child sets up on
  // the other CPU (its cgroup exists from clone); the child's await-watch step holds the command
  // until then, so its first exec is seen. With sandboxd running, the programs are already
  // attached: it only makes this sandbox's ring (no load, no verifier, no tracepoint
  // registration). Otherwise they are loaded here.
  std::optional<watch::Watch> watcher;
  if (delegated_ring.valid()) {
    daemon::Client* client = &*daemon_client;
    auto consumed = watch::Watch::consume(std::move(delegated_ring), *options.events, [client] {
      auto n = client->lost();
      return n ? *n : 0;
    });
    if (!consumed) return consumed.error();
    watcher.emplace(std::move(*consumed));
  }
  const bool root_watch = options.watch && root && options.events != nullptr;
  watch::WatchOptions watch_options;
  if (root_watch) {
    // A tuning knob (and how the tests overflow the ring): a power of two of 4 KiB - 256 MiB.
    if (const char* ring = std::getenv("MOAT_WATCH_RING_BYTES"); ring != nullptr) {
      char* end = nullptr;
      unsigned long long bytes = std::strtoull(ring, &end, 10);
      if (end == ring || *end != '\0' || bytes < 4096 || bytes > (256ull << 20) ||
          (bytes & (bytes - 1)) != 0) {
        return make_error(ErrorCode::kInvalidArgument,
                          std::string("MOAT_WATCH_RING_BYTES=") + ring +
                              ": expected a power of two from 4096 to 268435456",
                          "unset it to use the default (1 MiB)");
      }
      watch_options.ring_bytes = static_cast<std::size_t>(bytes);
    }
    if (!cgroup_fd.valid()) {
      Error e = make_error(ErrorCode::kUnsupported, "the watch needs a cgroup v2 for the sandbox",
                           "mount cgroup2; --no-watch or --allow-degraded runs without it");
      if (!options.allow_missing_limits) return e;
      options.warn("running WITHOUT the watch (--allow-degraded): " + e.to_string());
    }
  }
  spec.await_watch = root_watch && cgroup_fd.valid();
  auto attach_watch = [&]() -> Result<watch::Watch> {
    auto connected = daemon::Client::connect(daemon::socket_path());
    if (connected) {
      auto ring = connected->register_sandbox(
          cgroup_fd.get(), static_cast<std::uint32_t>(watch_options.ring_bytes));
      if (ring) {
        daemon::Client* client = &daemon_client.emplace(std::move(*connected));
        return watch::Watch::consume(std::move(*ring), *options.events, [client] {
          auto n = client->lost();
          return n ? *n : 0;
        });
      }
      options.warn("sandboxd did not take the sandbox, loading the watch here: " +
                   ring.error().to_string());
    } else if (!connected && connected.error().code != ErrorCode::kNotFound) {
      options.warn("sandboxd is not usable, loading the watch here: " +
                   connected.error().to_string());
    }
    return watch::Watch::attach(cgroup_fd.get(), *options.events, watch_options);
  };
  std::unique_ptr<supervisor::FileNotifier> file_notifier;
  if (file_notify || broker_modes) {
    supervisor::FileNotifierRoots roots;
    roots.usual = report::usual_write_roots(plan);
    roots.home = plan.home;
    for (const policy::PathRule& rule : plan.paths) {
      if ((rule.access & policy::kAccessWrite) != 0) roots.writable.push_back(rule.path);
    }
    for (const std::string& scratch : {plan.tmpdir, std::string("/tmp"), std::string("/dev/shm")}) {
      roots.writable.push_back(scratch);
    }
    // The private home is a tmpfs (tier full): writes land there and vanish with it.
    if (namespaces && !plan.home.empty()) roots.writable.push_back(plan.home);
    roots.refusing_layer = namespaces ? "mount" : "landlock";
    roots.broker_mode_changes = broker_modes;
    roots.report_mode_refusals = !(options.watch && root);  // the watch sees the failed call
    if (broker_modes) {
      // As Landlock grants them in this tier (prepare.cc): ${TMPDIR} is the private directory.
      for (const policy::PathRule& rule : plan.paths) {
        if ((rule.access & policy::kAccessWrite) != 0 && rule.path != plan.tmpdir) {
          roots.mode_change_roots.push_back(rule.path);
        }
      }
      roots.mode_change_roots.push_back(private_tmp);
    }
    file_notifier = std::make_unique<supervisor::FileNotifier>(*options.events, std::move(roots));
  }
  std::vector<std::string> sources = {"supervisor"};
  if (file_notify) sources.push_back("file-notify");
  if (network_gate) sources.push_back("gate");
  if (kernel_layer) sources.push_back("kernel-network-layer");
  // The run event comes first in the account: before clone, or, when the command waits for the
  // watch, once the watch is attached (nothing of the command can report before that).
  auto add_run_event = [&] {
    if (watcher) sources.push_back("watch");
    if (options.events != nullptr) {
      options.events->add(report::run_event(plan, argv, sources, namespaces ? "full" : "landlock"));
    }
  };
  if (!spec.await_watch) add_run_event();
  struct StepClockPage {
    void* page = MAP_FAILED;
    ~StepClockPage() {
      if (page != MAP_FAILED) ::munmap(page, 4096);
    }
  } step_clock;
  if (clock.enabled()) {
    step_clock.page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (step_clock.page != MAP_FAILED) spec.step_clock = static_cast<std::int64_t*>(step_clock.page);
  }
  int pidfd_raw = -1;
  spec.network_at_clone = namespaces && network_gate != nullptr;
  pid_t child = clone_sandbox(namespaces, spec.network_at_clone, cgroup_fd.get(), &pidfd_raw);
  if (child < 0) {
    return syscall_error("creating the sandbox", "clone3",
                         namespaces ? "CLONE_NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS" : "", errno,
                         "user namespaces may be disabled; `moat doctor` says what is missing, "
                         "and --allow-tier landlock runs without them");
  }
  if (child == 0) {
    ::setpgid(0, 0);  // terminal signals reach moat only; moat forwards them once
    ::close(release->second.get());
    ::close(report->first.get());
    run_sandbox_child(spec);
  }
  UniqueFd pidfd(pidfd_raw);
  clock.mark("clone");
  if (network_gate) network_gate->set_sandbox_pid(child);  // before it becomes non-dumpable
  if (watcher) watcher->set_sandbox_pid(child);
  // Unprivileged with sandboxd: the daemon moves the sandbox into the cgroup it watches, while
  // the child still waits for its id maps (nothing of the command has run).
  if (delegated_cgroup.valid()) {
    if (Status joined = daemon_client->join(child); !joined) {
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
      ::waitpid(child, nullptr, 0);
      return joined.error();
    }
  }
  const std::string sandbox_pid_ns = namespaces ? pid_namespace_of(child) : std::string();
  // No notifier comes from the child when the gate layer is off: serve DNS from now on.
  if (network_gate && !gate_layer) network_gate->start();
  release->first.reset();
  report->second.reset();

  auto kill_child = [&] { ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0); };
  v1_tasks->clear();  // the child has its copies
  auto release_child = [&]() -> Status {
    char go = 1;
    if (::write(release->second.get(), &go, 1) != 1) {
      return syscall_error("releasing the sandbox", "write", "release pipe", errno);
    }
    return {};
  };
  Status attach;
  if (namespaces) attach = write_id_maps(child);
  if (attach) attach = release_child();
  if (!attach) {
    kill_child();
    ::waitpid(child, nullptr, 0);
    return attach.error();
  }
  release->second.reset();
  journal = write_placeholder_journal(journal_dir, ::getpid(), prepared->placeholders);
  clock.mark("id maps");
  clock.mark_release();
  if (spec.await_watch) {
    auto attached = attach_watch();
    if (attached) {
      watcher.emplace(std::move(*attached));
      watcher->set_sandbox_pid(child);
    } else if (options.allow_missing_limits) {
      options.warn("running WITHOUT the watch (--allow-degraded): " + attached.error().to_string());
    } else {
      kill_child();
      ::waitpid(child, nullptr, 0);
      return attached.error();
    }
    add_run_event();
    // Unsent only when the child is gone already: its report, read below, says why.
    const char go = 1;
    (void)::send(report->first.get(), &go, 1, MSG_NOSIGNAL);
    clock.mark("watch attach");
  }
  // A daemon's ring is mapped while the command starts on the other CPU: its records wait in
  // the ring meanwhile.
  if (watcher) {
    if (Status mapped = watcher->map_ring(); !mapped) {
      kill_child();
      ::waitpid(child, nullptr, 0);
      return mapped.error();
    }
  }

  // While the command starts on the other CPU: what a SIGKILLed moat left behind.
  if (root) remove_stale_cgroups(cgroups);
  UniqueFd sigfd(::signalfd(-1, &signals, SFD_CLOEXEC));
  UniqueFd timer;
  if (plan.limits.time_ms) {
    timer.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
    itimerspec spec_time{};
    spec_time.it_value.tv_sec = static_cast<time_t>(*plan.limits.time_ms / 1000);
    spec_time.it_value.tv_nsec = static_cast<long>((*plan.limits.time_ms % 1000) * 1000000);
    ::timerfd_settime(timer.get(), 0, &spec_time, nullptr);
  }

  // The user's first stop signal starts a grace period; a second one, or its end, kills the
  // whole sandbox: a command that stopped itself (SIGSTOP) or ignores the signal must not make
  // moat unstoppable short of SIGKILL (which would leave the run's placeholders behind).
  UniqueFd stop_grace;
  int stop_signal = 0;
  std::optional<Report> setup_failure, exec_failure, exited;
  bool child_gone = false;
  bool report_open = true;
  // sandboxd never writes unasked: its connection becoming readable means it went away, and its
  // programs (the watch) with it.
  bool daemon_gone = false;
  const int daemon_fd = daemon_client ? daemon_client->fd() : -1;
  while (!child_gone || report_open) {
    pollfd fds[8] = {{report_open ? report->first.get() : -1, POLLIN, 0},
                     {child_gone ? -1 : pidfd.get(), POLLIN, 0},
                     {sigfd.get(), POLLIN, 0},
                     {timer.valid() ? timer.get() : -1, POLLIN, 0},
                     {daemon_gone ? -1 : daemon_fd, POLLIN | POLLRDHUP, 0},
                     {file_notifier ? file_notifier->listener_fd() : -1, POLLIN, 0},
                     {watcher ? watcher->poll_fd() : -1, POLLIN, 0},
                     {stop_grace.valid() ? stop_grace.get() : -1, POLLIN, 0}};
    // The watch's ring is consumed here: on a batch, and every kTailPollMs for a smaller tail.
    int n = ::poll(fds, 8, watcher ? watch::Watch::kTailPollMs : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      kill_child();
      break;
    }
    if (watcher && (n == 0 || fds[6].revents != 0)) watcher->consume();
    if (fds[0].revents != 0) {
      Report r{};
      std::vector<UniqueFd> passed;
      ssize_t got = receive_report(report->first.get(), r, passed);
      if (got == sizeof(r) && r.kind == ReportKind::kGateFds && network_gate) {
        if (passed.size() == 2)
          network_gate->set_dns_sockets(std::move(passed[0]), std::move(passed[1]));
        if (passed.size() == 1) {
          if (file_notifier) {
            network_gate->set_other_notifications(
                [n = file_notifier.get()](int fd, const seccomp_notif& req) { n->handle(fd, req); });
          }
          network_gate->set_notify_listener(std::move(passed[0]));
          network_gate->start();
        }
      } else if (got == sizeof(r) && r.kind == ReportKind::kGateFds && file_notifier &&
                 passed.size() == 1) {
        file_notifier->adopt(std::move(passed[0]));
      } else if (got == sizeof(r)) {
        if (r.kind == ReportKind::kSetupFailed) setup_failure = r;
        if (r.kind == ReportKind::kExecFailed) exec_failure = r;
        if (r.kind == ReportKind::kExited) {
          exited = r;
          if (namespaces && r.index > 0) {
            if (options.events != nullptr) {
              for (report::Event& e : describe_leftovers(sandbox_pid_ns, child)) {
                options.events->add(std::move(e));
              }
            }
            char done = 1;
            (void)::send(report->first.get(), &done, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
          }
        }
        if (r.kind == ReportKind::kReady) clock.mark("child setup");
        if (r.kind == ReportKind::kExited) clock.mark("command");
      } else if (got <= 0) {
        report_open = false;
        // pid 1 closed the channel by exiting, after the command with no process left: the
        // sandbox is gone but for its namespaces, which the kernel tears down while we drain the
        // watch, clean up and summarise; pid 1 is reaped last, and our cgroups removed after it
        // (it is in them until its exit ends). Not with sandboxd's delegated cgroups: the daemon
        // removes those when we disconnect, which must find them empty.
        if (!child_gone && exited && namespaces && exited->index == 0 &&
            !delegated_cgroup.valid() && !delegated_memory.valid()) {
          result.pid1 = PendingReap(child);
          child_gone = true;
        }
      }
    }
    if (fds[1].revents != 0) {
      if (result.pid1.pending()) {
        result.pid1.wait();
      } else {
        int status = 0;
        ::waitpid(child, &status, 0);
      }
      child_gone = true;
    }
    if (fds[2].revents != 0) {
      signalfd_siginfo info{};
      if (::read(sigfd.get(), &info, sizeof(info)) == sizeof(info)) {
        const int signo = static_cast<int>(info.ssi_signo);
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), signo, nullptr, 0);
        if (signo == SIGINT || signo == SIGTERM || signo == SIGHUP || signo == SIGQUIT) {
          // A stopped command acts on the signal only once continued.
          ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGCONT, nullptr, 0);
          if (stop_signal != 0) {
            result.killed_after_signal = stop_signal;
            kill_child();
          } else {
            stop_signal = signo;
            stop_grace.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
            itimerspec grace{};
            grace.it_value.tv_sec = kStopGraceSeconds;
            if (stop_grace.valid()) ::timerfd_settime(stop_grace.get(), 0, &grace, nullptr);
          }
        }
      }
    }
    if (fds[7].revents != 0) {
      result.killed_after_signal = stop_signal;
      kill_child();
      stop_grace.reset();
    }
    if (fds[5].revents != 0) file_notifier->serve(fds[5].revents);
    if (timer.valid() && fds[3].revents != 0) {
      result.timed_out = true;
      kill_child();
      timer.reset();
    }
    if (fds[4].revents != 0) {
      daemon_gone = true;
      // Fail closed: the rest of the run would go unwatched.
      if (!options.allow_missing_limits) kill_child();
      options.warn(options.allow_missing_limits
                       ? "sandboxd went away: the rest of the run is NOT watched (--allow-degraded)"
                       : "sandboxd went away: the watch stopped, so the sandbox was stopped");
    }
  }
  if (!namespaces) kill_descendants();
  // The delegated cgroup's own kill: anything of the sandbox still alive there (as root's
  // cgroup_destroy does), before the watch is drained.
  if (delegated_cgroup.valid()) {
    UniqueFd kill_file(::openat(delegated_cgroup.get(), "cgroup.kill", O_WRONLY | O_CLOEXEC));
    if (kill_file.valid()) (void)!::write(kill_file.get(), "1", 1);
  }
  clock.mark("sandbox exit");
  if (watcher) {  // everything in the cgroup has exited: drain what is left
    if (daemon_client && !daemon_gone) (void)daemon_client->request_lost();  // answered meanwhile
    watcher->stop();
    result.lost_events = watcher->lost_count();
    daemon_client.reset();  // sandboxd forgets the sandbox now
    clock.mark("watch drain");
    if (clock.enabled()) {
      std::fprintf(stderr, "moat: watch records %llu\n",
                   static_cast<unsigned long long>(watcher->record_count()));
    }
  }
  if (network_gate) network_gate->stop();
  if (kernel_layer) result.kernel_refusals = kernel_layer->denied_count();
  result.oom_killed = root && cgroup_oom_killed(cgroups);
  if (!root && (delegated_memory.valid() || delegated_cgroup.valid())) {
    const bool v1 = delegated_memory.valid();
    UniqueFd events(::openat(v1 ? delegated_memory.get() : delegated_cgroup.get(),
                             v1 ? "memory.oom_control" : "memory.events", O_RDONLY | O_CLOEXEC));
    char text[512] = {};
    if (events.valid() && ::read(events.get(), text, sizeof text - 1) > 0) {
      const char* at = std::strstr(text, "oom_kill ");
      result.oom_killed = at != nullptr && std::strtoull(at + 9, nullptr, 10) > 0;
    }
  }
  clock.mark("gate stop");
  if (result.pid1.pending()) {
    result.pid1.then([cg = cgroups] { cgroup_destroy(cg); });
  } else {
    cgroup_destroy(cgroups);
  }
  cgroups = {};
  prepared->placeholder_locks.clear();
  remove_placeholders(prepared->placeholders);
  prepared->placeholders.clear();
  if (!journal.empty()) ::unlink(journal.c_str());
  clock.mark("cleanup");
  {
    int count = 0;
    setup_steps(&count);
    clock.print_steps(spec.step_clock, count);
  }

  if (daemon_gone && !options.allow_missing_limits) {
    return make_error(ErrorCode::kUnsupported,
                      "sandboxd went away during the run: the watch stopped, so moat stopped the "
                      "sandbox",
                      "restart sandboxd (README: sandboxd) and run again; "
                      "--allow-degraded finishes such a run unwatched");
  }
  if (setup_failure) {
    std::string message = describe_setup_failure(*setup_failure, spec);
    Error e = syscall_error(message, setup_failure->call != nullptr ? setup_failure->call : "", "",
                            setup_failure->err, hint_for_step(message, setup_failure->err));
    e.code = ErrorCode::kSyscall;
    return e;
  }
  if (result.timed_out) {
    result.exit_code = 124;
    return result;
  }
  if (result.killed_after_signal != 0 && !exited) {
    result.exit_code = 128 + result.killed_after_signal;
    return result;
  }
  if (exec_failure) {
    int err = exec_failure->err;
    if (exec_failure->index < 0) {
      return syscall_error("cannot enter the working directory inside the sandbox", "chdir",
                           plan.cwd, err,
                           "the working directory must be inside a granted path (the project)");
    }
    Error e =
        syscall_error("cannot run " + argv[0] + " inside the sandbox", "execve", argv[0], err);
    e.code = err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kNotExecutable;
    if (err == ENOENT) e.hint = "not found on the sandbox's PATH, or its directory is not granted";
    if (err == EACCES) e.hint = "the file is not executable, or its directory has no exec grant";
    return e;
  }
  if (!exited) {
    return make_error(ErrorCode::kInternal,
                      "the sandbox ended without reporting the command's "
                      "status (killed from outside?)");
  }
  result.leftovers = namespaces ? exited->index : 0;
  int status = exited->status;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

}  // namespace moat::launcher
