// The sandbox child: pid 1 of the sandbox. Runs the fixed setup table, then becomes the reaper
// that starts the command. Never returns.
#pragma once

#include <cstdint>

#include "sandboxd/launcher/child_spec.h"

namespace moat::launcher {

// Messages from the child to the parent on the report pipe, fixed-size.
enum class ReportKind : std::int32_t {
  kSetupFailed = 1,  // step, err, index
  kReady = 2,        // setup done, the command is being started (MOAT_TRACE_SETUP only)
  kExecFailed = 3,   // err: errno of execve
  kExited = 4,       // status: wait status of the command; index: processes killed at exit
  kGateFds = 5,      // carries SCM_RIGHTS: the DNS stub's UDP and TCP sockets (in the sandbox's
                     // network namespace), then the seccomp notification listener; index: count
};

struct Report {
  ReportKind kind;
  std::int32_t step;   // index into setup_step_names() for kSetupFailed
  std::int32_t err;    // errno
  std::int32_t index;  // mount op index for mount steps, -1 otherwise; leftover count for kExited
  std::int32_t status; // wait status for kExited
  const char* call;    // the failing system call (a literal in this binary), or nullptr
};

// Names and reasons of the setup steps, in order, for the parent's error messages and for docs.
struct StepInfo {
  const char* name;
  const char* reason;
};
const StepInfo* setup_steps(int* count);

[[noreturn]] void run_sandbox_child(const ChildSpec& spec);

}  // namespace moat::launcher
