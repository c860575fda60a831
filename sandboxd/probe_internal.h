// Shared by the probe_*.cc files only: one entry point per concern, the forked-child try helper,
// small sysctl readers and the BTF lookup. Not part of the sandboxd interface.
#pragma once

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "policy/result.h"
#include "sandboxd/probe.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::probe::detail {

// ---- one entry point per concern ----
// The forked tries come in two halves, so that probe_kernel() can run the in-process probes while
// the children work: start_* forks, finish_* waits and fills `out`.
struct SeccompTry;
struct NamespaceTries;
SeccompTry start_seccomp_try();  // probe_seccomp.cc
void finish_seccomp_try(SeccompTry& attempt, KernelFeatures& out);
NamespaceTries start_namespace_tries();  // probe_namespaces.cc
void finish_namespace_tries(NamespaceTries& tries, KernelFeatures& out);
KernelFeatures::Cgroups probe_cgroups();      // probe_cgroups.cc
KernelFeatures::Bpf probe_bpf(bool is_root);  // probe_bpf.cc

// ---- BTF (probe_btf.cc) ----
// Type ids of the BTF_KIND_FUNC entries named `names`, in the same order; 0 for a name not found.
Result<std::vector<std::uint32_t>> btf_find_funcs(std::span<const std::byte> btf,
                                                  const std::vector<std::string>& names);
// The same for a BTF file, e.g. /sys/kernel/btf/vmlinux (mapped when the kernel allows it).
Result<std::vector<std::uint32_t>> btf_find_funcs_in_file(const std::string& path,
                                                          const std::vector<std::string>& names);

// ---- small helpers (probe_util.cc) ----
// The trimmed content of a /proc/sys file, nullopt when it does not exist or can't be read.
std::optional<std::string> read_sysctl(const std::string& path);
// "EPERM (Operation not permitted)".
std::string errno_text(int err);

// ---- tries in a forked child ----
// A child runs a function that fills up to kMaxTryResults ints (0 = ok, else an errno, or
// kNotTried) and reports them through a pipe. Used for tries that change the process (unshare,
// seccomp): the caller stays untouched. Start several, then finish them, to try in parallel.
inline constexpr int kMaxTryResults = 4;
inline constexpr int kNotTried = -1;
using TryResults = std::array<int, kMaxTryResults>;

struct ChildTry {
  pid_t pid = -1;
  sys::UniqueFd read_end;
  int start_errno = 0;  // pipe2() or fork() failed
};

// `fn(int* results)` runs in the child after fork(). The parent may have threads, so it must make
// only raw system calls: no allocation, no locks, no stdio.
template <typename F>
ChildTry start_child_try(F fn) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ChildTry{-1, {}, errno};
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return ChildTry{-1, {}, err};
  }
  if (pid == 0) {
    ::close(fds[0]);
    int results[kMaxTryResults] = {kNotTried, kNotTried, kNotTried, kNotTried};
    fn(results);
    ssize_t n = ::write(fds[1], results, sizeof results);
    ::_exit(n == static_cast<ssize_t>(sizeof results) ? 0 : 1);
  }
  ::close(fds[1]);
  return ChildTry{pid, sys::UniqueFd(fds[0]), 0};
}

// Waits for the child and returns what it reported.
Result<TryResults> finish_child_try(ChildTry& attempt);

struct SeccompTry {
  ChildTry child;
};

inline constexpr std::size_t kNamespaceKinds = 8;
struct NamespaceTries {
  ChildTry children[kNamespaceKinds];
  bool is_root = false;
};

}  // namespace moat::probe::detail
