// Seccomp user-notification constants newer than Debian 12's kernel headers (6.1).
// Values from include/uapi/linux/seccomp.h; the kernel rejects what it does not know (EINVAL).
#pragma once

#include <linux/seccomp.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)  // Linux 6.6
#endif

namespace moat::sys {

// Wake the supervisor on the notifying task's CPU, and the task on the supervisor's, as for a
// synchronous call (Linux 6.6; SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP).
inline constexpr unsigned long kSeccompNotifSyncWakeUp = 1UL << 0;

}  // namespace moat::sys
