// The BPF of the common rule lists, compiled at build time by seccomp_gen; used when the rules at
// run time are exactly one of those (same fingerprint), else libseccomp runs now (~0.5 ms).
#include <cstring>

#include "sandboxd/launcher/seccomp_filter.h"

#include "seccomp_default.inc"

namespace moat::launcher {

Result<std::vector<sock_filter>> seccomp_program_for(
    const std::vector<policy::SyscallRule>& rules) {
  const std::string fingerprint = seccomp_rules_fingerprint(rules);
  if (fingerprint == kDefaultFingerprint) {
    return std::vector<sock_filter>(std::begin(kDefaultProgram), std::end(kDefaultProgram));
  }
  if (fingerprint == kFileNotifyFingerprint) {
    return std::vector<sock_filter>(std::begin(kFileNotifyProgram), std::end(kFileNotifyProgram));
  }
  return compile_seccomp_filter(rules);
}

}  // namespace moat::launcher
