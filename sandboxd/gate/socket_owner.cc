// Reads the sandbox's /proc/net/{tcp,tcp6,udp,udp6} through descriptors opened at start, then
// scans only the processes whose network namespace is the sandbox's for "socket:[inode]".
#include "sandboxd/gate/socket_owner.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <sstream>

namespace moat::gate {
namespace {

std::string link_of(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string read_all(int fd) {
  std::string out;
  if (fd < 0 || ::lseek(fd, 0, SEEK_SET) != 0) return out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

}  // namespace

void SocketOwners::open(pid_t sandbox_pid) {
  const std::string base = "/proc/" + std::to_string(sandbox_pid);
  const char* names[4] = {"tcp", "tcp6", "udp", "udp6"};
  for (int i = 0; i < 4; ++i) {
    tables_[i].reset(::open((base + "/net/" + names[i]).c_str(), O_RDONLY | O_CLOEXEC));
  }
  netns_ = link_of(base + "/ns/net");
}

unsigned long SocketOwners::inode_of(std::uint16_t port, bool tcp) const {
  for (int i = tcp ? 0 : 2; i < (tcp ? 2 : 4); ++i) {
    std::istringstream table(read_all(tables_[i].get()));
    std::string line;
    std::getline(table, line);  // header
    while (std::getline(table, line)) {
      // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode"
      std::istringstream f(line);
      std::string sl, local, remote, st, queues, timer, retr, uid, timeout;
      unsigned long inode = 0;
      f >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode;
      auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) == port && inode != 0) return inode;
    }
  }
  return 0;
}

pid_t SocketOwners::find(std::uint16_t local_port, bool tcp) const {
  if (netns_.empty()) return 0;
  unsigned long inode = inode_of(local_port, tcp);
  if (inode == 0) return 0;
  const std::string wanted = "socket:[" + std::to_string(inode) + "]";
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  pid_t owner = 0;
  while (dirent* d = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(d->d_name));
    if (pid <= 0) continue;
    const std::string base = "/proc/" + std::string(d->d_name);
    if (link_of(base + "/ns/net") != netns_) continue;
    DIR* fds = ::opendir((base + "/fd").c_str());
    if (fds == nullptr) continue;
    while (dirent* f = ::readdir(fds)) {
      if (f->d_name[0] == '.') continue;
      if (link_of(base + "/fd/" + f->d_name) == wanted) {
        owner = pid;
        break;
      }
    }
    ::closedir(fds);
    if (owner != 0) break;
  }
  ::closedir(proc);
  return owner;
}

}  // namespace moat::gate
