// The traced syscall table; see syscall_table.h.
#include "sandboxd/watch/syscall_table.h"

#include <sys/syscall.h>

#include "bpf/watch_event.h"

namespace moat::watch {

const std::vector<TracedSyscall>& traced_syscalls() {
  static const std::vector<TracedSyscall> table = {
      {"openat", __NR_openat, MOAT_OP_OPENAT},
#ifdef __NR_openat2
      {"openat2", __NR_openat2, MOAT_OP_OPENAT2},
#endif
#ifdef __NR_open
      {"open", __NR_open, MOAT_OP_OPEN},
#endif
#ifdef __NR_creat
      {"creat", __NR_creat, MOAT_OP_CREAT},
#endif
      {"unlinkat", __NR_unlinkat, MOAT_OP_UNLINKAT},
#ifdef __NR_unlink
      {"unlink", __NR_unlink, MOAT_OP_UNLINK},
#endif
#ifdef __NR_rmdir
      {"rmdir", __NR_rmdir, MOAT_OP_RMDIR},
#endif
#ifdef __NR_renameat
      {"renameat", __NR_renameat, MOAT_OP_RENAMEAT},
#endif
#ifdef __NR_renameat2
      {"renameat2", __NR_renameat2, MOAT_OP_RENAMEAT2},
#endif
#ifdef __NR_rename
      {"rename", __NR_rename, MOAT_OP_RENAME},
#endif
      {"mkdirat", __NR_mkdirat, MOAT_OP_MKDIRAT},
#ifdef __NR_mkdir
      {"mkdir", __NR_mkdir, MOAT_OP_MKDIR},
#endif
      {"fchmodat", __NR_fchmodat, MOAT_OP_FCHMODAT},
      // Linux 6.6; linux-libc-dev 6.1 has no number for it. 452 on every architecture.
      {"fchmodat2", 452, MOAT_OP_FCHMODAT2},
#ifdef __NR_chmod
      {"chmod", __NR_chmod, MOAT_OP_CHMOD},
#endif
      {"fchmod", __NR_fchmod, MOAT_OP_FCHMOD},
      {"chdir", __NR_chdir, MOAT_OP_CHDIR},
      {"fchdir", __NR_fchdir, MOAT_OP_FCHDIR},
      {"symlinkat", __NR_symlinkat, MOAT_OP_SYMLINKAT},
#ifdef __NR_symlink
      {"symlink", __NR_symlink, MOAT_OP_SYMLINK},
#endif
      {"truncate", __NR_truncate, MOAT_OP_TRUNCATE},
      {"ftruncate", __NR_ftruncate, MOAT_OP_FTRUNCATE},
      {"linkat", __NR_linkat, MOAT_OP_LINKAT},
#ifdef __NR_link
      {"link", __NR_link, MOAT_OP_LINK},
#endif
  };
  return table;
}

}  // namespace moat::watch
