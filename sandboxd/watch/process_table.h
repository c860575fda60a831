// What the watch knows about each process of the sandbox: parent, executable, working directory
// and origin, carried from parent to child by fork records and replaced by exec and chdir ones.
#pragma once

#include <sys/types.h>

#include <string>
#include <unordered_map>

#include "sandboxd/report/origin.h"

namespace moat::watch {

struct Process {
  pid_t ppid = 0;
  std::string exe;  // "" until something in its lineage exec'd: the sandbox's own setup
  std::string cwd;  // absolute, as the sandbox sees it; "" when unknown
  report::Origin origin;
};

class ProcessTable {
 public:
  // The child starts as a copy of its parent (fork keeps the image, cwd and environment).
  void fork(pid_t parent, pid_t grandparent, pid_t child);
  // A new image: exe and cwd as recorded; origin from its environment, else its parent's.
  const Process& exec(pid_t pid, pid_t ppid, std::string exe, std::string cwd,
                      std::string_view environment);
  void chdir(pid_t pid, std::string cwd);
  void exit(pid_t pid);
  // nullptr for a process no record introduced (started before the watch, or its fork was lost).
  const Process* find(pid_t pid) const;
  std::size_t size() const { return processes_.size(); }

 private:
  std::unordered_map<pid_t, Process> processes_;
};

}  // namespace moat::watch
