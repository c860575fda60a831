// Records that watch.bpf.c writes to its ring buffer and sandboxd/watch reads, plus the map
// layouts both sides share. Fixed-width types only; sizes and offsets are asserted on both sides.
#pragma once

#ifdef __cplusplus
#include <linux/types.h>
#define MOAT_WATCH_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define MOAT_WATCH_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

// Bounds on what one record carries. Longer values are cut (the record says so): a path keeps
// its first MOAT_WATCH_PATH_MAX - 1 bytes, argv and the environment their first bytes.
#define MOAT_WATCH_PATH_MAX 1024     // per path argument; a power of two (verifier masks)
#define MOAT_WATCH_FILENAME_MAX 512  // the exec'd file as passed to execve
#define MOAT_WATCH_CWD_MAX 2048      // the working directory, walked from the dentry tree
#define MOAT_WATCH_ARGV_MAX 1024     // NUL-separated argv (mm->arg_start..arg_end)
#define MOAT_WATCH_ENV_MAX 16384     // NUL-separated environment (mm->env_start..env_end)
#define MOAT_WATCH_CWD_DEPTH 24      // path components walked before giving up (cwd_truncated)

enum moat_watch_kind {
  MOAT_WATCH_EXEC = 1,
  MOAT_WATCH_FORK = 2,
  MOAT_WATCH_EXIT = 3,
  MOAT_WATCH_FILE = 4,  // a file operation, with its result
  MOAT_WATCH_CWD = 5,   // chdir/fchdir succeeded: the new working directory
};

// What a traced system call does; the syscall-number map (user space fills it with this
// architecture's __NR_* values) turns sys_enter's syscall number into one of these.
enum moat_watch_op {
  MOAT_OP_NONE = 0,
  MOAT_OP_OPENAT = 1,      // dirfd, path, flags, mode
  MOAT_OP_OPENAT2 = 2,     // dirfd, path, struct open_how *
  MOAT_OP_OPEN = 3,        // path, flags, mode
  MOAT_OP_CREAT = 4,       // path, mode
  MOAT_OP_UNLINKAT = 5,    // dirfd, path, flags (AT_REMOVEDIR)
  MOAT_OP_UNLINK = 6,      // path
  MOAT_OP_RMDIR = 7,       // path
  MOAT_OP_RENAMEAT = 8,    // olddirfd, old, newdirfd, new
  MOAT_OP_RENAMEAT2 = 9,   // olddirfd, old, newdirfd, new, flags
  MOAT_OP_RENAME = 10,     // old, new
  MOAT_OP_MKDIRAT = 11,    // dirfd, path, mode
  MOAT_OP_MKDIR = 12,      // path, mode
  MOAT_OP_FCHMODAT = 13,   // dirfd, path, mode
  MOAT_OP_FCHMODAT2 = 14,  // dirfd, path, mode, flags
  MOAT_OP_CHMOD = 15,      // path, mode
  MOAT_OP_FCHMOD = 16,     // fd, mode (no path: user space names the fd)
  MOAT_OP_CHDIR = 17,      // path (the record is a MOAT_WATCH_CWD)
  MOAT_OP_FCHDIR = 18,     // fd
  MOAT_OP_SYMLINKAT = 19,  // target, newdirfd, linkpath (path = the link, path2 = its target)
  MOAT_OP_SYMLINK = 20,    // target, linkpath
  MOAT_OP_TRUNCATE = 21,   // path, length
  MOAT_OP_FTRUNCATE = 22,  // fd, length (no path: user space names the fd)
  MOAT_OP_LINKAT = 23,     // olddirfd, old, newdirfd, new, flags (path = old, path2 = new)
  MOAT_OP_LINK = 24,       // old, new
  MOAT_OP_COUNT = 25,
};

#define MOAT_WATCH_SYSCALL_SLOTS 1024  // syscall-number map size (x86_64 and arm64 stay below)

// Index of the per-CPU loss counters. Every record the programs could not deliver is counted.
enum moat_watch_lost_slot {
  MOAT_LOST_RINGBUF = 0,  // bpf_ringbuf_output found the ring full
  MOAT_LOST_PENDING = 1,  // no room to remember a syscall between its enter and exit
  MOAT_LOST_SLOTS = 2,
};

#define MOAT_WATCH_AT_FDCWD (-100)
#define MOAT_WATCH_CWD_TRUNCATED 1u  // flags of exec/cwd records: the walk stopped early

struct moat_watch_header {
  __u32 kind;     // enum moat_watch_kind
  __u32 pid;      // thread-group id (the process), init pid namespace
  __u32 tid;      // the thread
  __u32 ppid;     // real parent's thread-group id (exec, fork: the parent; else 0)
  __u64 time_ns;  // CLOCK_BOOTTIME
};

// MOAT_WATCH_FILE. Sent with only path_len + path2_len bytes of `paths` (path, then path2).
struct moat_watch_file {
  struct moat_watch_header hdr;
  __u32 op;         // enum moat_watch_op
  __u32 flags;      // open flags; unlinkat/renameat2/fchmodat2/linkat flags
  __u32 mode;       // open/mkdir/chmod mode
  __s32 dirfd;      // dirfd of path (AT_FDCWD, or the fd of fchmod and ftruncate)
  __s32 dirfd2;     // dirfd of path2 (renames, links)
  __u16 path_len;   // bytes of path in paths[], with its NUL; 0 when there is no path
  __u16 path2_len;  // bytes of path2 following it, with its NUL
  __s64 ret;        // the system call's return value (-errno on failure)
  char paths[2 * MOAT_WATCH_PATH_MAX];
};

// MOAT_WATCH_EXEC. Sent with only env_len bytes of env (the last field).
struct moat_watch_exec {
  struct moat_watch_header hdr;
  __u32 filename_len;  // bytes in filename, with its NUL
  __u32 cwd_len;       // bytes in cwd: components leaf first, each followed by '/'
  __u32 argv_len;      // bytes in argv (NUL-separated)
  __u32 env_len;       // bytes in env (NUL-separated)
  __u32 flags;         // MOAT_WATCH_CWD_TRUNCATED
  __u32 uid;
  __u64 argv_total;  // mm->arg_end - arg_start: more than argv_len when argv was cut
  __u64 env_total;   // the same for the environment
  char filename[MOAT_WATCH_FILENAME_MAX];
  char cwd[MOAT_WATCH_CWD_MAX];
  char argv[MOAT_WATCH_ARGV_MAX];
  char env[MOAT_WATCH_ENV_MAX];
};

// MOAT_WATCH_CWD. Sent with only cwd_len bytes of cwd.
struct moat_watch_cwd {
  struct moat_watch_header hdr;
  __u32 cwd_len;  // as in moat_watch_exec
  __u32 flags;    // MOAT_WATCH_CWD_TRUNCATED
  char cwd[MOAT_WATCH_CWD_MAX];
};

struct moat_watch_fork {
  struct moat_watch_header hdr;  // pid = the parent, ppid = the parent's parent
  __u32 child_pid;               // the child's thread-group id
  __u32 child_tid;               // == child_pid for a new process, else a new thread
};

struct moat_watch_exit {
  struct moat_watch_header hdr;  // the process's last thread (any of them: pid is the tgid)
  __u32 exit_code;               // as wait(2) reports it: status << 8 | signal
  __u32 pad;
};

MOAT_WATCH_STATIC_ASSERT(sizeof(struct moat_watch_header) == 24, "header size");
MOAT_WATCH_STATIC_ASSERT(__builtin_offsetof(struct moat_watch_header, time_ns) == 16, "hdr.time");
MOAT_WATCH_STATIC_ASSERT(__builtin_offsetof(struct moat_watch_file, op) == 24, "file.op");
MOAT_WATCH_STATIC_ASSERT(__builtin_offsetof(struct moat_watch_file, path_len) == 44, "file.len");
MOAT_WATCH_STATIC_ASSERT(__builtin_offsetof(struct moat_watch_file, ret) == 48, "file.ret");
MOAT_WATCH_STATIC_ASSERT(__builtin_offsetof(struct moat_watch_file, paths) == 56, "file.paths");
MOAT_WATCH_STATIC_ASSERT(sizeof(struct moat_watch_file) == 56 + 2 * MOAT_WATCH_PATH_MAX,
                         "file size");
MOAT_WATCH_STATIC_ASSERT(__builtin_offsetof(struct moat_watch_exec, argv_total) == 48,
                         "exec.argv_total");
MOAT_WATCH_STATIC_ASSERT(__builtin_offsetof(struct moat_watch_exec, filename) == 64,
                         "exec.filename");
MOAT_WATCH_STATIC_ASSERT(__builtin_offsetof(struct moat_watch_exec, env) ==
                             64 + MOAT_WATCH_FILENAME_MAX + MOAT_WATCH_CWD_MAX +
                                 MOAT_WATCH_ARGV_MAX,
                         "exec.env");
MOAT_WATCH_STATIC_ASSERT(__builtin_offsetof(struct moat_watch_cwd, cwd) == 32, "cwd.cwd");
MOAT_WATCH_STATIC_ASSERT(sizeof(struct moat_watch_fork) == 32, "fork size");
MOAT_WATCH_STATIC_ASSERT(sizeof(struct moat_watch_exit) == 32, "exit size");
