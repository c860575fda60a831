// The watch's process table; see process_table.h.
#include "sandboxd/watch/process_table.h"

#include <utility>

namespace moat::watch {

void ProcessTable::fork(pid_t parent, pid_t grandparent, pid_t child) {
  Process p;
  if (auto it = processes_.find(parent); it != processes_.end()) {
    p = it->second;
  } else {
    Process& known_parent = processes_[parent];  // e.g. the sandbox's pid 1, which never execs
    known_parent.ppid = grandparent;
  }
  p.ppid = parent;
  processes_[child] = std::move(p);
}

const Process& ProcessTable::exec(pid_t pid, pid_t ppid, std::string exe, std::string cwd,
                                  std::string_view environment) {
  Process& p = processes_[pid];
  report::Origin inherited = p.origin;
  p.ppid = ppid;
  p.exe = std::move(exe);
  p.cwd = std::move(cwd);
  p.origin = report::resolve_origin(environment, p.cwd, inherited);
  return p;
}

void ProcessTable::chdir(pid_t pid, std::string cwd) { processes_[pid].cwd = std::move(cwd); }

void ProcessTable::exit(pid_t pid) { processes_.erase(pid); }

const Process* ProcessTable::find(pid_t pid) const {
  auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : &it->second;
}

}  // namespace moat::watch
