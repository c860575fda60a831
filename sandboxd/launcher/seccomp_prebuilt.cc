// The default deny-list's BPF, compiled at build time by seccomp_gen; used when the rules at run
// time are exactly the ones it was compiled from (same fingerprint), else libseccomp runs now.
#include <cstring>

#include "sandboxd/launcher/seccomp_filter.h"

#include "seccomp_default.inc"

namespace moat::launcher {

Result<std::vector<sock_filter>> seccomp_program_for(
    const std::vector<policy::SyscallRule>& rules) {
  if (seccomp_rules_fingerprint(rules) == kPrebuiltFingerprint) {
    return std::vector<sock_filter>(std::begin(kPrebuiltProgram), std::end(kPrebuiltProgram));
  }
  return compile_seccomp_filter(rules);
}

}  // namespace moat::launcher
