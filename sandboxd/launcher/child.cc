// THE setup table: what the sandbox child does, in order, with the reason for each step.
// Runs after clone: no allocation, no logging; failures go to the parent as {step, errno, index}.
#include "sandboxd/launcher/child.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <string_view>

#include "sandboxd/sys/landlock.h"

namespace moat::launcher {
namespace {
namespace ll = sys::landlock;

// Fixed descriptors in the child, so one close_range call can drop everything else.
constexpr int kReportFd = 3;
constexpr int kRulesetFd = 4;
// Bounded, so a wedged parent cannot keep the sandbox alive (die-with-parent covers a dead one).
constexpr int kLeftoverAckTimeoutMs = 2000;
static_assert(kRulesetFd < kFirstFreeChildFd && kReportFd < kFirstFreeChildFd);

int g_failed_index = -1;  // which mount op failed; the child is single-threaded
// The system call that failed. A string literal: the child is a fork of this very image, so the
// address means the same literal in the parent that reads the report.
const char* g_failed_call = nullptr;

int failed(const char* call) {
  g_failed_call = call;
  return errno;
}

// One report per SOCK_SEQPACKET message, with up to three descriptors attached.
int send_report_with_fds(const Report& report, const int* fds, int count) {
  iovec iov{const_cast<Report*>(&report), sizeof(report)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))];
  if (count > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(static_cast<size_t>(count) * sizeof(int));
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(static_cast<size_t>(count) * sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), fds, static_cast<size_t>(count) * sizeof(int));
  }
  ssize_t n;
  do {
    n = ::sendmsg(kReportFd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(report)) ? 0 : failed("sendmsg");
}

void send_report(const Report& report) { send_report_with_fds(report, nullptr, 0); }

// mkdir -p of every parent of `path`, in a stack buffer.
int make_parents(const char* path) {
  char buf[PATH_MAX];
  size_t len = std::strlen(path);
  if (len >= sizeof(buf)) return ENAMETOOLONG;
  std::memcpy(buf, path, len + 1);
  for (size_t i = 1; i < len; ++i) {
    if (buf[i] != '/') continue;
    buf[i] = '\0';
    if (::mkdir(buf, 0755) != 0 && errno != EEXIST) return failed("mkdir");
    buf[i] = '/';
  }
  return 0;
}

int create_mount_point(const char* path, bool is_dir) {
  if (is_dir) return ::mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : errno;
  int fd = ::open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd >= 0) {
    ::close(fd);
    return 0;
  }
  if (errno == EEXIST || errno == EISDIR) return 0;
  // An existing file in a read-only tree is a fine mount point already.
  if (errno == EROFS || errno == EACCES) {
    struct stat st {};
    return ::lstat(path, &st) == 0 ? 0 : ENOENT;
  }
  return errno;
}

// Most mount points' parents exist already: only walk them after ENOENT.
int make_mount_point(const char* path, bool is_dir) {
  int err = create_mount_point(path, is_dir);
  if (err != ENOENT) return err == 0 ? 0 : (errno = err, failed(is_dir ? "mkdir" : "open"));
  if (int parents = make_parents(path)) return parents;
  err = create_mount_point(path, is_dir);
  return err == 0 ? 0 : (errno = err, failed(is_dir ? "mkdir" : "open"));
}

int set_mount_attrs(const char* path, bool read_only, bool no_exec, bool no_dev) {
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_NOSUID;
  if (read_only) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (no_exec) attr.attr_set |= MOUNT_ATTR_NOEXEC;
  if (no_dev) attr.attr_set |= MOUNT_ATTR_NODEV;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)) != 0) {
    return failed("mount_setattr");
  }
  return 0;
}

int bind(const char* source, const char* target, bool read_only, bool no_exec, bool no_dev) {
  if (::mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return failed("mount");
  return set_mount_attrs(target, read_only, no_exec, no_dev);
}

// A path opened without following any symlink (O_PATH): the parent resolved every source and
// target just before the clone, so a symlink on the way now was swapped in meanwhile (a project
// another sandbox writes) and is refused instead of followed.
int open_exactly(const char* path) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how));
}

// Binds the tree at SOURCE_FD onto the directory or file at TARGET_FD: cloned, its attributes set
// while it is detached, then attached. Nothing is looked up by path again.
int attach_clone(int source_fd, int target_fd, bool read_only, bool no_exec) {
  const int tree = static_cast<int>(
      ::syscall(SYS_open_tree, source_fd, "",
                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE));
  if (tree < 0) return failed("open_tree");
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (read_only) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (no_exec) attr.attr_set |= MOUNT_ATTR_NOEXEC;
  if (::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) !=
      0) {
    ::close(tree);
    return failed("mount_setattr");
  }
  const long moved = ::syscall(SYS_move_mount, tree, "", target_fd, "",
                               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
  ::close(tree);
  return moved == 0 ? 0 : failed("move_mount");
}

// A grant: its source bound as the very file found, onto its mount point as made just now.
int bind_exactly(const char* source, const char* target, bool read_only, bool no_exec) {
  const int from = open_exactly(source);
  if (from < 0) return failed("openat2");
  const int onto = open_exactly(target);
  if (onto < 0) {
    ::close(from);
    return failed("openat2");
  }
  const int err = attach_clone(from, onto, read_only, no_exec);
  ::close(from);
  ::close(onto);
  return err;
}

// A protection: the path bound onto itself, so it stays where it is (a mount point cannot be
// renamed away) and, read-only, unchanged. Opened once: a symlink swapped in under it would
// otherwise take the protection somewhere else and leave the real path writable.
int self_bind_exactly(const char* target, bool read_only) {
  const int fd = open_exactly(target);
  if (fd < 0) return failed("openat2");
  const int err = attach_clone(fd, fd, read_only, false);
  ::close(fd);
  return err;
}

int apply_mount_op(const MountOp& op) {
  const char* target = op.staged_target.c_str();
  if (op.optional) {
    struct stat st {};
    if (::lstat(target, &st) != 0) return 0;
  }
  if (op.kind == MountKind::kSymlink) {
    if (int err = make_parents(target)) return err;
    if (::symlink(op.source.c_str(), target) != 0 && errno != EEXIST) return failed("symlink");
    return 0;
  }
  bool is_dir = op.is_dir;
  if (op.kind == MountKind::kMaskFile || op.kind == MountKind::kGeneratedFile) is_dir = false;
  if (op.kind == MountKind::kMaskDir) is_dir = true;
  if (op.kind != MountKind::kSelfBind) {
    if (int err = make_mount_point(target, is_dir)) return err;
  }
  switch (op.kind) {
    case MountKind::kTmpfs: {
      unsigned long flags = MS_NOSUID | MS_NODEV | (op.no_exec ? MS_NOEXEC : 0);
      if (::mount("tmpfs", target, "tmpfs", flags, op.fs_options.c_str()) != 0)
        return failed("mount");
      return 0;
    }
    case MountKind::kBind:
      if (!op.exact) return bind(op.staged_source.c_str(), target, op.read_only, op.no_exec, true);
      return bind_exactly(op.staged_source.c_str(), target, op.read_only, op.no_exec);
    case MountKind::kDevNode:
      // Read-only: reads and writes of the device work on a read-only mount, but its mode and
      // times cannot change (the node is the host's, and as root the sandbox owns it).
      return bind(op.staged_source.c_str(), target, true, true, false);
    case MountKind::kSelfBind:
      return self_bind_exactly(target, op.read_only);
    case MountKind::kMaskFile:
      return bind("/mask-file", target, true, true, true);
    case MountKind::kGeneratedFile: {
      // Written into the staging root (gone with it), then bound read-only over the target.
      // staged_source is a name of its own per file (prepare.cc): O_EXCL, never rewritten.
      int fd = ::open(op.staged_source.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0444);
      if (fd < 0) return failed("open");
      ssize_t n = ::write(fd, op.source.data(), op.source.size());
      ::close(fd);
      if (n != static_cast<ssize_t>(op.source.size())) return failed("write");
      return bind(op.staged_source.c_str(), target, true, true, true);
    }
    case MountKind::kMaskDir:
      if (::mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0000") != 0) {
        return failed("mount");
      }
      return set_mount_attrs(target, true, true, true);
    case MountKind::kOverlay: {
      // The upper layer: a tmpfs of its own in the staging root, gone with it (the overlay
      // keeps its own reference). prepare.cc names these paths in fs_options.
      if (::mkdir("/overlay-scratch", 0700) != 0 && errno != EEXIST) return failed("mkdir");
      if (::mount("tmpfs", "/overlay-scratch", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0) {
        return failed("mount");
      }
      if (::mkdir("/overlay-scratch/upper", 0700) != 0 || ::mkdir("/overlay-scratch/work", 0700) != 0) {
        return failed("mkdir");
      }
      unsigned long flags = MS_NOSUID | MS_NODEV | (op.no_exec ? MS_NOEXEC : 0);
      if (::mount("overlay", target, "overlay", flags, op.fs_options.c_str()) != 0) {
        return failed("mount");
      }
      return 0;
    }
    case MountKind::kProc:
      if (::mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        return failed("mount");
      }
      return 0;
    case MountKind::kDevpts:
      if (::mount("devpts", target, "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620") != 0) {
        return failed("mount");
      }
      return 0;
    case MountKind::kSymlink:
      return 0;
  }
  return EINVAL;
}

// ---- the steps ----------------------------------------------------------------------------

int step_die_with_parent(const ChildSpec&) {
  return ::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 ? 0 : failed("prctl");
}

void wait_for_release(const ChildSpec& spec) {
  char byte = 0;
  ssize_t n;
  do {
    n = ::read(spec.release_read_fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) _exit(125);  // the parent is gone or gave up: nothing to report to
}

int step_wait_for_parent(const ChildSpec& spec) {
  wait_for_release(spec);
  ::close(spec.release_read_fd);
  return 0;
}

int step_join_v1_cgroups(const ChildSpec& spec) {
  for (int fd : spec.v1_cgroup_tasks_fds) {
    if (fd < 0) continue;
    ssize_t n;
    do {
      n = ::write(fd, "0", 1);
    } while (n < 0 && errno == EINTR);
    int err = errno;
    // Closed at once: written by anyone, a descriptor opened with our credentials moves any task.
    ::close(fd);
    if (n != 1) {
      errno = n < 0 ? err : EIO;
      return failed("write");
    }
  }
  return 0;
}

int step_fixed_fds(const ChildSpec& spec) {
  if (spec.report_write_fd != kReportFd && ::dup3(spec.report_write_fd, kReportFd, O_CLOEXEC) < 0) {
    return failed("dup3");
  }
  return 0;
}

int step_cgroup_namespace(const ChildSpec& spec) {
  if (!spec.namespaces) return 0;
  return ::unshare(CLONE_NEWCGROUP) == 0 ? 0 : failed("unshare");
}

int step_mount_propagation(const ChildSpec& spec) {
  if (!spec.namespaces) return 0;
  return ::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) == 0 ? 0 : failed("mount");
}

int step_staging_root(const ChildSpec& spec) {
  if (!spec.namespaces) return 0;
  if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return failed("mount");
  if (::mkdir("/tmp/newroot", 0755) != 0 || ::mkdir("/tmp/oldroot", 0755) != 0)
    return failed("mkdir");
  // The new root is a directory of this tmpfs bound onto itself (pivot_root wants a mount point):
  // a second tmpfs would cost a superblock of its own. Its siblings (the mask file, generated
  // files) stay unreachable from it; readonly-root makes the bind read-only.
  if (::mount("/tmp/newroot", "/tmp/newroot", nullptr, MS_BIND, nullptr) != 0) {
    return failed("mount");
  }
  if (::syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") != 0) return failed("pivot_root");
  if (::chdir("/") != 0) return failed("chdir");
  int fd = ::open("/mask-file", O_CREAT | O_WRONLY | O_CLOEXEC, 0000);
  if (fd < 0) return failed("chdir");
  ::close(fd);
  return 0;
}

int step_mounts(const ChildSpec& spec) {
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    if (int err = apply_mount_op(spec.mounts[i])) {
      g_failed_index = static_cast<int>(i);
      return err;
    }
  }
  return 0;
}

int step_enter_root(const ChildSpec& spec) {
  if (!spec.namespaces) return 0;
  if (::chdir("/newroot") != 0) return failed("chdir");
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then removes
  // the old root, and with it every host path not bound in.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return failed("pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) return failed("umount2");
  if (::chdir("/") != 0) return failed("chdir");
  return 0;
}

int step_readonly_root(const ChildSpec& spec) {
  if (!spec.namespaces) return 0;
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  return ::syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof(attr)) == 0
             ? 0
             : failed("mount_setattr");
}

int step_hostname(const ChildSpec& spec) {
  if (!spec.namespaces) return 0;
  return ::sethostname(spec.hostname.data(), spec.hostname.size()) == 0 ? 0 : failed("sethostname");
}

// The network namespace is the costliest one to create (~0.5 ms on this machine kind: the
// loopback device, sysctl tables, every protocol's per-namespace state), so it is not made at
// clone3: a helper task that shares pid 1's memory and descriptor table creates it and brings lo
// up while pid 1 builds the mounts on the other CPU, and pid 1 joins it (join-network) before
// anything else touches the network, long before the command exists. Until then pid 1 runs only
// this table, in the host's network namespace.
struct NetHelper {
  pid_t pid = -1;
  int socket_fd = -1;  // a socket in the new namespace; SIOCGSKNS turns it into the namespace
  const char* failed_call = nullptr;
};
NetHelper g_net;
alignas(16) char g_net_stack[16 * 1024];  // in the image already: no allocation here

// lo of the current network namespace up, through `fd` (an AF_INET socket in it); on failure
// returns errno and names the call.
int bring_loopback_up(int fd, const char** failed_call) {
  ifreq req{};
  std::memcpy(req.ifr_name, "lo", 3);
  if (::ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
    *failed_call = "ioctl(SIOCGIFFLAGS)";
    return errno;
  }
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(fd, SIOCSIFFLAGS, &req) != 0) {
    *failed_call = "ioctl(SIOCSIFFLAGS)";
    return errno;
  }
  return 0;
}

// The helper's body (CLONE_VM: no allocation, our globals only). It shares pid 1's TLS, hence its
// errno: each value is read right after the failing call, and a failure on either side ends the
// setup (fail() reports the helper's own failure first). Raw system calls: a sanitizer's
// interceptors (ioctl) keep per-thread state in that shared TLS, which pid 1 is using meanwhile.
int net_helper(void*) {
  if (::syscall(SYS_unshare, CLONE_NEWNET) != 0) {
    g_net.failed_call = "unshare(CLONE_NEWNET)";
    return errno;
  }
  int fd = static_cast<int>(::syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd < 0) {
    g_net.failed_call = "socket";
    return errno;
  }
  ifreq req{};
  req.ifr_name[0] = 'l';  // "lo", without a (sanitizer-intercepted) memcpy
  req.ifr_name[1] = 'o';
  if (::syscall(SYS_ioctl, fd, SIOCGIFFLAGS, &req) != 0) {
    g_net.failed_call = "ioctl(SIOCGIFFLAGS)";
    return errno;
  }
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::syscall(SYS_ioctl, fd, SIOCSIFFLAGS, &req) != 0) {
    g_net.failed_call = "ioctl(SIOCSIFFLAGS)";
    return errno;
  }
  g_net.socket_fd = fd;
  return 0;
}

int step_start_network(const ChildSpec& spec) {
  if (!spec.namespaces || spec.network_at_clone) return 0;
  g_net.pid = ::clone(net_helper, g_net_stack + sizeof(g_net_stack), CLONE_VM | CLONE_FILES | SIGCHLD,
                      nullptr);
  return g_net.pid > 0 ? 0 : failed("clone");
}

// Waits for the helper; its exit status is its errno (0: the namespace is ready).
int wait_net_helper() {
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(g_net.pid, &status, 0);
  } while (got < 0 && errno == EINTR);
  g_net.pid = -1;
  if (got < 0) return failed("waitpid");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  g_failed_call = g_net.failed_call != nullptr ? g_net.failed_call : "clone";
  return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

int step_join_network(const ChildSpec& spec) {
  if (!spec.namespaces) return 0;
  if (spec.network_at_clone) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return failed("socket");
    int err = bring_loopback_up(fd, &g_failed_call);
    ::close(fd);
    return err;
  }
  if (int err = wait_net_helper()) return err;
  int err = 0;
  int ns = ::ioctl(g_net.socket_fd, SIOCGSKNS);
  if (ns < 0) {
    err = failed("ioctl(SIOCGSKNS)");
  } else if (::setns(ns, CLONE_NEWNET) != 0) {
    err = failed("setns(CLONE_NEWNET)");
  }
  if (ns >= 0) ::close(ns);
  ::close(g_net.socket_fd);
  g_net.socket_fd = -1;
  return err;
}

int bind_dns_socket(const ChildSpec& spec, int type) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -failed("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(53);
  addr.sin_addr.s_addr = htonl(spec.gate_dns_address);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = failed("bind");
    ::close(fd);
    return -err;
  }
  if (type == SOCK_STREAM && ::listen(fd, 64) != 0) {
    int err = failed("listen");
    ::close(fd);
    return -err;
  }
  return fd;
}

// The DNS stub listens inside the sandbox's network namespace (port 53 needs the capabilities we
// still hold); the supervisor outside serves these sockets. Without a namespace the parent made
// them on the host's loopback.
int step_gate_sockets(const ChildSpec& spec) {
  if (!spec.gate || !spec.namespaces) return 0;
  int udp = bind_dns_socket(spec, SOCK_DGRAM);
  if (udp < 0) return -udp;
  int tcp = bind_dns_socket(spec, SOCK_STREAM);
  if (tcp < 0) {
    ::close(udp);
    return -tcp;
  }
  int fds[2] = {udp, tcp};
  int err = send_report_with_fds(Report{ReportKind::kGateFds, 0, 0, 2, 0, nullptr}, fds, 2);
  ::close(udp);
  ::close(tcp);
  return err;
}

int step_landlock_ruleset(const ChildSpec& spec) {
  ll::RulesetAttr attr{};
  attr.handled_access_fs = ll::fs_rights_for_abi(spec.landlock_abi);
  attr.handled_access_net = spec.landlock_handled_net;
  attr.scoped = spec.landlock_scoped;
  size_t size = sizeof(attr);
  if (spec.landlock_abi < 6) size = offsetof(ll::RulesetAttr, scoped);
  if (spec.landlock_abi < 4) size = offsetof(ll::RulesetAttr, handled_access_net);
  int fd = static_cast<int>(ll::create_ruleset(&attr, size, 0));
  if (fd < 0) return failed("landlock_create_ruleset");
  if (fd != kRulesetFd) {
    if (::dup3(fd, kRulesetFd, O_CLOEXEC) < 0) return failed("dup3");
    ::close(fd);
  }
  for (size_t i = 0; i < spec.landlock_paths.size(); ++i) {
    const LandlockPath& rule = spec.landlock_paths[i];
    int path_fd = ::open(rule.path.c_str(), O_PATH | O_CLOEXEC);
    if (path_fd < 0) {
      if (rule.optional && (errno == ENOENT || errno == EACCES)) continue;
      g_failed_index = static_cast<int>(i);
      return failed("open(O_PATH)");
    }
    ll::PathBeneathAttr beneath{rule.rights, path_fd};
    long rc = ll::add_rule(kRulesetFd, ll::kRulePathBeneath, &beneath, 0);
    int err = rc != 0 ? failed("landlock_add_rule") : 0;
    ::close(path_fd);
    if (rc != 0) {
      g_failed_index = static_cast<int>(i);
      return err;
    }
  }
  return 0;
}

int step_drop_capabilities(const ChildSpec& spec) {
  // Securebits first (needs CAP_SETPCAP): root inside gains nothing from execve or setuid.
  unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                       SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                       SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (spec.namespaces && ::prctl(PR_SET_SECUREBITS, bits) != 0) return failed("prctl");
  for (int cap = 0; cap <= spec.cap_last_cap; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      if (spec.namespaces || errno != EPERM) return failed("prctl");
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return failed("prctl");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capset, &header, data) != 0) return failed("capset");
  return 0;
}

int step_rlimits(const ChildSpec& spec) {
  for (const RlimitSetting& r : spec.rlimits) {
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &r.value) != 0)
      return failed("setrlimit");
  }
  return 0;
}

int step_close_fds(const ChildSpec&) {
  if (::syscall(SYS_close_range, kRulesetFd + 1, ~0U, 0) != 0) return failed("close_range");
  return 0;
}

int step_no_new_privs(const ChildSpec&) {
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : failed("prctl");
}

int step_landlock_restrict(const ChildSpec&) {
  if (ll::restrict_self(kRulesetFd, 0) != 0) return failed("restrict_self");
  ::close(kRulesetFd);
  return 0;
}

int step_not_dumpable(const ChildSpec&) {
  // pid 1 holds the report pipe: the command must not read its memory or steal its fds through
  // /proc/1 (dumpable resets to 1 at the command's execve).
  return ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : failed("prctl");
}

int step_seccomp(const ChildSpec& spec) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(spec.seccomp_program.size());
  prog.filter = const_cast<sock_filter*>(spec.seccomp_program.data());
  // With the gate, connect() waits for the supervisor: the listener goes to it at once.
  const bool listener_wanted = spec.gate || spec.file_notify;
  unsigned flags = listener_wanted ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) return failed("seccomp");
  if (!listener_wanted) return 0;
  int listener = static_cast<int>(rc);
  int err = send_report_with_fds(Report{ReportKind::kGateFds, 0, 0, 1, 0, nullptr}, &listener, 1);
  ::close(listener);
  return err;
}

int step_await_watch(const ChildSpec& spec) {
  if (!spec.await_watch) return 0;
  char go = 0;
  ssize_t n;
  do {
    n = ::recv(kReportFd, &go, 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n != 1) _exit(125);  // the parent could not attach it (it says why) or is gone
  return 0;
}

struct Step {
  StepInfo info;
  int (*run)(const ChildSpec&);
};

// The order is the design (shared/STYLE.md): mounts need capabilities and must precede Landlock
// (a landlocked thread cannot mount); seccomp comes last of the restrictions because it cuts off
// the calls the earlier steps make; the wait for the watch is last, so it overlaps all of them.
constexpr Step kSteps[] = {
    {{"die-with-parent", "PR_SET_PDEATHSIG: if moat dies, the sandbox dies with it"},
     step_die_with_parent},
    {{"fixed-fds", "the report pipe at a fixed number, so one close_range drops the rest"},
     step_fixed_fds},
    {{"join-v1-cgroups",
      "memory and pids limits (v1) hold before anything can fork; a thread moving itself is "
      "cheap, a move by the parent waits for an RCU grace period"},
     step_join_v1_cgroups},
    {{"start-network",
      "a helper creates the network namespace and brings lo up while we build the mounts"},
     step_start_network},
    {{"wait-for-parent", "the parent writes the uid/gid maps before we create anything"},
     step_wait_for_parent},
    {{"cgroup-namespace", "entered after the parent moved us, so /proc/self/cgroup shows only /"},
     step_cgroup_namespace},
    {{"mount-propagation", "/ becomes a slave mount: nothing we mount propagates to the host"},
     step_mount_propagation},
    {{"staging-root",
      "tmpfs + pivot_root: host paths stay reachable under /oldroot while the "
      "new root is built"},
     step_staging_root},
    {{"mounts", "binds, tmpfs, /proc, /dev, protections and masks, parents first"}, step_mounts},
    {{"enter-root", "pivot_root into the new root and detach the old one: host paths are gone"},
     step_enter_root},
    {{"readonly-root", "the root tmpfs becomes read-only once every mount point exists"},
     step_readonly_root},
    {{"hostname", "a hostname that says where the command runs"}, step_hostname},
    {{"join-network",
      "into the helper's network namespace (only lo, up: local test servers keep working)"},
     step_join_network},
    {{"gate-sockets", "the DNS stub's sockets, bound inside the namespace, go to the supervisor"},
     step_gate_sockets},
    {{"landlock-ruleset", "path rules are opened inside the new root, before capabilities go"},
     step_landlock_ruleset},
    {{"drop-capabilities", "securebits, bounding set, ambient set, then every capability"},
     step_drop_capabilities},
    {{"rlimits", "open files, file size, processes, no core dumps"}, step_rlimits},
    {{"close-fds", "descriptors the caller leaked must not reach the command"}, step_close_fds},
    {{"no-new-privs", "Landlock and seccomp need it; setuid binaries gain nothing"},
     step_no_new_privs},
    {{"not-dumpable", "the command cannot ptrace or read pid 1 through /proc"}, step_not_dumpable},
    {{"landlock-restrict", "file access rules and scopes, enforced by the kernel from now on"},
     step_landlock_restrict},
    {{"seccomp",
      "the last restriction: it forbids calls the earlier steps needed (mount, pivot_root)"},
     step_seccomp},
    {{"await-watch",
      "as root the parent attaches the watch meanwhile (our cgroup exists from clone): the command "
      "starts once it sees us"},
     step_await_watch},
};
constexpr int kStepCount = sizeof(kSteps) / sizeof(kSteps[0]);
constexpr int kExecStep = kStepCount;  // pseudo-step for the command's own start

constexpr int step_index(const char* name) {
  for (int i = 0; i < kStepCount; ++i) {
    if (std::string_view(kSteps[i].info.name) == name) return i;
  }
  return -1;
}

[[noreturn]] void fail(int step, int err) {
  // The network helper shares our errno: when it failed, that is the failure to report (ours may
  // be its errno, read at the wrong moment).
  if (g_net.pid > 0) {
    const char* our_call = g_failed_call;
    if (int helper_err = wait_net_helper(); helper_err != 0) {
      step = step_index("join-network");
      err = helper_err;
      g_failed_index = -1;
    } else {
      g_failed_call = our_call;
    }
  }
  send_report(Report{ReportKind::kSetupFailed, step, err, g_failed_index, 0, g_failed_call});
  _exit(125);
}

// Searches PATH from the sandbox's environment (not ours) and execs; returns errno on failure.
int exec_command(const ChildSpec& spec) {
  const char* file = spec.argv[0];
  if (std::strchr(file, '/') != nullptr) {
    ::execve(file, spec.argv.data(), spec.envp.data());
    return failed("strchr");
  }
  const char* path = "/usr/local/bin:/usr/bin:/bin";
  for (char* const* e = spec.envp.data(); *e != nullptr; ++e) {
    if (std::strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  }
  int result = ENOENT;
  char candidate[PATH_MAX];
  const char* p = path;
  while (true) {
    const char* end = ::strchrnul(p, ':');
    size_t dir_len = static_cast<size_t>(end - p);
    size_t file_len = std::strlen(file);
    if (dir_len + file_len + 2 < sizeof(candidate)) {
      std::memcpy(candidate, p, dir_len);
      if (dir_len == 0) candidate[dir_len++] = '.';
      candidate[dir_len] = '/';
      std::memcpy(candidate + dir_len + 1, file, file_len + 1);
      ::execve(candidate, spec.argv.data(), spec.envp.data());
      if (errno == EACCES || errno == ENOEXEC || errno == EPERM) result = errno;
    }
    if (*end == '\0') break;
    p = end + 1;
  }
  return result;
}

sigset_t forwarded_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
                  SIGTSTP, SIGALRM}) {
    sigaddset(&set, sig);
  }
  return set;
}

// MOAT_TRACE_SETUP: when each step ended (the vDSO clock: no system call, no allocation).
void stamp(const ChildSpec& spec, int slot) {
  if (spec.step_clock == nullptr) return;
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  spec.step_clock[slot] = static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Counts the processes still alive besides us: they die with us, and the parent reports them.
int count_leftovers() {
  // Every process the sandbox made descends from pid 1 (orphans are reparented to it): with no
  // child of any kind left there is nothing to count, the usual case, in one call, no /proc walk.
  siginfo_t info{};
  if (::waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT | __WALL) != 0 &&
      errno == ECHILD) {
    return 0;
  }
  int fd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  alignas(8) char buf[4096];
  int count = 0;
  while (true) {
    long n = ::syscall(SYS_getdents64, fd, buf, sizeof(buf));
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      if (d->d_name[0] >= '1' && d->d_name[0] <= '9' && std::strcmp(d->d_name, "1") != 0) ++count;
      off += d->d_reclen;
    }
  }
  ::close(fd);
  return count;
}

// pid 1 of the sandbox: start the command, forward signals to its process group, reap orphans,
// and leave when the command leaves; the kernel then kills everything else in the namespace.
struct CommandStart {
  const ChildSpec* spec;
  sigset_t mask;
};

// The command's first moments, on a stack of its own while pid 1 waits (CLONE_VFORK): it touches
// no memory but that stack, so sharing pid 1's address space is safe and the copy is skipped.
int start_command(void* arg) {
  const auto* start = static_cast<const CommandStart*>(arg);
  ::sigprocmask(SIG_SETMASK, &start->mask, nullptr);
  ::setsid();  // no controlling terminal: the command cannot reach the user's shell
  if (::chdir(start->spec->cwd.c_str()) != 0) {
    send_report(Report{ReportKind::kExecFailed, kExecStep, errno, -1, 0, "chdir"});
    _exit(125);
  }
  int err = exec_command(*start->spec);
  send_report(Report{ReportKind::kExecFailed, kExecStep, err, 0, 0, "execve"});
  _exit(err == ENOENT ? 127 : 126);
}

[[noreturn]] void reap(const ChildSpec& spec) {
  sigset_t set = forwarded_signals();
  CommandStart start{&spec, spec.command_mask};
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  alignas(16) static char stack[64 * 1024];  // in the image already: no allocation here
  pid_t command =
      ::clone(start_command, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  if (command < 0) fail(kExecStep, errno);
  stamp(spec, kExecStep);
  // Only the trace reads it: otherwise it would wake the parent for nothing while the command
  // starts.
  if (spec.step_clock != nullptr) send_report(Report{ReportKind::kReady, 0, 0, -1, 0, nullptr});
  int command_status = 0;
  while (true) {
    siginfo_t info{};
    int sig = ::sigwaitinfo(&set, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      if (::kill(-command, sig) != 0) ::kill(command, sig);
      continue;
    }
    bool done = false;
    while (true) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == command) {
        command_status = status;
        done = true;
      }
    }
    if (done) break;
  }
  // Without a pid namespace /proc lists the host's processes too: the parent finds the
  // leftovers itself (it is their subreaper), so nothing to count or wait for here.
  int leftovers = spec.namespaces ? count_leftovers() : 0;
  send_report(Report{ReportKind::kExited, 0, 0, leftovers, command_status, nullptr});
  if (leftovers > 0) {
    // Our exit kills them; first the parent writes down what they were (one byte: done).
    pollfd ack{kReportFd, POLLIN, 0};
    if (::poll(&ack, 1, kLeftoverAckTimeoutMs) == 1) {
      char byte;
      (void)::recv(kReportFd, &byte, 1, MSG_DONTWAIT);
    }
  }
  _exit(0);
}

}  // namespace

const StepInfo* setup_steps(int* count) {
  static StepInfo infos[kStepCount + 1];
  for (int i = 0; i < kStepCount; ++i) infos[i] = kSteps[i].info;
  infos[kStepCount] = {"exec", "start the command"};
  *count = kStepCount + 1;
  return infos;
}

void run_sandbox_child(const ChildSpec& spec) {
  for (int i = 0; i < kStepCount; ++i) {
    if (int err = kSteps[i].run(spec)) fail(i, err);
    stamp(spec, i);
  }
  reap(spec);
}

}  // namespace moat::launcher
