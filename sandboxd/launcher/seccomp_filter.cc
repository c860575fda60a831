// libseccomp builds the filter (it knows the syscall tables and the x32 trap); we export the BPF
// through a memfd so the child can install it with a single seccomp(2) call.
#include "sandboxd/launcher/seccomp_filter.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "sandboxd/sys/unique_fd.h"

namespace moat::launcher {
namespace {

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, CtxDeleter>;

Error libseccomp_error(const std::string& call, const std::string& args, int rc) {
  return syscall_error("compiling the seccomp filter", call, args, -rc,
                       "libseccomp 2.5 or newer is required (apt-get install libseccomp2)");
}

}  // namespace

Result<std::vector<sock_filter>> compile_seccomp_filter(
    const std::vector<policy::SyscallRule>& rules) {
  FilterCtx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return make_error(ErrorCode::kInternal, "seccomp_init failed");
  // Any architecture other than the native one (i386 via int 0x80, x32) kills the process:
  // a filter written for x86_64 numbers means nothing to those tables.
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) return libseccomp_error("seccomp_attr_set", "ACT_BADARCH", rc);
  // We set no-new-privs ourselves, at its place in the setup table.
  rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return libseccomp_error("seccomp_attr_set", "CTL_NNP", rc);
  // A binary tree over the syscall numbers instead of a chain of ~130 compares: the kernel runs
  // the filter once per syscall number when it is installed (to cache the always-allowed ones)
  // and for every call the cache does not cover; both walk ~8 compares instead of up to ~130.
  rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (rc < 0) return libseccomp_error("seccomp_attr_set", "CTL_OPTIMIZE", rc);

  for (const policy::SyscallRule& rule : rules) {
    int nr = rule.number;
    if (nr < 0) {
      nr = seccomp_syscall_resolve_name(rule.name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        return make_error(ErrorCode::kInternal, "libseccomp does not know syscall " + rule.name);
      }
    }
    uint32_t action = rule.action == policy::SyscallAction::kKill ? SCMP_ACT_KILL_PROCESS
                      : rule.action == policy::SyscallAction::kNotify
                          ? SCMP_ACT_NOTIFY
                          : SCMP_ACT_ERRNO(static_cast<uint32_t>(rule.err));
    std::vector<scmp_arg_cmp> cmps;
    for (const policy::ArgMatch& m : rule.args) {
      cmps.push_back(m.not_equal ? SCMP_CMP64(m.index, SCMP_CMP_NE, m.value)
                                 : SCMP_CMP64(m.index, SCMP_CMP_MASKED_EQ, m.mask, m.value));
    }
    rc = seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(cmps.size()),
                                cmps.data());
    // -EDOM/-EOPNOTSUPP: libseccomp cannot express a masked compare for this syscall on this
    // arch (it never happens on x86_64); fail rather than install a weaker filter.
    if (rc < 0) return libseccomp_error("seccomp_rule_add", rule.name, rc);
  }

  sys::UniqueFd mem(memfd_create("moat-seccomp", MFD_CLOEXEC));
  if (!mem.valid()) return syscall_error("exporting the seccomp filter", "memfd_create", "", errno);
  rc = seccomp_export_bpf(ctx.get(), mem.get());
  if (rc < 0) return libseccomp_error("seccomp_export_bpf", "memfd", rc);
  off_t size = lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    return make_error(ErrorCode::kInternal, "seccomp_export_bpf produced a malformed program");
  }
  std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
  if (pread(mem.get(), program.data(), static_cast<size_t>(size), 0) != size) {
    return syscall_error("reading the seccomp filter back", "pread", "memfd", errno);
  }
  return program;
}

std::string seccomp_rules_fingerprint(const std::vector<policy::SyscallRule>& rules) {
  std::string text = "libseccomp " + std::to_string(seccomp_version()->major) + "." +
                     std::to_string(seccomp_version()->minor) + "." +
                     std::to_string(seccomp_version()->micro) + "\n";
  for (const policy::SyscallRule& r : rules) {
    text += r.name + " " + std::to_string(r.number) + " " +
            std::to_string(static_cast<int>(r.action)) + " " + std::to_string(r.err);
    for (const policy::ArgMatch& m : r.args) {
      text += " " + std::to_string(m.index) + ":" + std::to_string(m.mask) + ":" +
              std::to_string(m.value) + (m.not_equal ? ":ne" : "");
    }
    text += "\n";
  }
  return text;
}

}  // namespace moat::launcher
