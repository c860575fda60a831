// ${PROJECT} is the git top level of the working directory (a `.git` entry, dir or file), else
// the working directory itself. Found by walking up, without running git, and never past the
// home directory: a home kept in git (dotfiles) is not the project of everything below it.
#include "cli/context.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

extern char** environ;

namespace moat::cli {
namespace {

// Whether A and B name the same directory (/home/alice and /var/home/alice through a link, or
// written with a double slash): compared by device and inode, not by text.
bool same_directory(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

std::string find_project(const std::string& cwd, const std::string& home) {
  std::string dir = cwd;
  while (true) {
    if (dir != cwd && same_directory(dir, home)) break;
    struct stat st {};
    if (::lstat((dir + "/.git").c_str(), &st) == 0) return dir;
    if (dir == "/" || dir.empty()) break;
    auto slash = dir.find_last_of('/');
    dir = slash == 0 ? "/" : dir.substr(0, slash);
  }
  return cwd;
}

// A file inside the project, opened without leaving it: a symlink the project made (`.npmrc ->
// ../.ssh/id_ed25519`) must not have moat read, and print in a diagnostic, what it points at.
int open_in_project(const std::string& path, const std::string& project) {
  const int dir = ::open(project.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -1;
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const std::string relative = path.substr(project.size() + 1);
  const int fd = static_cast<int>(::syscall(SYS_openat2, dir, relative.c_str(), &how, sizeof(how)));
  ::close(dir);
  return fd;
}

// Tool configuration files (.npmrc, .yarnrc.yml): regular files only, at most 1 MiB (a FIFO or
// a device planted by the project must not hang or flood the compile); the project's own only
// where they lie inside it.
std::optional<std::string> read_config_file(const std::string& path, const std::string& project) {
  const bool in_project = project != "/" && path.size() > project.size() + 1 &&
                          path.compare(0, project.size(), project) == 0 &&
                          path[project.size()] == '/';
  const int fd = in_project ? open_in_project(path, project)
                            : ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::string> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= (1 << 20)) {
    std::string text;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0 && text.size() <= (1u << 20)) {
      text.append(buf, static_cast<std::size_t>(n));
    }
    if (n == 0) out = std::move(text);
  }
  ::close(fd);
  return out;
}

}  // namespace

policy::Context gather_context() {
  policy::Context ctx;
  char buf[PATH_MAX];
  // $PWD keeps the user's view of symlinked directories; trust it only if it is the same dir.
  const char* pwd = std::getenv("PWD");
  struct stat a {}, b {};
  if (pwd != nullptr && pwd[0] == '/' && ::stat(pwd, &a) == 0 && ::stat(".", &b) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    ctx.cwd = pwd;
  } else if (::getcwd(buf, sizeof(buf)) != nullptr) {
    ctx.cwd = buf;
  } else {
    ctx.cwd = "/";
  }
  const char* home = std::getenv("HOME");
  const char* user = std::getenv("USER");
  // The user database only when the environment does not say: a lookup reads nsswitch.conf and
  // /etc/passwd and tries nscd, ~0.1 ms of every start.
  struct passwd* pw = nullptr;
  if (home == nullptr || home[0] != '/' || user == nullptr) pw = ::getpwuid(::getuid());
  ctx.home = home != nullptr && home[0] == '/' ? home : (pw != nullptr ? pw->pw_dir : "/");
  while (ctx.home.size() > 1 && ctx.home.back() == '/') ctx.home.pop_back();
  ctx.user = user != nullptr ? user : (pw != nullptr ? pw->pw_name : std::to_string(::getuid()));
  ctx.project = find_project(ctx.cwd, ctx.home);
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) ctx.environ.emplace_back(*e);
  ctx.search_path = policy::default_search_path(ctx.home);
  ctx.read_file = [project = ctx.project](const std::string& path) {
    return read_config_file(path, project);
  };
  return ctx;
}

}  // namespace moat::cli
