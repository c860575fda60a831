// Probes NO_NEW_PRIVS, seccomp filters and seccomp user notification by installing an allow-all
// filter in a forked child (a filter can never be removed, so never in the caller).
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "sandboxd/probe_internal.h"

namespace moat::probe::detail {
namespace {

long raw_seccomp(unsigned op, unsigned flags, void* args) {
  return ::syscall(__NR_seccomp, op, flags, args);
}

}  // namespace

SeccompTry start_seccomp_try() {
  return SeccompTry{start_child_try([](int* r) {
    static sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    sock_fprog prog{1, allow};
    r[0] = ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : errno;
    if (r[0] != 0) return;
    r[1] = raw_seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? 0 : errno;
    // A listener fd comes back on success; the child exits right after, which closes it.
    r[2] = raw_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog) >= 0
               ? 0
               : errno;
  })};
}

void finish_seccomp_try(SeccompTry& attempt, KernelFeatures& out) {
  out.no_new_privs = Feature{"no_new_privs", false, "", "", false};
  out.seccomp = Feature{"seccomp filter", false, "", "", false};
  out.seccomp_user_notif = Feature{"seccomp user notification", false, "", "", false};

  Result<TryResults> res = finish_child_try(attempt.child);
  if (!res.ok()) {
    std::string why = "could not try: " + res.error().to_string();
    out.no_new_privs.detail = out.seccomp.detail = out.seccomp_user_notif.detail = why;
    return;
  }
  const TryResults& r = *res;

  if (r[0] == 0) {
    out.no_new_privs.available = true;
    out.no_new_privs.detail = "prctl(PR_SET_NO_NEW_PRIVS) ok: setuid binaries gain nothing";
  } else {
    out.no_new_privs.detail = "prctl(PR_SET_NO_NEW_PRIVS): " + errno_text(r[0]);
    out.no_new_privs.fix = "needs Linux 3.5+; a seccomp filter of the caller may block prctl";
  }

  if (r[1] == 0) {
    out.seccomp.available = true;
    out.seccomp.detail = "SECCOMP_SET_MODE_FILTER with NO_NEW_PRIVS ok";
  } else if (r[1] == kNotTried) {
    out.seccomp.detail = "not tried: NO_NEW_PRIVS failed";
    out.seccomp.fix = out.no_new_privs.fix;
  } else {
    out.seccomp.detail = "seccomp(SECCOMP_SET_MODE_FILTER): " + errno_text(r[1]);
    out.seccomp.fix = r[1] == EINVAL || r[1] == ENOSYS
                          ? "rebuild the kernel with CONFIG_SECCOMP=y and CONFIG_SECCOMP_FILTER=y"
                          : "the caller's own seccomp filter (container runtime?) refuses it";
  }

  if (r[2] == 0) {
    out.seccomp_user_notif.available = true;
    out.seccomp_user_notif.detail = "SECCOMP_FILTER_FLAG_NEW_LISTENER ok (network gate broker)";
  } else if (r[2] == kNotTried) {
    out.seccomp_user_notif.detail = "not tried: seccomp filters are unavailable";
    out.seccomp_user_notif.fix = out.seccomp.fix;
  } else {
    out.seccomp_user_notif.detail =
        "seccomp(SET_MODE_FILTER, FLAG_NEW_LISTENER): " + errno_text(r[2]);
    out.seccomp_user_notif.fix = "needs Linux 5.0+ (5.9+ for ADDFD)";
  }
}

}  // namespace moat::probe::detail
