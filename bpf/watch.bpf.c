// The watch: what the processes of ONE sandbox cgroup exec, fork, exit and change in the file
// system, as records on a ring buffer (layouts in watch_event.h). Observation only, never denial.
//
// Every program first finds the ring of the current task's cgroup, so the host's own processes pay
// one helper call and a compare (one sandbox per load: moat_cgroup_id, set before load) or a hash
// lookup (moat_shared, the sandboxd daemon: one load serves every sandbox, each cgroup id maps to
// its own ring, so a sandbox's consumer sees only its own records). Every program is
// a raw tracepoint (no BTF tracepoints): then loading needs no kernel BTF beyond the few types
// the CO-RE reads name, which moat caches per boot (sandboxd/watch/btf_cache.h), so the watch
// loads in milliseconds instead of parsing 5 MiB of vmlinux BTF per run. System calls use the
// raw sys_enter/sys_exit tracepoints
// rather than one syscalls:* tracepoint each: those need tracefs for their ids, and detaching
// ~40 perf events took 2.6 s here (an RCU grace period each), raw ones 0.2 ms. Nothing is dropped
// silently: every record that finds the ring full, and every syscall that finds no room to wait for
// its result, is counted in `lost`.
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
// clang-format on

#include "watch_event.h"

char LICENSE[] SEC("license") = "GPL";

// The sandbox's cgroup v2 id (its directory's inode), written by user space before load.
const volatile __u64 moat_cgroup_id = 0;
// Non-zero: the daemon's load. Records go to slot_rings[sandbox_slot[cgroup id]] instead of
// `events`, and losses are also counted per sandbox in slot_lost. Frozen before load, so the verifier
// prunes the other mode's branch.
const volatile __u32 moat_shared = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 << 20);  // user space may resize before load
} events SEC(".maps");

// The daemon's per-sandbox rings (moat_shared): cgroup id -> slot (a plain hash: inserting and
// deleting are cheap), slot -> ring (an array of maps, which the daemon fills ahead of time: every
// update of a map-in-map waits for an RCU grace period, 7-12 ms here, which a registration must
// not pay). Ring buffers are allowed as inner maps and their sizes may differ.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);  // the daemon sizes these three before load
  __type(key, __u64);
  __type(value, __u32);
} sandbox_slot SEC(".maps");

struct sandbox_ring {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 1);
  __type(key, __u32);
  __array(values, struct sandbox_ring);
} slot_rings SEC(".maps");

// Records each slot's sandbox lost (moat_shared), reset by the daemon when it assigns the slot.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} slot_lost SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, MOAT_LOST_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

// __syscall_nr -> enum moat_watch_op, filled by user space with this architecture's numbers.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, MOAT_WATCH_SYSCALL_SLOTS);
  __type(key, __u32);
  __type(value, __u32);
} syscall_ops SEC(".maps");

// A traced system call's record while sys_exit assembles it, in the thread's own local storage: a
// pointer away from the task (a hash keyed by thread cost a hash, a lock, a 2 KiB zeroed value
// and a delete per traced call), and a per-thread buffer, so no scratch can be shared by two
// preempted tasks; the kernel frees it with the task.
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct moat_watch_file);
} pending SEC(".maps");

#define O_WRONLY_ 01
#define O_RDWR_ 02
#define O_CREAT_ 0100
#define O_TRUNC_ 01000
#define AT_REMOVEDIR_ 0x200
#define SIGNAL_GROUP_EXIT_ 0x00000004  // include/linux/sched/signal.h
#define NAME_CHUNK 256  // a dentry name (NAME_MAX 255) and its NUL

// The ring of the current task's sandbox, or NULL when the task is in none of ours.
static __always_inline void *sandbox_ring(void) {
  __u64 cgroup = bpf_get_current_cgroup_id();
  if (!moat_shared) return cgroup == moat_cgroup_id ? (void *)&events : NULL;
  __u32 *slot = bpf_map_lookup_elem(&sandbox_slot, &cgroup);
  if (!slot) return NULL;
  return bpf_map_lookup_elem(&slot_rings, slot);
}

static __always_inline void count_lost(__u32 slot) {
  __u64 *n = bpf_map_lookup_elem(&lost, &slot);
  if (n) *n += 1;  // per-CPU slot: no atomics needed
  if (moat_shared) {
    __u64 cgroup = bpf_get_current_cgroup_id();
    __u32 *s = bpf_map_lookup_elem(&sandbox_slot, &cgroup);
    __u64 *mine = s ? bpf_map_lookup_elem(&slot_lost, s) : NULL;
    if (mine) __sync_fetch_and_add(mine, 1);
  }
}

// Wake the consumer once per batch: when this record makes the unread data cross WAKEUP_BYTES.
// The default wakes it for every record while it keeps up, and each wakeup is an irq_work (an
// IPI: a VM exit here) plus a context switch per file operation. The consumer also polls every
// few milliseconds, so a tail smaller than a batch (or a crossing two CPUs raced past) waits at
// most that long.
#define WAKEUP_BYTES (256 << 10)

// For bpf_ringbuf_output: SIZE bytes are about to be added.
static __always_inline __u64 wakeup_flag(void *ring, __u64 size) {
  __u64 unread = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
  return unread < WAKEUP_BYTES && unread + size >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
                                                                : BPF_RB_NO_WAKEUP;
}

// For bpf_ringbuf_submit: the reserved SIZE bytes already count as unread.
static __always_inline __u64 wakeup_flag_reserved(void *ring, __u64 size) {
  __u64 unread = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
  return unread >= WAKEUP_BYTES && unread - size < WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
                                                                : BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_header(struct moat_watch_header *h, __u32 kind) {
  __u64 id = bpf_get_current_pid_tgid();
  h->kind = kind;
  h->pid = id >> 32;
  h->tid = (__u32)id;
  h->ppid = 0;
  h->time_ns = bpf_ktime_get_boot_ns();
}

// The working directory of the current task, walked from its dentry up to the task's root (as
// the sandbox sees its file system), crossing mount points. Components come leaf first, each
// followed by '/'; user space reverses them. One bpf_loop step per component: the verifier checks
// the step once instead of every unrolled path through 24 iterations.
struct cwd_walk {
  struct dentry *d;
  struct vfsmount *vm;
  struct mount *mnt;
  struct dentry *root_dentry;
  struct vfsmount *root_mnt;
  char *buf;  // MOAT_WATCH_CWD_MAX bytes
  __u32 off;
  __u32 done;
};

static long cwd_step(__u64 index, void *arg) {
  (void)index;
  struct cwd_walk *w = arg;
  // Locals, not w->...: BPF_CORE_READ would relocate the access to our own struct too.
  struct dentry *d = w->d;
  struct vfsmount *vm = w->vm;
  struct mount *mnt = w->mnt;
  if (d == w->root_dentry && vm == w->root_mnt) {
    w->done = 1;
    return 1;
  }
  struct dentry *parent = BPF_CORE_READ(d, d_parent);
  if (d == BPF_CORE_READ(vm, mnt_root) || d == parent) {
    struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
    if (up == mnt) {  // the top of the mount tree: the task's root is not above us
      w->done = 1;
      return 1;
    }
    w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = up;
    w->vm = (struct vfsmount *)__builtin_preserve_access_index(&up->mnt);
    return 0;
  }
  __u32 off = w->off;
  if (off > MOAT_WATCH_CWD_MAX - NAME_CHUNK) return 1;
  long n = bpf_probe_read_kernel_str(w->buf + off, NAME_CHUNK, BPF_CORE_READ(d, d_name.name));
  if (n <= 0 || n > NAME_CHUNK) return 1;
  off += (__u32)n;
  w->buf[(off - 1) & (MOAT_WATCH_CWD_MAX - 1)] = '/';
  w->off = off;
  w->d = parent;
  return 0;
}

// Returns the bytes written to buf (MOAT_WATCH_CWD_MAX).
static __always_inline __u32 walk_cwd(char *buf, __u32 *flags) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct fs_struct *fs = BPF_CORE_READ(task, fs);
  struct cwd_walk w = {};
  w.root_dentry = BPF_CORE_READ(fs, root.dentry);
  w.root_mnt = BPF_CORE_READ(fs, root.mnt);
  w.d = BPF_CORE_READ(fs, pwd.dentry);
  w.vm = BPF_CORE_READ(fs, pwd.mnt);
  w.mnt = container_of(w.vm, struct mount, mnt);
  w.buf = buf;
  bpf_loop(MOAT_WATCH_CWD_DEPTH, cwd_step, &w, 0);
  if (!w.done) *flags |= MOAT_WATCH_CWD_TRUNCATED;
  return w.off > MOAT_WATCH_CWD_MAX ? MOAT_WATCH_CWD_MAX : w.off;
}

SEC("raw_tp/sched_process_exec")
int moat_exec(__u64 *ctx) {
  void *ring = sandbox_ring();
  if (!ring) return 0;
  struct task_struct *task = (struct task_struct *)ctx[0];
  struct linux_binprm *bprm = (struct linux_binprm *)ctx[2];
  struct moat_watch_exec *e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
  if (!e) {
    count_lost(MOAT_LOST_RINGBUF);
    return 0;
  }
  fill_header(&e->hdr, MOAT_WATCH_EXEC);
  e->hdr.ppid = BPF_CORE_READ(task, real_parent, tgid);
  e->uid = (__u32)bpf_get_current_uid_gid();
  e->flags = 0;

  long n =
      bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
  e->filename_len = n > 0 ? (__u32)n : 0;

  // The new image's argv and environment: execve has just copied them to its stack, so the
  // pages are present and current->mm is the new mm.
  struct mm_struct *mm = BPF_CORE_READ(task, mm);
  unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
  unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
  unsigned long env_start = BPF_CORE_READ(mm, env_start);
  unsigned long env_end = BPF_CORE_READ(mm, env_end);
  __u64 total = arg_end > arg_start ? arg_end - arg_start : 0;
  __u32 len = total > MOAT_WATCH_ARGV_MAX ? MOAT_WATCH_ARGV_MAX : (__u32)total;
  e->argv_total = total;
  e->argv_len = 0;
  if (len > 0 && bpf_probe_read_user(e->argv, len, (const void *)arg_start) == 0) {
    e->argv_len = len;
  }
  total = env_end > env_start ? env_end - env_start : 0;
  len = total > MOAT_WATCH_ENV_MAX ? MOAT_WATCH_ENV_MAX : (__u32)total;
  e->env_total = total;
  e->env_len = 0;
  if (len > 0 && bpf_probe_read_user(e->env, len, (const void *)env_start) == 0) {
    e->env_len = len;
  }
  e->cwd_len = walk_cwd(e->cwd, &e->flags);
  bpf_ringbuf_submit(e, wakeup_flag_reserved(ring, sizeof(*e)));
  return 0;
}

SEC("raw_tp/sched_process_fork")
int moat_fork(__u64 *ctx) {
  void *ring = sandbox_ring();
  if (!ring) return 0;
  struct task_struct *parent = (struct task_struct *)ctx[0];
  struct task_struct *child = (struct task_struct *)ctx[1];
  __u32 child_tgid = BPF_CORE_READ(child, tgid);
  __u32 child_pid = BPF_CORE_READ(child, pid);
  if (child_tgid != child_pid) return 0;  // a new thread: same process, nothing to track
  struct moat_watch_fork *f = bpf_ringbuf_reserve(ring, sizeof(*f), 0);
  if (!f) {
    count_lost(MOAT_LOST_RINGBUF);
    return 0;
  }
  fill_header(&f->hdr, MOAT_WATCH_FORK);
  f->hdr.pid = BPF_CORE_READ(parent, tgid);
  f->hdr.ppid = BPF_CORE_READ(parent, real_parent, tgid);
  f->child_pid = child_tgid;
  f->child_tid = child_pid;
  bpf_ringbuf_submit(f, wakeup_flag_reserved(ring, sizeof(*f)));
  return 0;
}

SEC("raw_tp/sched_process_exit")
int moat_exit(__u64 *ctx) {
  void *ring = sandbox_ring();
  if (!ring) return 0;
  struct task_struct *task = (struct task_struct *)ctx[0];
  // The process ends with its last thread, not with its leader: a leader that calls pthread_exit
  // leaves the others running (writing, exec'ing) in the same process. do_exit counts the thread
  // out of signal->live before this tracepoint (6.18 passes that test's result as its second
  // argument, which older kernels lack), so 0 here means the whole group is dead. Two threads
  // dying at once may both see 0: user space reports the first record of a process only.
  struct signal_struct *sig = BPF_CORE_READ(task, signal);
  if (BPF_CORE_READ(sig, live.counter) != 0) return 0;
  struct moat_watch_exit *x = bpf_ringbuf_reserve(ring, sizeof(*x), 0);
  if (!x) {
    count_lost(MOAT_LOST_RINGBUF);
    return 0;
  }
  fill_header(&x->hdr, MOAT_WATCH_EXIT);
  x->hdr.ppid = BPF_CORE_READ(task, real_parent, tgid);
  // What wait(2) reports for the process: the group's code after exit_group or a fatal signal,
  // else the leader's own (which may have left long before this last thread).
  if (BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT_)
    x->exit_code = (__u32)BPF_CORE_READ(sig, group_exit_code);
  else
    x->exit_code = (__u32)BPF_CORE_READ(task, group_leader, exit_code);
  x->pad = 0;
  bpf_ringbuf_submit(x, wakeup_flag_reserved(ring, sizeof(*x)));
  return 0;
}

// Reads a user path into dst (MOAT_WATCH_PATH_MAX bytes); returns the bytes kept with the NUL.
static __always_inline __u16 read_path(char *dst, __u64 user_ptr) {
  long n = bpf_probe_read_user_str(dst, MOAT_WATCH_PATH_MAX, (const void *)user_ptr);
  return n > 0 ? (__u16)n : 0;
}

// Whether an open with these flags may change a file: write access, creation or truncation.
static __always_inline int writes(__u64 flags) {
  return (flags & (O_WRONLY_ | O_RDWR_ | O_CREAT_ | O_TRUNC_)) != 0;
}

// Whether the current task is moat's own pid 1 of the sandbox (the reaper of its pid namespace):
// its system calls are moat's setup (the mount points of the sandbox's root, made while the watch
// is already attached) and reaping, never the command's, so they are not traced: no path copy,
// no record, nothing for the consumer to decode and discard. The command cannot become the
// reaper of a pid namespace: it has no capability to make one.
static __always_inline int sandbox_reaper(void) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct task_struct *reaper = BPF_CORE_READ(task, nsproxy, pid_ns_for_children, child_reaper);
  return reaper != NULL && reaper == BPF_CORE_READ(task, group_leader) &&
         BPF_CORE_READ(task, nsproxy, pid_ns_for_children, level) > 0;
}

// raw_syscalls:sys_exit(struct pt_regs *regs, long ret): one program per system call, at its
// exit. The arguments are still in the saved registers (the syscall leaves them intact; orig_ax
// holds the number), and the paths are still in the caller's memory, so everything is read here:
// a sys_enter program as well ran for every system call of every process on the host, only to
// store what this one can read. A 32-bit (compat) syscall would carry another table's number,
// but seccomp kills those before they run. The record is assembled in the thread's own storage
// (`pending`) and copied to the ring at its used length.
SEC("raw_tp/sys_exit")
int moat_sys_exit(__u64 *ctx) {
  void *ring = sandbox_ring();
  if (!ring) return 0;
  struct pt_regs *regs = (struct pt_regs *)ctx[0];
  __s64 ret = (__s64)ctx[1];
#if defined(__TARGET_ARCH_x86)
  __u32 nr = (__u32)BPF_CORE_READ(regs, orig_ax);
#else
  __u32 nr = MOAT_WATCH_SYSCALL_SLOTS;  // other architectures: not reported (docs/events.md)
#endif
  __u32 *opp = bpf_map_lookup_elem(&syscall_ops, &nr);
  if (!opp || *opp == MOAT_OP_NONE) return 0;
  __u32 op = *opp;
  __u64 a0 = PT_REGS_PARM1_CORE_SYSCALL(regs);
  __u64 a1 = PT_REGS_PARM2_CORE_SYSCALL(regs);
  __u64 a2 = PT_REGS_PARM3_CORE_SYSCALL(regs);
  __u64 a3 = PT_REGS_PARM4_CORE_SYSCALL(regs);
  __u64 a4 = op == MOAT_OP_RENAMEAT2 || op == MOAT_OP_LINKAT ? PT_REGS_PARM5_CORE_SYSCALL(regs) : 0;
  __s32 dirfd = MOAT_WATCH_AT_FDCWD, dirfd2 = MOAT_WATCH_AT_FDCWD;
  __u64 path = 0, path2 = 0, flags = 0, mode = 0;
  switch (op) {
    case MOAT_OP_OPENAT:
      dirfd = (__s32)a0, path = a1, flags = a2, mode = a3;
      break;
    case MOAT_OP_OPENAT2: {
      struct open_how how = {};
      if (bpf_probe_read_user(&how, sizeof(how), (const void *)a2) != 0) return 0;
      dirfd = (__s32)a0, path = a1, flags = how.flags, mode = how.mode;
      break;
    }
    case MOAT_OP_OPEN:
      path = a0, flags = a1, mode = a2;
      break;
    case MOAT_OP_CREAT:
      path = a0, flags = O_CREAT_ | O_WRONLY_ | O_TRUNC_, mode = a1;
      break;
    case MOAT_OP_UNLINKAT:
      dirfd = (__s32)a0, path = a1, flags = a2;
      break;
    case MOAT_OP_UNLINK:
    case MOAT_OP_RMDIR:
    case MOAT_OP_CHDIR:
      path = a0;
      break;
    case MOAT_OP_RENAMEAT:
    case MOAT_OP_RENAMEAT2:
    case MOAT_OP_LINKAT:
      dirfd = (__s32)a0, path = a1, dirfd2 = (__s32)a2, path2 = a3;
      if (op != MOAT_OP_RENAMEAT) flags = a4;
      break;
    case MOAT_OP_RENAME:
    case MOAT_OP_LINK:
      path = a0, path2 = a1;
      break;
    case MOAT_OP_TRUNCATE:
      path = a0;
      break;
    case MOAT_OP_FTRUNCATE:
      dirfd = (__s32)a0;
      break;
    case MOAT_OP_MKDIRAT:
    case MOAT_OP_FCHMODAT:
      dirfd = (__s32)a0, path = a1, mode = a2;
      break;
    case MOAT_OP_FCHMODAT2:
      dirfd = (__s32)a0, path = a1, mode = a2, flags = a3;
      break;
    case MOAT_OP_MKDIR:
    case MOAT_OP_CHMOD:
      path = a0, mode = a1;
      break;
    case MOAT_OP_FCHMOD:
      dirfd = (__s32)a0, mode = a1;
      break;
    case MOAT_OP_FCHDIR:
      dirfd = (__s32)a0;
      break;
    case MOAT_OP_SYMLINKAT:
      path2 = a0, dirfd = (__s32)a1, path = a2;
      break;
    case MOAT_OP_SYMLINK:
      path2 = a0, path = a1;
      break;
    default:
      return 0;
  }
  // The common case, a read, costs nothing more; only a refused one is reported (an attempt on a
  // secret, whose mask is unreadable, or on something the profile does not grant).
  const int is_open = op == MOAT_OP_OPENAT || op == MOAT_OP_OPENAT2 || op == MOAT_OP_OPEN;
  if (is_open && !writes(flags) && ret != -13 /* EACCES */ && ret != -1 /* EPERM */) return 0;
  if (sandbox_reaper()) return 0;
  if (op == MOAT_OP_CHDIR || op == MOAT_OP_FCHDIR) {
    if (ret != 0) return 0;
    struct moat_watch_cwd *c = bpf_ringbuf_reserve(ring, sizeof(*c), 0);
    if (!c) {
      count_lost(MOAT_LOST_RINGBUF);
      return 0;
    }
    fill_header(&c->hdr, MOAT_WATCH_CWD);
    c->flags = 0;
    c->cwd_len = walk_cwd(c->cwd, &c->flags);
    bpf_ringbuf_submit(c, wakeup_flag_reserved(ring, sizeof(*c)));
    return 0;
  }
  struct moat_watch_file *p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
                                                   BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!p) {
    count_lost(MOAT_LOST_PENDING);
    return 0;
  }
  fill_header(&p->hdr, MOAT_WATCH_FILE);
  p->op = op;
  p->flags = (__u32)flags;
  p->mode = (__u32)mode;
  p->dirfd = dirfd;
  p->dirfd2 = dirfd2;
  p->ret = ret;
  __u16 n1 = path ? read_path(p->paths, path) : 0;
  __u32 off = n1 > MOAT_WATCH_PATH_MAX ? MOAT_WATCH_PATH_MAX : n1;
  p->path_len = (__u16)off;
  p->path2_len = path2 ? read_path(p->paths + off, path2) : 0;
  __u32 len = (__u32)p->path_len + (__u32)p->path2_len;
  if (len > 2 * MOAT_WATCH_PATH_MAX) len = 2 * MOAT_WATCH_PATH_MAX;
  __u32 size = __builtin_offsetof(struct moat_watch_file, paths) + len;
  if (bpf_ringbuf_output(ring, p, size, wakeup_flag(ring, size)) != 0)
    count_lost(MOAT_LOST_RINGBUF);
  return 0;
}
