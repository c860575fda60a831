// Builds the mount table and Landlock rules from the Plan and the host's file system.
// Order matters: ops are sorted by target so parents are mounted before their children.
#include "sandboxd/launcher/prepare.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>

#include "policy/syscall_rules.h"
#include "sandboxd/launcher/seccomp_filter.h"
#include "sandboxd/sys/landlock.h"
#include "sandboxd/sys/small_file.h"

namespace moat::launcher {
namespace ll = sys::landlock;
namespace {

constexpr const char* kStagedOld = "/oldroot";
constexpr const char* kOverlayScratch = "/overlay-scratch";  // child.cc mounts it
constexpr const char* kStagedNew = "/newroot";

bool is_under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

// The directory that holds `relative` below `root`, opened without following any symlink on the
// way (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH): a sandbox that swaps a directory of the
// project for a link cannot make moat create or delete anything elsewhere. -1 on failure.
int open_parent_beneath(const std::string& root, const std::string& relative,
                        std::string* leaf) {
  auto slash = relative.find_last_of('/');
  *leaf = slash == std::string::npos ? relative : relative.substr(slash + 1);
  std::string parent = slash == std::string::npos ? "." : relative.substr(0, slash);
  if (parent.empty()) parent = ".";
  int rootfd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return -1;
  struct {
    std::uint64_t flags, mode, resolve;
  } how{O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0x04 /*NO_SYMLINKS*/ | 0x08 /*BENEATH*/};
  int fd = static_cast<int>(::syscall(SYS_openat2, rootfd, parent.c_str(), &how, sizeof(how)));
  int err = errno;
  ::close(rootfd);
  errno = err;
  return fd;
}

// Collapses "." and ".." without touching the file system.
std::optional<std::string> real_path_lexical(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string part = path.substr(pos, next - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = next + 1;
  }
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  return out.empty() ? std::optional<std::string>("/") : out;
}

std::optional<std::string> real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return std::nullopt;
  return std::string(buf);
}

struct HostEntry {
  bool exists = false;
  bool is_dir = false;
  bool is_symlink = false;
};

// The user xattr that marks an empty file as a moat placeholder (see add_protections).
constexpr const char* kPlaceholderMark = "user.moat.placeholder";

// A protect entry DIR/* stands for every entry DIR holds when the sandbox starts.
bool is_contents_rule(const std::string& path) {
  return path.size() > 2 && path.compare(path.size() - 2, 2, "/*") == 0;
}

// A protect entry DIR/*/REST stands for DIR/NAME/REST for every directory NAME that DIR holds
// when the sandbox starts (a submodule's git directory: .git/modules/*/hooks/).
constexpr std::string_view kEachDirectory = "/*/";

std::vector<std::string> sorted_entries(const std::string& dir, bool directories_only) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (directories_only) {
      // Not a link: what lies behind one is outside this tree's protections.
      struct stat st {};
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
        continue;
      }
    }
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// RULE with every DIR/*/ of its path replaced by each directory DIR holds now, appended to OUT.
// A file named this way is kept where it exists, never replaced by a placeholder (added to
// EXISTING_ONLY: a submodule's config.worktree, read only when its protected config says so);
// a directory (written with a trailing "/": hooks/) gets one, as any protected directory does.
void expand_each_directory(const policy::ProtectRule& rule, std::vector<policy::ProtectRule>* out,
                           std::vector<std::string>* existing_only, bool expanded = false) {
  const size_t star = rule.path.find(kEachDirectory);
  if (star == std::string::npos) {
    out->push_back(rule);
    if (expanded && !rule.directory) existing_only->push_back(rule.path);
    return;
  }
  const std::string dir = rule.path.substr(0, star);
  const std::string rest = rule.path.substr(star + kEachDirectory.size() - 1);  // "/REST"
  for (const std::string& name : sorted_entries(dir, true)) {
    policy::ProtectRule entry = rule;
    entry.path = dir + "/" + name + rest;
    expand_each_directory(entry, out, existing_only, true);
  }
}

// The rules of PROTECT with each DIR/*/REST expanded (above), and each DIR/* replaced by one rule
// per entry DIR holds now, except the entries a write grant names or lies under (node_modules
// for an install's scripts): those stay writable. Names appear sorted, for a stable plan.
std::vector<policy::ProtectRule> expand_contents_rules(
    const std::vector<policy::ProtectRule>& protect_rules,
    const std::vector<policy::PathRule>& grants, std::vector<std::string>* existing_only) {
  std::vector<policy::ProtectRule> protect;
  for (const policy::ProtectRule& rule : protect_rules) {
    expand_each_directory(rule, &protect, existing_only);
  }
  std::vector<policy::ProtectRule> out;
  for (const policy::ProtectRule& rule : protect) {
    if (!is_contents_rule(rule.path)) {
      out.push_back(rule);
      continue;
    }
    const std::string dir = rule.path.substr(0, rule.path.size() - 2);
    for (const std::string& name : sorted_entries(dir, false)) {
      const std::string path = dir + "/" + name;
      const bool granted =
          std::any_of(grants.begin(), grants.end(), [&](const policy::PathRule& g) {
            return (g.access & policy::kAccessWrite) != 0 &&
                   (g.path == path || g.path.compare(0, path.size() + 1, path + "/") == 0);
          });
      if (granted) continue;
      policy::ProtectRule entry = rule;
      entry.path = path;
      entry.placeholder.clear();
      out.push_back(std::move(entry));
      existing_only->push_back(path);
    }
  }
  return out;
}

HostEntry inspect(const std::string& path) {
  struct stat st {};
  HostEntry e;
  if (::lstat(path.c_str(), &st) != 0) return e;
  e.exists = true;
  e.is_symlink = S_ISLNK(st.st_mode);
  if (e.is_symlink) {
    struct stat target {};
    e.is_dir = ::stat(path.c_str(), &target) == 0 && S_ISDIR(target.st_mode);
  } else {
    e.is_dir = S_ISDIR(st.st_mode);
  }
  return e;
}

int read_cap_last_cap() {
  const std::string text = sys::read_small_file("/proc/sys/kernel/cap_last_cap");
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  return end != text.c_str() && value > 0 ? static_cast<int>(value) : 40;
}

// Sort key: parents before children, and at one target: tmpfs/bind before self-binds before masks.
int kind_rank(MountKind kind) {
  switch (kind) {
    case MountKind::kTmpfs:
    case MountKind::kOverlay:
    case MountKind::kProc:
    case MountKind::kBind:
    case MountKind::kSymlink:
      return 0;
    case MountKind::kDevpts:
    case MountKind::kDevNode:
      return 1;
    case MountKind::kSelfBind:
      return 2;
    case MountKind::kMaskFile:
    case MountKind::kMaskDir:
    case MountKind::kGeneratedFile:
      return 3;
  }
  return 4;
}

class SpecBuilder {
 public:
  SpecBuilder(const policy::Plan& plan, const PrepareOptions& options)
      : plan_(plan), options_(options) {}

  Result<Prepared> build(const std::vector<std::string>& argv) {
    Prepared out;
    ChildSpec& spec = out.spec;
    spec.namespaces = options_.namespaces;
    spec.cap_last_cap = read_cap_last_cap();
    if (options_.namespaces) {
      add_system_mounts();
      if (auto st = add_grant_mounts(out.skipped); !st) return st.error();
      if (auto st = add_protections(out.placeholders, out.placeholder_locks, out.unprotected);
          !st) {
        // Nothing is started: the placeholders made so far go, or they would stay in the
        // user's home (an empty ~/.bash_profile stops login shells from reading ~/.profile).
        out.placeholder_locks.clear();
        remove_placeholders(out.placeholders);
        return st.error();
      }
      add_masks();
      add_redacted_files();
      hide_placeholders_from_git(out.placeholders);
      finish_mounts();
      spec.mounts = std::move(ops_);
    }
    if (options_.namespaces) {
      add_landlock();
    } else {
      add_landlock_without_mounts(out.narrowed);
    }
    spec.landlock_abi = options_.landlock_abi;
    spec.landlock_paths = std::move(landlock_);

    std::vector<policy::SyscallRule> rules = policy::default_syscall_rules();
    if (plan_.network == policy::NetworkMode::kAllowlist && options_.gate_seccomp) {
      // Every connect() waits for the gate, which connects on the sandbox's behalf.
      policy::SyscallRule rule;
      rule.name = "connect";
      rule.action = policy::SyscallAction::kNotify;
      rule.why = "network allowlist: connect() goes through the gate";
      rules.push_back(rule);
      spec.gate = true;
      add_fast_open_rules(rules);
      add_other_stream_rules(rules);
      if (options_.namespaces) {
        add_gate_socket_rules(rules);
      } else {
        add_host_network_rules(rules);
      }
    }
    if (options_.notify_file_changes) {
      for (policy::SyscallRule& rule : policy::file_change_notify_rules()) {
        rules.push_back(std::move(rule));
      }
      spec.file_notify = true;
    }
    if (options_.broker_mode_changes) {
      for (policy::SyscallRule& rule : policy::mode_change_notify_rules()) {
        rules.push_back(std::move(rule));
      }
      spec.file_notify = true;
    }
    if (!options_.namespaces) {
      // No mount namespace: every unix socket of the host is reachable by its path, and Landlock
      // does not govern connecting to one (docker.sock is root; ssh-agent, D-Bus, systemd).
      // socketpair() keeps working; a listening unix socket does not.
      policy::SyscallRule rule;
      rule.name = "socket";
      rule.err = EACCES;
      rule.args.push_back({0, 0xffffffffull, 1ull /*AF_UNIX*/});
      rule.why = "tier landlock: the host's unix sockets are reachable by path";
      rules.push_back(rule);
      // listen() on an unbound TCP socket binds it to an ephemeral port of every host address
      // without a bind() for Landlock to refuse: an inbound channel from the network. There is
      // no loopback of the sandbox's own here for a test server to use.
      policy::SyscallRule listen;
      listen.name = "listen";
      listen.err = EACCES;
      listen.why = "tier landlock: a listening socket would take connections from the network";
      rules.push_back(listen);
    }
    if (!options_.namespaces && plan_.network == policy::NetworkMode::kNone) {
      // No network namespace: `net: none` must close UDP too, which Landlock does not cover.
      for (std::uint64_t family : {2ull /*AF_INET*/, 10ull /*AF_INET6*/}) {
        policy::SyscallRule rule;
        rule.name = "socket";
        rule.err = EACCES;
        rule.args.push_back({0, 0xffffffffull, family});
        rule.why = "network: none without a network namespace";
        rules.push_back(rule);
      }
    }
    auto program = seccomp_program_for(rules);
    if (!program) return program.error();
    spec.seccomp_program = std::move(*program);

    add_rlimits(spec);
    spec.cwd = plan_.cwd;
    spec.argv_storage = argv;
    for (const policy::EnvVar& var : plan_.env) {
      if (!options_.namespaces && var.name == "TMPDIR") {
        spec.env_storage.push_back("TMPDIR=" + options_.private_tmpdir);
        continue;
      }
      spec.env_storage.push_back(var.name + "=" + var.value);
    }
    if (!options_.namespaces && plan_.network == policy::NetworkMode::kAllowlist) {
      // The host's resolv.conf stays in place (no mounts): glibc is told to ask over TCP, whose
      // connect() to port 53 of any address the gate (or the kernel layer) sends to the stub.
      // UDP sockets are refused in this tier (see add_host_network_rules).
      std::string options = "use-vc";
      for (auto it = spec.env_storage.begin(); it != spec.env_storage.end(); ++it) {
        if (it->rfind("RES_OPTIONS=", 0) == 0) {
          options = it->substr(12) + " use-vc";
          spec.env_storage.erase(it);
          break;
        }
      }
      spec.env_storage.push_back("RES_OPTIONS=" + options);
    }
    if (std::none_of(plan_.env.begin(), plan_.env.end(),
                     [](const policy::EnvVar& v) { return v.name == "PWD"; })) {
      spec.env_storage.push_back("PWD=" + plan_.cwd);
    }
    return out;
  }

 private:
  void add(MountOp op) { ops_.push_back(std::move(op)); }

  // Allowlist mode without a network namespace: the gate brokers connect(), so every way of
  // sending IP traffic WITHOUT connect() is closed here. A datagram's destination can be given
  // per sendmsg() in memory seccomp cannot read (and a notifier's check of it could be raced),
  // so datagram sockets are not created at all; DNS goes over TCP (RES_OPTIONS=use-vc).
  static void add_host_network_rules(std::vector<policy::SyscallRule>& rules) {
    constexpr std::uint64_t kLow32 = 0xffffffffull, kTypeMask = 0xf;
    constexpr std::uint64_t kSockRaw = 3, kIpprotoSctp = 132;
    for (std::uint64_t family : {2ull /*AF_INET*/, 10ull /*AF_INET6*/}) {
      for (std::uint64_t type = 2; type <= kTypeMask; ++type) {
        if (type == kSockRaw) continue;  // refused for every sandbox already
        policy::SyscallRule rule;
        rule.name = "socket";
        rule.err = EACCES;
        rule.args = {{0, kLow32, family}, {1, kTypeMask, type}};
        rule.why = "allowlist without a network namespace: only TCP sockets (UDP, SCTP, DCCP "
                   "would send without connect())";
        rules.push_back(rule);
      }
      policy::SyscallRule sctp;
      sctp.name = "socket";
      sctp.err = EACCES;
      sctp.args = {{0, kLow32, family}, {2, kLow32, kIpprotoSctp}};
      sctp.why = "allowlist without a network namespace: SCTP stream sockets send without connect()";
      rules.push_back(sctp);
    }
  }

  // Landlock's TCP rules govern TCP only: an MPTCP or SMC socket whose connect() the gate let
  // through (a unix sockaddr, with the descriptor or the sockaddr swapped before the kernel read
  // it) would leave unchecked, from the host's network namespace when the socket is one the gate
  // handed over. EPROTONOSUPPORT is what a kernel without them says: programs fall back to TCP.
  static void add_other_stream_rules(std::vector<policy::SyscallRule>& rules) {
    constexpr std::uint64_t kLow32 = 0xffffffffull, kIpprotoSmc = 256, kIpprotoMptcp = 262;
    for (std::uint64_t family : {2ull /*AF_INET*/, 10ull /*AF_INET6*/}) {
      for (std::uint64_t protocol : {kIpprotoMptcp, kIpprotoSmc}) {
        policy::SyscallRule other;
        other.name = "socket";
        other.err = EPROTONOSUPPORT;
        other.args = {{0, kLow32, family}, {2, kLow32, protocol}};
        other.why = "network allowlist: Landlock's TCP rules do not cover MPTCP or SMC sockets";
        rules.push_back(other);
      }
    }
  }

  // TCP Fast Open connects inside sendto()/sendmsg(), past the connect() the gate brokers. With a
  // network namespace too: a socket the gate handed over lives in the host's namespace, and once
  // its peer closed it, Fast Open would connect it again to anything the host reaches.
  static void add_fast_open_rules(std::vector<policy::SyscallRule>& rules) {
    constexpr std::uint64_t kMsgFastopen = 0x20000000;
    for (auto [name, index] : {std::pair{"sendto", 3u}, {"sendmsg", 2u}, {"sendmmsg", 3u}}) {
      policy::SyscallRule rule;
      rule.name = name;
      rule.err = EACCES;
      rule.args = {{index, kMsgFastopen, kMsgFastopen}};
      rule.why = "network allowlist: TCP Fast Open would connect past the gate";
      rules.push_back(rule);
    }
  }

  // With a network namespace, the gate also performs bind() and listen() on the socket it checked
  // is the sandbox's: a socket it handed over lives in the host's namespace, where a bind would
  // take one of the host's ports and a listen would take connections from the network.
  static void add_gate_socket_rules(std::vector<policy::SyscallRule>& rules) {
    for (const char* name : {"bind", "listen"}) {
      policy::SyscallRule rule;
      rule.name = name;
      rule.action = policy::SyscallAction::kNotify;
      rule.why = "network allowlist: only the sandbox's own sockets are bound or listen";
      rules.push_back(rule);
    }
  }

  void add_tmpfs(const std::string& target, unsigned mode, bool no_exec, std::string why) {
    MountOp op;
    op.kind = MountKind::kTmpfs;
    op.target = target;
    op.read_only = false;
    op.no_exec = no_exec;
    op.mode = mode;
    op.why = std::move(why);
    add(std::move(op));
  }

  void add_system_mounts() {
    MountOp proc;
    proc.kind = MountKind::kProc;
    proc.target = "/proc";
    proc.why = "a fresh /proc that shows only the sandbox's processes";
    add(std::move(proc));

    // procfs shows the host's sysctls and trigger files; with moat run as root the command's
    // uid owns them (uid 0), so they are made read-only or masked like container runtimes do.
    auto guard = [this](MountKind kind, const char* path, const char* why) {
      MountOp op;
      op.kind = kind;
      op.target = path;
      op.is_dir = kind != MountKind::kMaskFile;
      op.read_only = true;
      op.optional = true;  // which of these exist depends on the kernel
      op.why = why;
      add(std::move(op));
    };
    // Only root's sandbox user owns these files (uid 0 maps to 0); for anyone else the kernel's
    // own permission checks and Landlock's read-only /proc already refuse every write.
    if (options_.running_as_root) {
      for (const char* path : {"/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs"}) {
        guard(MountKind::kSelfBind, path, "kernel settings stay read-only");
      }
      for (const char* path : {"/proc/sysrq-trigger", "/proc/kcore", "/proc/keys",
                               "/proc/timer_list", "/proc/sched_debug", "/proc/kallsyms"}) {
        guard(MountKind::kMaskFile, path, "kernel internals are masked");
      }
    }

    add_tmpfs("/dev", 0755, true, "a minimal /dev");
    for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
      MountOp op;
      op.kind = MountKind::kDevNode;
      op.source = std::string("/dev/") + node;
      op.target = op.source;
      op.is_dir = false;
      op.read_only = false;
      op.why = "device node";
      add(std::move(op));
    }
    MountOp pts;
    pts.kind = MountKind::kDevpts;
    pts.target = "/dev/pts";
    pts.why = "a private devpts: no access to the host's terminals";
    add(std::move(pts));
    add_tmpfs("/dev/shm", 01777, true, "private shared memory");
    for (auto [target, content] : {std::pair{"/dev/ptmx", "pts/ptmx"},
                                   {"/dev/fd", "/proc/self/fd"},
                                   {"/dev/stdin", "/proc/self/fd/0"},
                                   {"/dev/stdout", "/proc/self/fd/1"},
                                   {"/dev/stderr", "/proc/self/fd/2"}}) {
      MountOp op;
      op.kind = MountKind::kSymlink;
      op.target = target;
      op.source = content;
      op.why = "standard /dev link";
      add(std::move(op));
    }

    if (plan_.network == policy::NetworkMode::kAllowlist) add_resolv_conf();
    add_tmpfs(plan_.tmpdir, 01777, false, "the sandbox's private temporary directory");
    if (!plan_.home.empty() && plan_.home != "/" && !has_exact_grant(plan_.home)) {
      // (A home whose path holds "," ":" or "\\" cannot be named in overlay options: empty home.)
      if (plan_.learning && inspect(plan_.home).is_dir && plan_.home.find_first_of(",:\\") == std::string::npos) {
        MountOp op;
        op.kind = MountKind::kOverlay;
        op.source = plan_.home;
        op.target = plan_.home;
        op.read_only = false;
        op.no_exec = true;
        op.why = "moat learn: the real home read-only below a private layer that takes the writes";
        add(std::move(op));
      } else {
        add_tmpfs(plan_.home, 0700, true,
                  "an empty home: the host's home is not visible except granted paths");
      }
    }
  }

  // The sandbox's resolver is the gate's DNS stub. Where /etc/resolv.conf is a link (systemd's
  // stub-resolv.conf), the file is placed where the link points.
  void add_resolv_conf() {
    std::string target = "/etc/resolv.conf";
    char buf[PATH_MAX];
    ssize_t n = ::readlink(target.c_str(), buf, sizeof(buf) - 1);
    if (n > 0) {
      std::string link(buf, static_cast<size_t>(n));
      target = link[0] == '/' ? link : "/etc/" + link;
      if (auto normal = real_path_lexical(target)) target = *normal;
    }
    MountOp op;
    op.kind = MountKind::kGeneratedFile;
    op.target = target;
    op.is_dir = false;
    op.source =
        "# written by moat: the network gate's DNS stub\nnameserver 127.0.0.53\n"
        "options edns0\n";
    op.why = "the gate's DNS stub as the only resolver";
    add(std::move(op));
  }

  bool has_exact_grant(const std::string& path) const {
    return std::any_of(plan_.paths.begin(), plan_.paths.end(),
                       [&](const policy::PathRule& r) { return r.path == path; });
  }

  // Another existing grant already shows `path` with at least `access`.
  bool covered_by_grant(const std::string& path, unsigned access) const {
    return std::any_of(plan_.paths.begin(), plan_.paths.end(), [&](const policy::PathRule& r) {
      if (!is_under(path, r.path) || (r.access & access) != access) return false;
      HostEntry e = inspect(r.path);
      return e.exists && !e.is_symlink;
    });
  }

  bool is_denied(const std::string& path) const {
    return std::any_of(plan_.deny.begin(), plan_.deny.end(),
                       [&](const policy::DenyRule& d) { return is_under(path, d.path); });
  }

  Status add_grant_mounts(std::vector<std::string>& skipped) {
    // A grant inside the project stays inside it however it resolves now: the CLI checked the
    // links earlier, but the project may be another sandbox's to change meanwhile (a directory
    // swapped for a symlink out), and what is resolved here is what gets bound.
    const std::optional<std::string> real_project =
        plan_.project.empty() ? std::nullopt : real_path(plan_.project);
    for (const policy::PathRule& rule : plan_.paths) {
      if (rule.path == plan_.tmpdir || rule.path == "/proc" || rule.path == "/dev") continue;
      if (is_denied(rule.path)) continue;
      bool write = (rule.access & policy::kAccessWrite) != 0;
      bool exec = (rule.access & policy::kAccessExec) != 0;
      HostEntry entry = inspect(rule.path);
      if (!entry.exists) {
        skipped.push_back(rule.path);
        continue;
      }
      auto resolved = real_path(rule.path);
      if (!resolved) {
        skipped.push_back(rule.path);
        continue;
      }
      if (real_project && rule.path != plan_.project && is_under(rule.path, plan_.project) &&
          !is_under(*resolved, *real_project) && *resolved != *real_project) {
        return syscall_error("granting " + rule.path, "realpath", rule.path + " -> " + *resolved,
                             EXDEV,
                             "a path granted inside the project leads out of it through a "
                             "symlink (changed while the sandbox was being made?)");
      }
      if (entry.is_symlink) {
        // Keep the link as the host has it (/lib -> usr/lib) and grant its target as well.
        char buf[PATH_MAX];
        ssize_t n = ::readlink(rule.path.c_str(), buf, sizeof(buf) - 1);
        if (n > 0) {
          MountOp link;
          link.kind = MountKind::kSymlink;
          link.target = rule.path;
          link.source.assign(buf, static_cast<size_t>(n));
          link.why = "symlink, as on the host";
          add(std::move(link));
          // /bin -> usr/bin under a grant of /usr: the link is all that is needed.
          if (!covered_by_grant(*resolved, rule.access)) {
            extra_grants_.push_back({*resolved, rule.access, entry.is_dir});
            if (!is_denied(*resolved)) add_bind(*resolved, *resolved, entry.is_dir, write, exec);
          }
          continue;
        }
      }
      add_bind(*resolved, rule.path, entry.is_dir, write, exec);
    }
    // Sources in a writable tree may change under us (another sandbox of the same project):
    // those are bound exactly; the system's own trees by path, which costs less.
    std::vector<std::string> writable;
    for (const MountOp& op : ops_) {
      if (op.kind == MountKind::kBind && !op.read_only) writable.push_back(op.source);
    }
    for (MountOp& op : ops_) {
      if (op.kind != MountKind::kBind) continue;
      op.exact = std::any_of(writable.begin(), writable.end(),
                             [&](const std::string& w) { return is_under(op.source, w); });
    }
    return {};
  }

  void add_bind(const std::string& source, const std::string& target, bool is_dir, bool write,
                bool exec) {
    MountOp op;
    op.kind = MountKind::kBind;
    op.source = source;
    op.target = target;
    op.is_dir = is_dir;
    op.read_only = !write;
    op.no_exec = !exec;
    op.why = write ? "writable grant" : (exec ? "read/exec grant" : "read-only grant");
    add(std::move(op));
  }

  // The mount that shows `path` inside the sandbox: the deepest bind, tmpfs or overlay above it.
  const MountOp* covering(const std::string& path) const {
    const MountOp* best = nullptr;
    for (const MountOp& op : ops_) {
      if (op.kind != MountKind::kBind && op.kind != MountKind::kTmpfs &&
          op.kind != MountKind::kOverlay) {
        continue;
      }
      if (!is_under(path, op.target)) continue;
      if (best == nullptr || op.target.size() > best->target.size()) best = &op;
    }
    return best;
  }

  void add_self_bind(const std::string& target, bool is_dir, bool read_only, std::string why) {
    for (const MountOp& op : ops_) {
      if (op.kind == MountKind::kSelfBind && op.target == target) {
        if (read_only) const_cast<MountOp&>(op).read_only = true;
        return;
      }
    }
    MountOp op;
    op.kind = MountKind::kSelfBind;
    op.target = target;
    op.is_dir = is_dir;
    op.read_only = read_only;
    op.why = std::move(why);
    add(std::move(op));
  }

  // A shared lock on the empty file at `path` (a placeholder, ours or another run's), so that no
  // run's cleanup unlinks it under this sandbox. false if it is gone (a cleanup won the race:
  // look again) or is not an empty regular file (not a placeholder: nothing to hold).
  bool hold_placeholder(const std::string& path, std::vector<sys::UniqueFd>& locks,
                        bool* vanished, bool* marked) {
    *vanished = false;
    *marked = false;
    sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      *vanished = errno == ENOENT;
      return false;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 64) return false;
    // Blocking: a cleanup holds its exclusive lock only while it unlinks.
    if (::flock(fd.get(), LOCK_SH) != 0) return false;
    if (::fstat(fd.get(), &st) != 0 || st.st_nlink == 0) {
      *vanished = true;
      return false;
    }
    char mark = 0;
    *marked = ::fgetxattr(fd.get(), kPlaceholderMark, &mark, 1) == 1 && mark == '1';
    locks.push_back(std::move(fd));
    return true;
  }

  Status add_protections(std::vector<Placeholder>& placeholders, std::vector<sys::UniqueFd>& locks,
                         std::vector<std::string>& unprotected) {
    std::vector<std::string> read_only_placeholders;
    // What DIR/* found: kept read-only if still there, never replaced by a placeholder.
    std::vector<std::string> existing_only;
    const std::vector<policy::ProtectRule> rules =
        expand_contents_rules(plan_.protect, plan_.paths, &existing_only);
    for (const policy::ProtectRule& rule : rules) {
      // Already inside a read-only placeholder made for an earlier rule (.git for .git/hooks).
      if (std::any_of(read_only_placeholders.begin(), read_only_placeholders.end(),
                      [&](const std::string& p) { return is_under(rule.path, p); })) {
        continue;
      }
      const MountOp* cover = covering(rule.path);
      if (cover == nullptr || cover->read_only) continue;  // not visible or already read-only
      std::string why = "protected (" + rule.protection + "): read-only inside a writable tree";
      // A private tmpfs (the empty home, /tmp) is discarded at exit: nothing written there can
      // persist, and the command gains nothing by changing it within its own run.
      if (cover->kind == MountKind::kTmpfs || cover->kind == MountKind::kOverlay) continue;
      // A host tree: walk from the cover down; every directory on the way becomes a mount point
      // so it cannot be renamed away and recreated (`mv .git .git2; mkdir .git`).
      // Copied: the loop adds mount points to ops_, which moves the MountOp `cover` points at.
      const std::string cover_target = cover->target;
      const std::string cover_source = cover->source;
      cover = nullptr;
      std::string rest = rule.path.substr(cover_target.size());
      std::string current = cover_target == "/" ? "" : cover_target;
      size_t pos = 0;
      int retries = 0;  // another run in the same project creating or removing the same name
      while (pos < rest.size()) {
        size_t next = rest.find('/', pos + 1);
        std::string component =
            rest.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
        std::string candidate = current + component;
        bool last = next == std::string::npos;
        HostEntry entry = inspect(candidate);
        if (entry.is_symlink) {
          // A link inside the writable tree: the path cannot be protected, since a mount cannot
          // sit on a link and the command may replace the link with a directory of its own and
          // create the protected path there (`rm .vscode; mkdir .vscode`, then tasks.json). Not
          // run without it, unless the user accepts that (non-negotiable: fail closed).
          const std::string why = rule.path + " (" + rule.protection + "): " + candidate +
                                  " is a symlink in a writable tree";
          if (!options_.allow_unprotected) {
            return syscall_error("protecting " + rule.path, "lstat", candidate, ELOOP,
                                 "a protected path cannot be kept read-only through a symlink "
                                 "the command may replace: replace the link " +
                                     candidate +
                                     " with what it points at, or pass --allow-degraded to "
                                     "run without this protection");
          }
          unprotected.push_back(why);
          break;
        }
        if (!entry.exists && last &&
            std::find(existing_only.begin(), existing_only.end(), rule.path) !=
                existing_only.end()) {
          break;  // an entry of DIR/* that went away meanwhile: nothing to keep
        }
        if (!entry.exists) {
          // Always an empty file, even for a directory (.git, .vscode, .git/hooks/): nothing
          // can be created under a file either, and a file costs little to remove, while an
          // ext4 rmdir frees a block (0.2-3 ms with `discard` on this machine kind). Inside,
          // the name is a read-only empty file; git treats it as "no repository"/"no hook".
          std::string root = cover_source;
          std::string relative = candidate.substr(cover_target == "/" ? 1 : cover_target.size() + 1);
          std::string leaf;
          int parent = open_parent_beneath(root, relative, &leaf);
          int fd = parent < 0 ? -1
                              : ::openat(parent, leaf.c_str(),
                                         O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
          int create_err = errno;
          if (parent >= 0) ::close(parent);
          if (fd < 0 && create_err == EEXIST && ++retries < 8) continue;  // made meanwhile
          if (fd < 0) {
            return syscall_error("creating a placeholder for protected path " + rule.path,
                                 "openat", candidate, create_err,
                                 "the parent directory must be writable by you, with no symlink "
                                 "on the way");
          }
          std::string content = last ? rule.placeholder : std::string();
          if (!content.empty() && ::write(fd, content.data(), content.size()) !=
                                      static_cast<ssize_t>(content.size())) {
            int err = errno;
            ::close(fd);
            remove_placeholders({{candidate, root, relative, false, {}}});
            return syscall_error("writing a placeholder", "write", candidate, err);
          }
          ::flock(fd, LOCK_SH);  // ours, new: no one else can hold it yet
          // Marked, so that the last run using it removes it, whichever made it (best effort: a
          // file system without user xattrs leaves it to this run alone).
          ::fsetxattr(fd, kPlaceholderMark, "1", 1, 0);
          locks.emplace_back(fd);
          placeholders.push_back({candidate, root, relative, false, content});
          read_only_placeholders.push_back(candidate);
          add_self_bind(candidate, false, true, why);
          break;
        }
        if (last || !entry.is_dir) {
          bool vanished = false, marked = false;
          const bool held = !entry.is_dir && hold_placeholder(candidate, locks, &vanished, &marked);
          if (!held && vanished && ++retries < 8) continue;  // removed meanwhile: make our own
          if (held && marked) {
            // Another run's placeholder: whichever of us ends last removes it (if unchanged).
            char content[65] = {};
            const ssize_t n = ::pread(locks.back().get(), content, 64, 0);
            std::string relative =
                candidate.substr(cover_target == "/" ? 1 : cover_target.size() + 1);
            placeholders.push_back({candidate, cover_source, relative, false,
                                    std::string(content, n > 0 ? static_cast<size_t>(n) : 0)});
          }
          add_self_bind(candidate, entry.is_dir, true, why);
          break;
        }
        add_self_bind(candidate, true, false, "mount point so a protected path cannot be moved");
        current = candidate;
        pos = next;
      }
    }
    return {};
  }

  bool is_redacted(const std::string& path) const {
    return std::any_of(plan_.redacted.begin(), plan_.redacted.end(),
                       [&](const policy::RedactedFile& r) { return r.path == path; });
  }

  void add_masks() {
    for (const policy::DenyRule& rule : plan_.deny) {
      if (is_redacted(rule.path)) continue;  // the copy goes there instead (add_redacted_files)
      // What a bind shows from the host needs a mask. In a private tmpfs (the empty home) the
      // name would simply be absent; a secret that exists on the host gets an unreadable mask
      // there too, so an attempt to read it fails with EACCES, which the watch reports, instead
      // of an ENOENT lost among thousands of ordinary lookups.
      const MountOp* lexical_cover = covering(rule.path);
      HostEntry entry = inspect(rule.path);
      if (!entry.exists) continue;
      std::vector<std::string> targets;
      if (lexical_cover != nullptr && (lexical_cover->kind == MountKind::kBind ||
                                       lexical_cover->kind == MountKind::kTmpfs ||
                                       lexical_cover->kind == MountKind::kOverlay)) {
        targets.push_back(rule.path);
      }
      // The same file under its real name, if another grant shows that one.
      if (auto resolved = real_path(rule.path); resolved && *resolved != rule.path) {
        targets.push_back(*resolved);
      }
      for (const std::string& target : targets) {
        const MountOp* cover = covering(target);
        if (cover == nullptr || (cover->kind != MountKind::kBind && cover->kind != MountKind::kTmpfs &&
                                 cover->kind != MountKind::kOverlay)) {
          continue;
        }
        HostEntry t = target == rule.path ? entry : inspect(target);
        if (!t.exists || t.is_symlink) continue;
        // What the caller cannot read on the host it cannot read inside either (same uid, no
        // capabilities): no mask needed. Root can read everything, so root gets every mask.
        if (cover->kind == MountKind::kBind && !options_.running_as_root &&
            ::access(target.c_str(), R_OK) != 0 &&
            (!t.is_dir || ::access(target.c_str(), X_OK) != 0)) {
          continue;
        }
        MountOp op;
        op.kind = t.is_dir ? MountKind::kMaskDir : MountKind::kMaskFile;
        op.target = target;
        op.is_dir = t.is_dir;
        op.why = "denied: masked";
        add(std::move(op));
      }
    }
  }

  // Placeholders in the work tree (.gitmodules, .vscode, ...) are empty files git would list as
  // untracked, and an agent's `git add -A && git commit` inside would commit them. The sandbox
  // sees the repository's .git/info/exclude (read-only there: base protects .git/info) with
  // them appended; the file on the host is unchanged. Only where that file exists.
  void hide_placeholders_from_git(const std::vector<Placeholder>& placeholders) {
    const std::string project = plan_.project;
    const std::string git_dir = project + "/.git";
    const std::string exclude = git_dir + "/info/exclude";
    std::string lines;
    for (const Placeholder& p : placeholders) {
      if (!is_under(p.path, project) || p.path == git_dir || is_under(p.path, git_dir)) continue;
      lines += "/" + glob_escaped(p.path.substr(project.size() + 1)) + "\n";
    }
    if (lines.empty()) return;
    struct stat st {};
    if (::lstat(exclude.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    const bool replaced = std::any_of(ops_.begin(), ops_.end(), [&](const MountOp& op) {
      const bool covers = op.target == exclude || is_under(exclude, op.target);
      return covers && (op.target == exclude || op.kind == MountKind::kMaskDir);
    });
    if (replaced) return;  // masked, or something else there already
    std::string content = sys::read_small_file(exclude, 1 << 20);
    if (!content.empty() && content.back() != '\n') content += '\n';
    content += "# moat: placeholders of protected paths (not in the project; gone after the run)\n";
    content += lines;
    MountOp op;
    op.kind = MountKind::kGeneratedFile;
    op.target = exclude;
    op.is_dir = false;
    op.source = std::move(content);
    op.why = "the repository's exclude list with moat's placeholders: git ignores them";
    add(std::move(op));
  }

  // PATH as a gitignore pattern that matches only itself: wildcards and a leading '#' or '!'
  // escaped with a backslash.
  static std::string glob_escaped(const std::string& path) {
    std::string out;
    for (char c : path) {
      if (c == '*' || c == '?' || c == '[' || c == '\\' || c == '!' || c == '#') out += '\\';
      out += c;
    }
    return out;
  }

  // The credential-free copy, where the client looks for the real file: the real one is never
  // bound in, so the copy is all there is to read at that name.
  void add_redacted_files() {
    for (const policy::RedactedFile& r : plan_.redacted) {
      MountOp op;
      op.kind = MountKind::kGeneratedFile;
      op.target = r.path;
      op.is_dir = false;
      op.source = r.content;
      op.why = "redacted: a copy without credentials";
      add(std::move(op));
    }
  }

  void finish_mounts() {
    std::stable_sort(ops_.begin(), ops_.end(), [](const MountOp& a, const MountOp& b) {
      if (a.target != b.target) return a.target < b.target;
      return kind_rank(a.kind) < kind_rank(b.kind);
    });
    int generated = 0;
    for (MountOp& op : ops_) {
      if (op.kind == MountKind::kBind || op.kind == MountKind::kDevNode ||
          op.kind == MountKind::kOverlay) {
        op.staged_source = kStagedOld + op.source;
      }
      // Each generated file is its own file in the staging root: a bind shares the inode, so
      // writing a second one into the same name would change the first one's content.
      if (op.kind == MountKind::kGeneratedFile) {
        op.staged_source = "/generated-" + std::to_string(generated++);
      }
      if (op.kind == MountKind::kOverlay) {
        // The upper layer lives in a tmpfs of its own in the staging root (kOverlayScratch);
        // userxattr: overlay's own metadata in user.* xattrs, which a user namespace may set.
        op.fs_options = "lowerdir=" + op.staged_source + ",upperdir=" + kOverlayScratch +
                        "/upper,workdir=" + kOverlayScratch + "/work,userxattr";
      }
      op.staged_target = kStagedNew + op.target;
      if (op.kind == MountKind::kTmpfs) {
        char mode[32];
        std::snprintf(mode, sizeof(mode), "mode=%04o", op.mode);
        op.fs_options = mode;
      }
    }
  }

  void grant(const std::string& path, std::uint64_t rights, bool optional) {
    landlock_.push_back({path, rights, optional});
  }

  void add_landlock() {
    const int abi = options_.landlock_abi;
    const std::uint64_t all = ll::fs_rights_for_abi(abi);
    if (options_.namespaces) {
      grant("/", ll::kReadDir, false);
      grant("/proc", ll::kReadFile | ll::kReadDir, false);  // no writes: sysctls, sysrq
      grant("/dev", (ll::kReadFile | ll::kReadDir | ll::kWriteFile | ll::kIoctlDev) & all, false);
      grant("/dev/shm", all & ~ll::kExecute, false);
      grant(plan_.tmpdir, all, false);
      if (!plan_.home.empty() && plan_.home != "/") {
        grant(plan_.home, all & ~ll::kExecute, false);
      }
    }
    for (const policy::PathRule& rule : plan_.paths) {
      if (is_denied(rule.path)) continue;
      HostEntry entry = inspect(rule.path);
      if (!entry.exists) continue;
      grant(rule.path, landlock_rights(rule.access, entry.is_dir, abi), true);
    }
    for (const auto& extra : extra_grants_) {
      grant(extra.path, landlock_rights(extra.access, extra.is_dir, abi), true);
    }
    for (const policy::RedactedFile& r : plan_.redacted) {
      grant(r.path, landlock_rights(policy::kAccessRead, false, abi), true);
    }
  }

  // Tier landlock: no mounts, so masks and protections become holes in the Landlock grants.
  // A grant with a hole below it is split: directories on the way get only read rights, every
  // other entry its full grant. Exact for read-only trees; in writable trees the directories on
  // the way accept no new entries (reported as `narrowed`).
  struct Hole {
    std::string path;
    bool deny;
  };

  void split_grant(const std::string& path, unsigned access, const std::vector<Hole>& holes,
                   std::vector<std::string>& narrowed, int depth) {
    const int abi = options_.landlock_abi;
    HostEntry entry = inspect(path);
    if (!entry.exists) return;
    bool any_inside = false, any_deny_inside = false;
    for (const Hole& h : holes) {
      if (h.path == path) {
        if (!h.deny)
          grant(path, landlock_rights(access & ~policy::kAccessWrite, entry.is_dir, abi), true);
        return;
      }
      if (is_under(h.path, path)) {
        any_inside = true;
        any_deny_inside = any_deny_inside || h.deny;
      }
    }
    if (!any_inside || !entry.is_dir || entry.is_symlink || depth > 32) {
      if (!entry.is_symlink) grant(path, landlock_rights(access, entry.is_dir, abi), true);
      return;
    }
    std::uint64_t self = ll::kReadDir;
    if (!any_deny_inside) {
      self |= ll::kReadFile | ((access & policy::kAccessExec) ? ll::kExecute : 0);
    }
    grant(path, self, true);
    if (access & policy::kAccessWrite) narrowed.push_back(path);
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return;
    while (dirent* d = ::readdir(dir)) {
      std::string name = d->d_name;
      if (name == "." || name == "..") continue;
      split_grant(path == "/" ? "/" + name : path + "/" + name, access, holes, narrowed, depth + 1);
    }
    ::closedir(dir);
  }

  void add_landlock_without_mounts(std::vector<std::string>& narrowed) {
    const int abi = options_.landlock_abi;
    const std::uint64_t all = ll::fs_rights_for_abi(abi);
    // Other processes' /proc entries are closed by Landlock's ptrace scoping.
    grant("/proc", ll::kReadFile | ll::kReadDir, false);
    for (const char* node :
         {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}) {
      grant(node, (ll::kReadFile | ll::kWriteFile | ll::kIoctlDev) & all, true);
    }
    grant("/dev/pts", (ll::kReadFile | ll::kWriteFile | ll::kIoctlDev) & all, true);
    grant("/dev/shm", all & ~ll::kExecute, true);
    grant(options_.private_tmpdir, all, false);

    std::vector<Hole> holes;
    for (const policy::DenyRule& d : plan_.deny) holes.push_back({d.path, true});
    std::vector<std::string> existing_only;
    for (const policy::ProtectRule& p :
         expand_contents_rules(plan_.protect, plan_.paths, &existing_only)) {
      holes.push_back({p.path, false});
    }
    for (const policy::PathRule& rule : plan_.paths) {
      if (rule.path == plan_.tmpdir) continue;  // replaced by the private directory
      split_grant(rule.path, rule.access, holes, narrowed, 0);
    }
  }

  void add_rlimits(ChildSpec& spec) const {
    // Never above the current hard limit: raising it needs CAP_SYS_RESOURCE, which we lack.
    auto set = [&spec](int resource, std::uint64_t value) {
      rlimit current{};
      if (::getrlimit(static_cast<__rlimit_resource>(resource), &current) == 0 &&
          current.rlim_max != RLIM_INFINITY && value > current.rlim_max) {
        value = current.rlim_max;
      }
      spec.rlimits.push_back({resource, rlimit{value, value}});
    };
    set(RLIMIT_CORE, 0);  // a core dump would copy the process's memory into the project
    const policy::Limits& l = plan_.limits;
    if (l.open_files) set(RLIMIT_NOFILE, *l.open_files);
    if (l.file_size_bytes) set(RLIMIT_FSIZE, *l.file_size_bytes);
    // RLIMIT_NPROC is counted per user namespace, so it bounds only the sandbox's processes.
    // Root is exempt from it; root's sandboxes get the cgroup pids limit instead.
    if (l.processes && !options_.running_as_root) set(RLIMIT_NPROC, *l.processes);
  }

  struct ExtraGrant {
    std::string path;
    unsigned access;
    bool is_dir;
  };

  const policy::Plan& plan_;
  const PrepareOptions& options_;
  std::vector<MountOp> ops_;
  std::vector<LandlockPath> landlock_;
  std::vector<ExtraGrant> extra_grants_;
};

}  // namespace

std::uint64_t landlock_rights(unsigned access, bool directory, int abi) {
  const std::uint64_t all = ll::fs_rights_for_abi(abi);
  std::uint64_t rights = ll::kReadFile | (directory ? ll::kReadDir : 0);
  if (access & policy::kAccessExec) rights |= ll::kExecute;
  if (access & policy::kAccessWrite) {
    rights |= all & ~ll::kExecute;
  }
  if (!directory) {
    rights &= ll::kExecute | ll::kWriteFile | ll::kReadFile | ll::kTruncate | ll::kIoctlDev;
  }
  return rights & all;
}

Result<Prepared> setup_child_spec(const policy::Plan& plan, const std::vector<std::string>& argv,
                                  const PrepareOptions& options) {
  SpecBuilder builder(plan, options);
  return builder.build(argv);
}

void remove_placeholders(const std::vector<Placeholder>& placeholders) {
  // Newest first, so a placeholder directory is empty of later ones before we try it.
  for (auto it = placeholders.rbegin(); it != placeholders.rend(); ++it) {
    std::string leaf;
    int parent = open_parent_beneath(it->root, it->relative, &leaf);
    if (parent < 0) continue;  // a symlink appeared on the way: leave it, touch nothing
    if (it->directory) {
      ::unlinkat(parent, leaf.c_str(), AT_REMOVEDIR);  // fails, harmlessly, unless still empty
    } else {
      // Only if it still holds what we put there: never delete the user's file.
      // And only if no other run holds it: unlinking it would lift that sandbox's protection.
      int fd = ::openat(parent, leaf.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
      struct stat st {};
      if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &st) == 0 &&
          S_ISREG(st.st_mode) &&
          static_cast<size_t>(st.st_size) == it->content.size()) {
        std::string now(it->content.size(), '\0');
        if (::pread(fd, now.data(), now.size(), 0) == static_cast<ssize_t>(now.size()) &&
            now == it->content) {
          ::unlinkat(parent, leaf.c_str(), 0);
        }
      }
      if (fd >= 0) ::close(fd);
    }
    ::close(parent);
  }
}

}  // namespace moat::launcher
