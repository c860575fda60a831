// Journals are JSON files named by the owning moat's pid; "gone" means kill(pid, 0) says ESRCH,
// so a journal of a live process (or a reused pid) is never touched.
#include "sandboxd/launcher/placeholder_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace moat::launcher {
namespace {

void make_dirs(const std::string& dir) {
  for (size_t pos = 1; pos != std::string::npos; pos = dir.find('/', pos + 1)) {
    ::mkdir(dir.substr(0, pos).c_str(), 0700);
  }
  ::mkdir(dir.c_str(), 0700);
}

}  // namespace

std::string write_placeholder_journal(const std::string& dir, pid_t pid,
                                      const std::vector<Placeholder>& placeholders) {
  if (placeholders.empty() || dir.empty()) return {};
  make_dirs(dir);
  nlohmann::json list = nlohmann::json::array();
  for (const Placeholder& p : placeholders) {
    list.push_back({{"path", p.path}, {"root", p.root}, {"relative", p.relative},
                    {"directory", p.directory}, {"content", p.content}});
  }
  std::string path = dir + "/" + std::to_string(pid) + ".json";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return {};
  std::string text = list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok ? path : std::string();
}

void clean_stale_placeholders(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::string path = dir + "/" + e->d_name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    struct stat st {};
    std::string text;
    // Only journals we wrote: ours, not writable by others.
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
        (st.st_mode & 022) == 0) {
      char buf[8192];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    nlohmann::json list = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (list.is_array()) {
      std::vector<Placeholder> stale;
      for (const auto& p : list) {
        if (!p.is_object()) continue;
        stale.push_back({p.value("path", std::string()), p.value("root", std::string()),
                         p.value("relative", std::string()), p.value("directory", false),
                         p.value("content", std::string())});
      }
      remove_placeholders(stale);
    }
    ::unlink(path.c_str());
  }
  ::closedir(d);
}

}  // namespace moat::launcher
