// What was still running in the sandbox when its command exited, described before pid 1 leaves
// (and the kernel kills the rest of the pid namespace): the account names what was killed.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "sandboxd/report/event_log.h"

namespace moat::launcher {

// The link /proc/PID/ns/pid names, e.g. "pid:[4026532301]"; "" when unreadable. Read it while
// pid 1 is still dumpable: afterwards only a process with CAP_SYS_PTRACE over the host may.
std::string pid_namespace_of(pid_t pid);

// `kill-at-exit` events for every process in `pid_namespace` other than the sandbox's pid 1:
// pid, ppid, exe, command line, origin. Processes that vanish while we look are skipped.
std::vector<report::Event> describe_leftovers(const std::string& pid_namespace, pid_t sandbox_pid1);

}  // namespace moat::launcher
