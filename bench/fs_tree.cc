// bench/fs_tree: a file-heavy workload shaped like an npm install and cleanup: DIRS directories of
// FILES small files each (a node_modules-like tree) are created, written and then removed.
// Usage: bench_fs_tree ROOT [DIRS] [FILES]; ROOT must not exist. Prints the time the work took
// (without process start) as "workload_us N"; exits non-zero on any failure.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

bool fail(const char* what, const std::string& path) {
  std::fprintf(stderr, "bench_fs_tree: %s %s: %s\n", what, path.c_str(), std::strerror(errno));
  return false;
}

bool build(const std::string& root, int dirs, int files) {
  static const char kContent[] = "module.exports = function () { return 42; };\n";
  if (::mkdir(root.c_str(), 0755) != 0) return fail("mkdir", root);
  for (int d = 0; d < dirs; ++d) {
    std::string dir = root + "/pkg-" + std::to_string(d);
    if (::mkdir(dir.c_str(), 0755) != 0) return fail("mkdir", dir);
    for (int f = 0; f < files; ++f) {
      std::string path = dir + "/file-" + std::to_string(f) + ".js";
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) return fail("open", path);
      bool ok = ::write(fd, kContent, sizeof kContent - 1) == sizeof kContent - 1;
      ::close(fd);
      if (!ok) return fail("write", path);
    }
  }
  return true;
}

bool remove_tree(const std::string& root, int dirs, int files) {
  for (int d = 0; d < dirs; ++d) {
    std::string dir = root + "/pkg-" + std::to_string(d);
    for (int f = 0; f < files; ++f) {
      std::string path = dir + "/file-" + std::to_string(f) + ".js";
      if (::unlink(path.c_str()) != 0) return fail("unlink", path);
    }
    if (::rmdir(dir.c_str()) != 0) return fail("rmdir", dir);
  }
  return ::rmdir(root.c_str()) == 0 || fail("rmdir", root);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_fs_tree ROOT [DIRS] [FILES]\n");
    return 2;
  }
  int dirs = argc > 2 ? std::atoi(argv[2]) : 2000;
  int files = argc > 3 ? std::atoi(argv[3]) : 10;
  auto start = std::chrono::steady_clock::now();
  if (!build(argv[1], dirs, files) || !remove_tree(argv[1], dirs, files)) return 1;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start);
  std::printf("workload_us %lld\n", static_cast<long long>(us.count()));
  return 0;
}
