// Compiles the seccomp deny-list to a BPF program in the parent, before clone; the child only
// installs it (no allocation after clone).
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "policy/result.h"
#include "policy/syscall_rules.h"

namespace moat::launcher {

Result<std::vector<sock_filter>> compile_seccomp_filter(
    const std::vector<policy::SyscallRule>& rules);

// A stable text naming exactly what a rule list compiles from; equal fingerprints, equal BPF.
std::string seccomp_rules_fingerprint(const std::vector<policy::SyscallRule>& rules);

// The program for `rules`: the one compiled at build time when the fingerprints match (the
// default list; saves libseccomp's work at every start), else compiled now.
Result<std::vector<sock_filter>> seccomp_program_for(const std::vector<policy::SyscallRule>& rules);

}  // namespace moat::launcher
