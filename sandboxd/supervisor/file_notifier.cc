// The supervisor's file-change report without root; see file_notifier.h.
#include "sandboxd/supervisor/file_notifier.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <optional>

#include "policy/variables.h"
#include "sandboxd/report/run_events.h"

namespace moat::supervisor {
namespace {

constexpr long kNoFd = -1;
constexpr int kNrFchmodat2 = 452;  // Linux 6.6; not in every libc's headers yet

void answer_continue(int notify_fd, std::uint64_t id) {
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  ::ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);  // ENOENT: the caller is gone
}

// A NUL-terminated string from the process's memory, read page by page (a string near the end
// of a mapping must not fail because the next page is unmapped).
std::optional<std::string> read_string(pid_t pid, std::uint64_t address) {
  if (address == 0) return std::nullopt;
  std::string out;
  char chunk[256];
  while (out.size() < PATH_MAX) {
    std::uint64_t page_left = 4096 - (address % 4096);
    size_t want = std::min<std::uint64_t>(sizeof(chunk), page_left);
    iovec local{chunk, want};
    iovec remote{reinterpret_cast<void*>(address), want};
    ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return std::nullopt;
    const char* nul = static_cast<const char*>(std::memchr(chunk, '\0', static_cast<size_t>(n)));
    if (nul != nullptr) {
      out.append(chunk, static_cast<size_t>(nul - chunk));
      return out;
    }
    out.append(chunk, static_cast<size_t>(n));
    address += static_cast<std::uint64_t>(n);
  }
  return std::nullopt;
}

// Files Python runs at every start (a .pth with an import line, sitecustomize): reported even
// inside the project, so the account can check what they contain (a virtualenv lives there).
bool under_any(const std::string& path, const std::vector<std::string>& roots) {
  return std::any_of(roots.begin(), roots.end(),
                     [&](const std::string& root) { return report::is_within(path, root); });
}

bool python_startup_file(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return (name.size() > 4 && name.compare(name.size() - 4, 4, ".pth") == 0) ||
         name == "sitecustomize.py" || name == "usercustomize.py";
}

std::string read_link(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// What one call changes: its kind, and where its path (and a rename's target) come from.
struct CallShape {
  const char* kind = nullptr;  // nullptr: not a change (an open for reading)
  long dirfd = kNoFd;          // argument index of the directory fd, or kNoFd (cwd)
  int path = -1;               // argument index of the path
  long dirfd2 = kNoFd;
  int path2 = -1;              // rename/link target
  bool dir = false;
};

CallShape shape_of(const seccomp_data& d) {
  const auto flags_kind = [](std::uint64_t flags) -> const char* {
    if ((flags & O_CREAT) != 0) return "create";
    if ((flags & (O_WRONLY | O_RDWR | O_TRUNC)) != 0) return "write";
    return nullptr;
  };
  switch (d.nr) {
    case __NR_openat: return {flags_kind(d.args[2]), 0, 1};
    case __NR_open: return {flags_kind(d.args[1]), kNoFd, 0};
    case __NR_creat: return {"create", kNoFd, 0};
    case __NR_truncate: return {"write", kNoFd, 0};
    case __NR_mkdir: return {"create", kNoFd, 0, kNoFd, -1, true};
    case __NR_mkdirat: return {"create", 0, 1, kNoFd, -1, true};
    case __NR_unlink: return {"delete", kNoFd, 0};
    case __NR_rmdir: return {"delete", kNoFd, 0, kNoFd, -1, true};
    case __NR_unlinkat: return {"delete", 0, 1, kNoFd, -1, (d.args[2] & AT_REMOVEDIR) != 0};
    case __NR_rename: return {"rename", kNoFd, 0, kNoFd, 1};
    case __NR_renameat:
    case __NR_renameat2: return {"rename", 0, 1, 2, 3};
    case __NR_link: return {"create", kNoFd, 1};
    case __NR_linkat: return {"create", 2, 3};
    // A symlink's target (argument 0) is read as written, not resolved: see handle().
    case __NR_symlink: return {"symlink", kNoFd, 1};
    case __NR_symlinkat: return {"symlink", 1, 2};
    default: return {};
  }
}

}  // namespace

FileNotifier::FileNotifier(report::EventLog& events, FileNotifierRoots roots)
    : events_(events), roots_(std::move(roots)) {}

FileNotifier::~FileNotifier() = default;

void FileNotifier::handle(int notify_fd, const seccomp_notif& req) {
  if (roots_.broker_mode_changes && is_brokered(static_cast<long>(req.data.nr))) {
    broker_metadata_change(notify_fd, req);
    return;
  }
  const CallShape shape = shape_of(req.data);
  if (shape.kind == nullptr || shape.path < 0) {
    answer_continue(notify_fd, req.id);
    return;
  }
  const pid_t tid = static_cast<pid_t>(req.pid);
  auto resolve = [&](long dirfd_index, int path_index) -> std::string {
    std::optional<std::string> raw = read_string(tid, req.data.args[path_index]);
    if (!raw || raw->empty()) return {};
    std::string base;
    if (!raw->empty() && (*raw)[0] != '/') {
      const int dirfd = dirfd_index == kNoFd ? AT_FDCWD : static_cast<int>(req.data.args[dirfd_index]);
      base = dirfd == AT_FDCWD ? read_link("/proc/" + std::to_string(tid) + "/cwd")
                               : read_link("/proc/" + std::to_string(tid) + "/fd/" +
                                           std::to_string(dirfd));
    }
    if ((*raw)[0] != '/' && base.empty()) return std::string();  // nothing to resolve against
    return policy::normalize_path((*raw)[0] == '/' ? *raw : base + "/" + *raw);
  };
  std::string path = resolve(shape.dirfd, shape.path);
  std::string to = shape.path2 >= 0 ? resolve(shape.dirfd2, shape.path2) : std::string();
  const bool symlink = std::string_view(shape.kind) == "symlink";
  std::optional<std::string> target = symlink ? read_string(tid, req.data.args[0]) : std::nullopt;
  // The reads above are only meaningful while the call still waits for us.
  if (::ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) != 0) return;
  const std::string& changed = std::string(shape.kind) == "rename" ? to : path;
  // Symlinks are reported wherever they are made, the project included: one left pointing at
  // ~/.bashrc turns the developer's next write to it into persistence (findings.cc).
  if (path.empty() || (report::is_usual_write(changed, roots_.usual, roots_.home) &&
                        !python_startup_file(changed) && !symlink)) {
    answer_continue(notify_fd, req.id);
    return;
  }
  report::Event e;
  e.pid = tid;
  {
    std::ifstream status("/proc/" + std::to_string(tid) + "/status");
    std::string key;
    while (status >> key) {
      if (key == "Tgid:") {
        status >> e.pid;
        break;
      }
    }
  }
  report::EventLog::attribute(e);  // while it waits: its environment names its package
  answer_continue(notify_fd, req.id);
  nlohmann::json detail = {{"path", path}, {"syscall", "seccomp-notify"}};
  if (!to.empty()) detail["to"] = to;
  if (shape.dir) detail["dir"] = true;
  if (target) {
    detail["target"] = *target;
    detail["target_path"] = report::symlink_target_path(path, *target);
  }
  if (under_any(changed, roots_.writable)) {
    e.kind = shape.kind;
    e.layer = "supervisor";
  } else {
    // No grant covers it: the kernel refuses it (a read-only mount, or Landlock without one).
    e.kind = "deny";
    e.verdict = "refused";
    e.layer = roots_.refusing_layer;
    detail["op"] = shape.kind;
    detail["predicted"] = true;
  }
  e.detail = std::move(detail);
  events_.add(std::move(e));
}

namespace {

// Times for utimensat from the caller's own argument: utime's utimbuf, utimes' and futimesat's
// timeval pair, utimensat's timespec pair (UTIME_NOW and UTIME_OMIT kept); NULL is "now".
// false: unreadable (EFAULT).
bool read_times(pid_t tid, const seccomp_data& d, std::optional<std::array<timespec, 2>>* out) {
  const std::uint64_t address = d.args[d.nr == __NR_utime || d.nr == __NR_utimes ? 1 : 2];
  out->reset();
  if (address == 0) return true;
  auto read = [&](void* buf, std::size_t len) {
    iovec local{buf, len};
    iovec remote{reinterpret_cast<void*>(address), len};
    return ::process_vm_readv(tid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
  };
  std::array<timespec, 2> ts{};
  if (d.nr == __NR_utime) {
    std::int64_t times[2];  // struct utimbuf: actime, modtime
    if (!read(times, sizeof times)) return false;
    ts = {timespec{times[0], 0}, timespec{times[1], 0}};
  } else if (d.nr == __NR_utimes || d.nr == __NR_futimesat) {
    timeval tv[2];
    if (!read(tv, sizeof tv)) return false;
    ts = {timespec{tv[0].tv_sec, tv[0].tv_usec * 1000},
          timespec{tv[1].tv_sec, tv[1].tv_usec * 1000}};
  } else if (!read(ts.data(), sizeof ts)) {
    return false;
  }
  *out = ts;
  return true;
}

}  // namespace

bool FileNotifier::is_brokered(long nr) {
  return nr == __NR_chmod || nr == __NR_fchmod || nr == __NR_fchmodat || nr == kNrFchmodat2 ||
         nr == __NR_utime || nr == __NR_utimes || nr == __NR_futimesat || nr == __NR_utimensat;
}

void FileNotifier::broker_metadata_change(int notify_fd, const seccomp_notif& req) {
  const pid_t tid = static_cast<pid_t>(req.pid);
  const seccomp_data& d = req.data;
  const bool times =
      d.nr == __NR_utime || d.nr == __NR_utimes || d.nr == __NR_futimesat || d.nr == __NR_utimensat;
  // Where the file is named, and how: chmod(path, mode), fchmod(fd, mode), fchmodat(dirfd,
  // path, mode), fchmodat2(dirfd, path, mode, flags); utime(path, buf), utimes(path, tv),
  // futimesat(dirfd, path, tv), utimensat(dirfd, path or NULL for dirfd itself, ts, flags).
  const bool at = d.nr == __NR_fchmodat || d.nr == kNrFchmodat2 || d.nr == __NR_futimesat ||
                  d.nr == __NR_utimensat;
  // utimensat and futimesat with a NULL path act on DIRFD itself.
  const bool by_fd =
      d.nr == __NR_fchmod || ((d.nr == __NR_utimensat || d.nr == __NR_futimesat) && d.args[1] == 0);
  const auto mode = static_cast<mode_t>(d.args[by_fd || !at ? 1 : 2]);
  const std::uint64_t flags = d.nr == kNrFchmodat2 || d.nr == __NR_utimensat ? d.args[3] : 0;
  int err = 0;
  std::optional<std::array<timespec, 2>> new_times;
  if (times && !read_times(tid, d, &new_times)) err = EFAULT;
  sys::UniqueFd target;
  {
    sys::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, tid, 0)));
    auto their_fd = [&](std::uint64_t fd) {
      return sys::UniqueFd(pidfd.valid() ? static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(),
                                                                      static_cast<int>(fd), 0))
                                         : -1);
    };
    if (err != 0) {
    } else if (by_fd) {
      target = their_fd(d.args[0]);
    } else {
      std::optional<std::string> raw = read_string(tid, d.args[at ? 1 : 0]);
      sys::UniqueFd base;
      if (at && static_cast<int>(d.args[0]) != AT_FDCWD) {
        base = their_fd(d.args[0]);
      } else {
        base.reset(::open(("/proc/" + std::to_string(tid) + "/cwd").c_str(),
                          O_PATH | O_DIRECTORY | O_CLOEXEC));
      }
      if (!raw) {
        err = EFAULT;
      } else if (raw->empty() && (flags & AT_EMPTY_PATH) != 0) {
        target = std::move(base);
      } else if (raw->empty()) {
        err = ENOENT;
      } else if (base.valid()) {
        const int nofollow = (flags & AT_SYMLINK_NOFOLLOW) != 0 ? O_NOFOLLOW : 0;
        target.reset(::openat(base.get(), raw->c_str(), O_PATH | O_CLOEXEC | nofollow));
        if (!target.valid()) err = errno;
      }
    }
    if (err == 0 && !target.valid()) err = EBADF;
  }
  // What was resolved is only the caller's while its call still waits for us.
  if (::ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) != 0) return;
  std::string real;
  struct stat st {};
  if (err == 0) {
    real = read_link("/proc/self/fd/" + std::to_string(target.get()));
    if (::fstat(target.get(), &st) != 0) err = errno;
  }
  const bool inside = !real.empty() && real[0] == '/' && under_any(real, roots_.mode_change_roots);
  if (err == 0) {
    if (!times && S_ISLNK(st.st_mode)) {
      err = EOPNOTSUPP;  // a symlink has no mode of its own (fchmodat2's answer)
    } else if (!inside || (!times && (mode & (S_ISUID | S_ISGID)) != 0)) {
      err = EPERM;
    } else if (st.st_uid != 0) {
      err = EPERM;  // the command (uid 0, no capabilities) owns only uid 0's files
    } else if (times) {
      // On the descriptor resolved above (a symlink itself when the caller said NOFOLLOW).
      if (::utimensat(target.get(), "", new_times ? new_times->data() : nullptr, AT_EMPTY_PATH) !=
          0) {
        err = errno;
      }
    } else if (::chmod(("/proc/self/fd/" + std::to_string(target.get())).c_str(), mode & 07777) !=
               0) {
      err = errno;
    }
  }
  const bool reported = err == EPERM && !real.empty() && roots_.report_mode_refusals;
  report::Event e;
  if (reported) {
    e.pid = tid;
    e.kind = "deny";
    e.verdict = "refused";
    e.layer = "supervisor";
    e.detail = {{"op", times ? "utimes" : "chmod"},
                {"path", real},
                {"error", "EPERM"},
                {"reason", std::string("outside the write paths: the supervisor changes ") +
                               (times ? "file times" : "modes") + " only there"}};
    report::EventLog::attribute(e);  // while it waits: its environment names its package
  }
  seccomp_notif_resp resp{};
  resp.id = req.id;
  resp.error = -err;
  resp.val = 0;
  ::ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  if (reported) events_.add(std::move(e));
}

void FileNotifier::serve(short revents) {
  if (!listener_.valid()) return;
  if ((revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {  // every sandboxed task is gone
    listener_.reset();
    return;
  }
  if ((revents & POLLIN) == 0) return;
  if (buffer_.empty()) {
    // The kernel's seccomp_notif may grow; ask for its size once.
    seccomp_notif_sizes sizes{};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
      listener_.reset();  // the sandbox's calls then fail with ENOSYS: closed, not open
      return;
    }
    buffer_.resize(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
  }
  std::memset(buffer_.data(), 0, buffer_.size());
  auto* req = reinterpret_cast<seccomp_notif*>(buffer_.data());
  if (::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, req) != 0) return;  // ENOENT: it died
  handle(listener_.get(), *req);
}

}  // namespace moat::supervisor
