// Which sandboxed process owns a loopback socket, for attributing DNS queries to the process
// that asked: the socket's inode from the sandbox's /proc/PID/net tables, then the process
// (in the sandbox's network namespace) holding that inode.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "sandboxd/sys/unique_fd.h"

namespace moat::gate {

class SocketOwners {
 public:
  // Opens the sandbox's socket tables. Call it before the sandbox's pid 1 makes itself
  // non-dumpable (its /proc entries then close to us); the open files keep reading live data.
  void open(pid_t sandbox_pid);
  // The pid (outside view) holding the socket bound to `local_port` on the sandbox's loopback;
  // 0 when not found.
  pid_t find(std::uint16_t local_port, bool tcp) const;

 private:
  unsigned long inode_of(std::uint16_t port, bool tcp) const;
  sys::UniqueFd tables_[4];  // tcp, tcp6, udp, udp6
  std::string netns_;        // "net:[...]" of the sandbox
};

}  // namespace moat::gate
