// Landlock ABI constants and raw syscalls, carried here because Debian 12's linux-libc-dev 6.1
// stops at ABI 2. Values from the kernel's include/uapi/linux/landlock.h (ABI 1..7).
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace moat::sys::landlock {

struct RulesetAttr {
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;  // ABI 4
  std::uint64_t scoped;              // ABI 6
};

struct PathBeneathAttr {
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
} __attribute__((packed));

struct NetPortAttr {
  std::uint64_t allowed_access;
  std::uint64_t port;
};

inline constexpr unsigned kCreateRulesetVersion = 1u << 0;
inline constexpr int kRulePathBeneath = 1;
inline constexpr int kRuleNetPort = 2;

// Filesystem rights.
inline constexpr std::uint64_t kExecute = 1ull << 0;
inline constexpr std::uint64_t kWriteFile = 1ull << 1;
inline constexpr std::uint64_t kReadFile = 1ull << 2;
inline constexpr std::uint64_t kReadDir = 1ull << 3;
inline constexpr std::uint64_t kRemoveDir = 1ull << 4;
inline constexpr std::uint64_t kRemoveFile = 1ull << 5;
inline constexpr std::uint64_t kMakeChar = 1ull << 6;
inline constexpr std::uint64_t kMakeDir = 1ull << 7;
inline constexpr std::uint64_t kMakeReg = 1ull << 8;
inline constexpr std::uint64_t kMakeSock = 1ull << 9;
inline constexpr std::uint64_t kMakeFifo = 1ull << 10;
inline constexpr std::uint64_t kMakeBlock = 1ull << 11;
inline constexpr std::uint64_t kMakeSym = 1ull << 12;
inline constexpr std::uint64_t kRefer = 1ull << 13;     // ABI 2
inline constexpr std::uint64_t kTruncate = 1ull << 14;  // ABI 3
inline constexpr std::uint64_t kIoctlDev = 1ull << 15;  // ABI 5

// Network rights (ABI 4).
inline constexpr std::uint64_t kBindTcp = 1ull << 0;
inline constexpr std::uint64_t kConnectTcp = 1ull << 1;

// Scopes (ABI 6).
inline constexpr std::uint64_t kScopeAbstractUnixSocket = 1ull << 0;
inline constexpr std::uint64_t kScopeSignal = 1ull << 1;

// landlock_restrict_self flags (ABI 7).
inline constexpr unsigned kRestrictLogSameExecOff = 1u << 0;
inline constexpr unsigned kRestrictLogNewExecOn = 1u << 1;
inline constexpr unsigned kRestrictLogSubdomainsOff = 1u << 2;

// Every filesystem right a given ABI knows.
constexpr std::uint64_t fs_rights_for_abi(int abi) {
  std::uint64_t rights = (1ull << 13) - 1;  // ABI 1: EXECUTE..MAKE_SYM
  if (abi >= 2) rights |= kRefer;
  if (abi >= 3) rights |= kTruncate;
  if (abi >= 5) rights |= kIoctlDev;
  return rights;
}

inline long create_ruleset(const RulesetAttr* attr, std::size_t size, unsigned flags) {
  return ::syscall(__NR_landlock_create_ruleset, attr, size, flags);
}
inline long add_rule(int ruleset_fd, int rule_type, const void* rule_attr, unsigned flags) {
  return ::syscall(__NR_landlock_add_rule, ruleset_fd, rule_type, rule_attr, flags);
}
inline long restrict_self(int ruleset_fd, unsigned flags) {
  return ::syscall(__NR_landlock_restrict_self, ruleset_fd, flags);
}

// The ABI version, or -errno (ENOSYS: not built in; EOPNOTSUPP: not enabled at boot).
inline int abi_version() {
  long v = create_ruleset(nullptr, 0, kCreateRulesetVersion);
  return v < 0 ? -errno : static_cast<int>(v);
}

}  // namespace moat::sys::landlock
