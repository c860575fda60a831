// Compiles the seccomp deny-list to a BPF program in the parent, before clone; the child only
// installs it (no allocation after clone).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "policy/result.h"
#include "policy/syscall_rules.h"

namespace moat::launcher {

Result<std::vector<sock_filter>> compile_seccomp_filter(
    const std::vector<policy::SyscallRule>& rules);

}  // namespace moat::launcher
