// The per-boot BTF cache; see btf_cache.h. The file feeds the kernel loader's relocations, so it
// is trusted only when root made it: /run/moat is root's, 0700, and every file is checked
// (owner, mode, regular) before use. A cache that cannot be trusted is ignored, never repaired in
// place: a fresh one is written beside it and renamed over it.
#include "sandboxd/watch/btf_cache.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iterator>

extern char** environ;

namespace moat::watch {
namespace {

constexpr const char* kCacheDir = "/run/moat";
constexpr const char* kBpftool = "/usr/sbin/bpftool";
constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

bool trusted(const std::string& path, bool directory) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || st.st_uid != 0 || (st.st_mode & 022) != 0) return false;
  return directory ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::uint64_t fnv1a(const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

bool write_all(const std::string& path, const void* data, std::size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return false;
  const auto* p = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, p + done, size - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return done == size;
}

// bpftool gen min_core_btf VMLINUX OUT OBJECT, with no output on our terminal.
bool run_bpftool(const std::string& out, const std::string& object) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const char* argv[] = {kBpftool, "gen", "min_core_btf", kVmlinuxBtf, out.c_str(), object.c_str(),
                        nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, kBpftool, &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return false;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::optional<std::string> minimal_btf_for(const void* object, std::size_t size) {
  if (::geteuid() != 0) return std::nullopt;
  const std::string id = boot_id();
  if (id.empty()) return std::nullopt;
  char name[96];
  std::snprintf(name, sizeof(name), "/watch-%016llx-%s.btf",
                static_cast<unsigned long long>(fnv1a(object, size)), id.c_str());
  const std::string path = std::string(kCacheDir) + name;
  if (trusted(path, false)) return path;

  if (::mkdir(kCacheDir, 0700) != 0 && errno != EEXIST) return std::nullopt;
  if (!trusted(kCacheDir, true)) return std::nullopt;
  const std::string tag = std::to_string(::getpid());
  const std::string object_file = path + "." + tag + ".o";
  const std::string fresh = path + "." + tag + ".new";
  bool ok = write_all(object_file, object, size) && run_bpftool(fresh, object_file) &&
            trusted(fresh, false) && ::rename(fresh.c_str(), path.c_str()) == 0;
  ::unlink(object_file.c_str());
  if (!ok) ::unlink(fresh.c_str());
  return ok ? std::optional<std::string>(path) : std::nullopt;
}

}  // namespace moat::watch
