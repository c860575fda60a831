// Record -> Event rules; see convert.h.
#include "sandboxd/watch/convert.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <string_view>
#include <vector>

#include "sandboxd/report/run_events.h"

namespace moat::watch {
namespace {

std::optional<std::string> read_link(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

// DIR/REL with "." and ".." components and doubled slashes folded away, lexically (symbolic links
// are not followed). Written out rather than std::filesystem: this runs for every file event.
std::string join_normal(const std::string& dir, const std::string& rel) {
  std::string out;
  out.reserve(dir.size() + rel.size() + 1);
  auto append = [&out](std::string_view path) {
    size_t pos = 0;
    while (pos <= path.size()) {
      size_t end = path.find('/', pos);
      if (end == std::string_view::npos) end = path.size();
      std::string_view part = path.substr(pos, end - pos);
      pos = end + 1;
      if (part.empty() || part == ".") continue;
      if (part == "..") {
        size_t slash = out.rfind('/');
        out.resize(slash == std::string::npos ? 0 : slash);
        continue;
      }
      out += '/';
      out += part;
    }
  };
  append(dir);
  append(rel);
  return out.empty() ? "/" : out;
}

const char* syscall_name(Op op) {
  switch (op) {
    case Op::kOpenat:
      return "openat";
    case Op::kOpenat2:
      return "openat2";
    case Op::kOpen:
      return "open";
    case Op::kCreat:
      return "creat";
    case Op::kUnlinkat:
      return "unlinkat";
    case Op::kUnlink:
      return "unlink";
    case Op::kRmdir:
      return "rmdir";
    case Op::kRenameat:
      return "renameat";
    case Op::kRenameat2:
      return "renameat2";
    case Op::kRename:
      return "rename";
    case Op::kMkdirat:
      return "mkdirat";
    case Op::kMkdir:
      return "mkdir";
    case Op::kFchmodat:
      return "fchmodat";
    case Op::kFchmodat2:
      return "fchmodat2";
    case Op::kChmod:
      return "chmod";
    case Op::kFchmod:
      return "fchmod";
    case Op::kChdir:
      return "chdir";
    case Op::kFchdir:
      return "fchdir";
    case Op::kSymlinkat:
      return "symlinkat";
    case Op::kSymlink:
      return "symlink";
    case Op::kTruncate:
      return "truncate";
    case Op::kFtruncate:
      return "ftruncate";
    case Op::kLinkat:
      return "linkat";
    case Op::kLink:
      return "link";
    case Op::kNone:
      break;
  }
  return "?";
}

std::string octal_mode(std::uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0%03o", mode & 07777);
  return buf;
}

report::Event base_event(const RecordHeader& h, const Process& p, std::string kind) {
  report::Event e;
  e.kind = std::move(kind);
  e.pid = h.pid;
  e.ppid = p.ppid;
  e.exe = p.exe;
  e.origin = p.origin;
  e.layer = "watch";
  return e;
}

void put_path(nlohmann::json& detail, const char* key, const ResolvedPath& p, bool truncated) {
  detail[key] = p.path;
  if (p.relative) detail[std::string(key) + "_relative"] = true;
  if (p.unresolved) detail[std::string(key) + "_unresolved"] = true;
  if (truncated) detail[std::string(key) + "_truncated"] = true;
}

}  // namespace

std::optional<std::string> LiveProcLookup::fd_path(pid_t pid, int fd) const {
  return read_link("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd));
}

std::optional<std::string> LiveProcLookup::cwd(pid_t pid) const {
  return read_link("/proc/" + std::to_string(pid) + "/cwd");
}

std::optional<std::string> LiveProcLookup::link(const std::string& proc_path) const {
  return read_link(proc_path);
}

ResolvedPath resolve_path(const std::string& path, int dirfd, pid_t pid,
                          const std::string& known_cwd, const ProcLookup& lookup) {
  if (!path.empty() && path[0] == '/') return {join_normal("/", path.substr(1)), false};
  std::optional<std::string> dir;
  if (dirfd == AT_FDCWD) {
    dir = known_cwd.empty() ? lookup.cwd(pid) : std::optional<std::string>(known_cwd);
  } else if (dirfd >= 0) {
    dir = lookup.fd_path(pid, dirfd);
  }
  if (!dir || dir->empty() || (*dir)[0] != '/') return {path, true};
  if (path.empty()) {  // fchmod(fd), ftruncate(fd), AT_EMPTY_PATH: the fd itself
    ResolvedPath self{*dir, false};
    // A memfd (Chromium, Playwright size their shared memory with ftruncate) names no file.
    self.not_a_file = dir->rfind("/memfd:", 0) == 0;
    return self;
  }
  return {join_normal(*dir, path), false};
}

std::optional<ResolvedPath> resolve_proc_link(const std::string& path, pid_t pid, pid_t tid,
                                              const ProcLookup& lookup) {
  constexpr std::string_view kProc = "/proc/";
  if (path.rfind(kProc, 0) != 0) return std::nullopt;
  std::vector<std::string_view> parts;
  for (size_t pos = kProc.size(); pos < path.size();) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    parts.push_back(std::string_view(path).substr(pos, end - pos));
    pos = end + 1;
  }
  auto numeric = [](std::string_view s) {
    return !s.empty() && s.size() < 11 &&
           s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  // The sandbox's /proc is its own pid namespace's: `self` and `thread-self` are the recorded
  // process and thread (host ids); a number is read through the process's root, whose /proc
  // is that namespace's.
  const std::string host = "/proc/" + std::to_string(pid);
  std::string link;
  size_t i = 1;
  if (parts.empty()) return std::nullopt;
  if (parts[0] == "thread-self") {
    link = host + "/task/" + std::to_string(tid);
  } else if (parts[0] == "self" || numeric(parts[0])) {
    const bool self = parts[0] == "self";
    if (parts.size() > 2 && parts[1] == "task" && numeric(parts[2])) {
      link =
          host + "/root/proc/" +
          (self ? std::string(parts[2]) : std::string(parts[0]) + "/task/" + std::string(parts[2]));
      i = 3;
    } else {
      link = self ? host : host + "/root/proc/" + std::string(parts[0]);
    }
  } else {
    return std::nullopt;  // /proc/sys/..., /proc/meminfo: no link to follow
  }
  if (i < parts.size() && parts[i] == "fd" && i + 1 < parts.size() && numeric(parts[i + 1])) {
    link += "/fd/" + std::string(parts[i + 1]);
    i += 2;
  } else if (i < parts.size() && (parts[i] == "cwd" || parts[i] == "root")) {
    link += "/" + std::string(parts[i]);
    i += 1;
  } else {
    return std::nullopt;  // /proc/self/comm, /proc/self/attr/...: not a file elsewhere
  }
  std::string rest;
  for (; i < parts.size(); ++i) {
    rest += rest.empty() ? "" : "/";
    rest += parts[i];
  }
  std::optional<std::string> target = lookup.link(link);
  if (!target || target->empty()) {
    ResolvedPath given{path, false};
    given.unresolved = true;  // the process or its descriptor is gone: the path as given
    return given;
  }
  if ((*target)[0] != '/' || target->rfind("/memfd:", 0) == 0) {
    ResolvedPath other{*target, false};  // pipe:[N], socket:[N], anon_inode:[...], a memfd
    other.not_a_file = true;
    return other;
  }
  return ResolvedPath{join_normal(*target, rest), false};
}

std::string errno_name(int err) {
  switch (err) {
    case EPERM:
      return "EPERM";
    case ENOENT:
      return "ENOENT";
    case EACCES:
      return "EACCES";
    case EEXIST:
      return "EEXIST";
    case ENOTDIR:
      return "ENOTDIR";
    case EISDIR:
      return "EISDIR";
    case EINVAL:
      return "EINVAL";
    case ENOSPC:
      return "ENOSPC";
    case EROFS:
      return "EROFS";
    case EXDEV:
      return "EXDEV";
    case ENOTEMPTY:
      return "ENOTEMPTY";
    case EBUSY:
      return "EBUSY";
    case ELOOP:
      return "ELOOP";
    case ENAMETOOLONG:
      return "ENAMETOOLONG";
    case EDQUOT:
      return "EDQUOT";
    case ETXTBSY:
      return "ETXTBSY";
    default:
      return "E" + std::to_string(err);
  }
}

std::string deny_layer(int err) {
  switch (err) {
    case EACCES:
      return "landlock";
    case EROFS:
      return "mount";
    case EPERM:
      return "seccomp";
    default:
      return {};
  }
}

bool is_noise(const std::string& path) {
  return path == "/dev/null" || path == "/dev/tty" || path.rfind("/dev/pts/", 0) == 0 ||
         path.rfind("/proc/self/", 0) == 0 || path.rfind("/proc/thread-self/", 0) == 0;
}

std::string exe_path(const ExecRecord& r) {
  if (!r.filename.empty() && r.filename[0] == '/') return join_normal("/", r.filename);
  if (r.filename.empty() || r.cwd.empty()) return r.filename;
  return join_normal(r.cwd, r.filename);
}

report::Event exec_event(const ExecRecord& r, const Process& p) {
  report::Event e = base_event(r.h, p, "exec");
  e.ppid = r.h.ppid;
  e.detail = {{"argv", r.argv}, {"cwd", r.cwd}};
  if (r.argv_truncated) e.detail["argv_truncated"] = true;
  return e;
}

report::Event exit_event(const ExitRecord& r, const Process& p) {
  report::Event e = base_event(r.h, p, "exit");
  int sig = r.exit_code & 0x7f;
  e.detail = {{"status", sig == 0 ? (r.exit_code >> 8) & 0xff : 128 + sig}, {"signal", sig}};
  return e;
}

std::optional<report::Event> file_event(const FileRecord& r, const Process& p,
                                        const ProcLookup& lookup) {
  if (p.exe.empty()) return std::nullopt;  // the sandbox's own setup, before the command
  std::string kind;
  nlohmann::json detail = nlohmann::json::object();
  switch (r.op) {
    case Op::kOpenat:
    case Op::kOpenat2:
    case Op::kOpen:
    case Op::kCreat:
      if ((r.flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) == 0) {
        // Reads reach us only when refused (EACCES/EPERM): an attempt on a secret.
        if (r.ret >= 0) return std::nullopt;
        kind = "read";
      } else {
        kind = (r.flags & O_CREAT) != 0 ? "create" : "write";
      }
      break;
    case Op::kUnlinkat:
    case Op::kUnlink:
    case Op::kRmdir:
      kind = "delete";
      if (r.op == Op::kRmdir || (r.flags & AT_REMOVEDIR) != 0) detail["dir"] = true;
      break;
    case Op::kRenameat:
    case Op::kRenameat2:
    case Op::kRename:
      kind = "rename";
      break;
    case Op::kMkdirat:
    case Op::kMkdir:
      kind = "create";
      detail["dir"] = true;
      detail["mode"] = octal_mode(r.mode);
      break;
    case Op::kFchmodat:
    case Op::kFchmodat2:
    case Op::kChmod:
    case Op::kFchmod:
      kind = "chmod";
      detail["mode"] = octal_mode(r.mode);
      break;
    case Op::kSymlinkat:
    case Op::kSymlink:
      kind = "symlink";
      break;
    case Op::kTruncate:
    case Op::kFtruncate:
      kind = "write";
      break;
    case Op::kLinkat:
    case Op::kLink:
      kind = "create";  // a new name for an existing file (or an O_TMPFILE one's first)
      break;
    default:
      return std::nullopt;
  }
  // Relative to the directory, then through the process's /proc links (/proc/self/fd/N...).
  auto resolve = [&](const std::string& given, int dirfd) {
    ResolvedPath at = resolve_path(given, dirfd, r.h.pid, p.cwd, lookup);
    if (at.relative) return at;
    return resolve_proc_link(at.path, r.h.pid, r.h.tid, lookup).value_or(at);
  };
  const bool link = r.op == Op::kLinkat || r.op == Op::kLink;
  // A link's record carries the old name first, as a rename's does; the event names the new one.
  ResolvedPath path = link ? resolve(r.path2, r.dirfd2) : resolve(r.path, r.dirfd);
  // A write through /proc/self/fd/N of a pipe or socket changes no file; one whose link could
  // not be read any more is reported as given, never dropped.
  if ((kind == "write" || kind == "create") &&
      (path.not_a_file || (!path.unresolved && is_noise(path.path)))) {
    return std::nullopt;
  }
  put_path(detail, "path", path, link ? r.path2_truncated : r.path_truncated);
  if (kind == "rename") put_path(detail, "to", resolve(r.path2, r.dirfd2), r.path2_truncated);
  if (link) put_path(detail, "from", resolve(r.path, r.dirfd), r.path_truncated);
  if (kind == "symlink") {
    detail["target"] = r.path2;
    if (r.path2_truncated) detail["target_truncated"] = true;
    if (!path.relative) detail["target_path"] = report::symlink_target_path(path.path, r.path2);
  }
  if (r.op == Op::kFchmod || r.op == Op::kFtruncate) detail["fd"] = r.dirfd;
  detail["syscall"] = syscall_name(r.op);

  report::Event e = base_event(r.h, p, kind);
  if (r.ret < 0) {
    int err = static_cast<int>(-r.ret);
    std::string layer = deny_layer(err);
    if (layer.empty()) return std::nullopt;  // an ordinary failure (ENOENT, EEXIST...)
    detail["op"] = kind;
    detail["error"] = errno_name(err);
    e.kind = "deny";
    e.verdict = "refused";
    e.layer = layer;
  }
  e.detail = std::move(detail);
  return e;
}

}  // namespace moat::watch
