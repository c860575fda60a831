// Loading and attaching the watch's programs: see programs.h.
#include "sandboxd/watch/programs.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <optional>
#include <utility>

#include "bpf/watch_event.h"
#include "sandboxd/sys/libbpf_log.h"
#include "sandboxd/watch/btf_cache.h"
#include "sandboxd/watch/syscall_table.h"

namespace moat::watch {

std::string bpf_hint(int err) {
  if (err == EPERM || err == EACCES) {
    return "the watch needs root (CAP_BPF, CAP_PERFMON); unprivileged BPF is disabled here. "
           "--no-watch runs without it";
  }
  if (err == ENOENT || err == EINVAL || err == EOPNOTSUPP) {
    return "the kernel needs CONFIG_BPF_SYSCALL, BTF (CONFIG_DEBUG_INFO_BTF) and bpf_loop "
           "(Linux 5.17+). --no-watch runs without it";
  }
  return "--no-watch runs without the watch";
}

Result<SkelPtr> load_programs(const LoadOptions& options) {
  sys::LibbpfLog quiet;
  std::size_t object_size = 0;
  const void* object = watch_bpf__elf_bytes(&object_size);
  const std::optional<std::string> btf = minimal_btf_for(object, object_size);
  LIBBPF_OPTS(bpf_object_open_opts, open_options, .btf_custom_path = btf ? btf->c_str() : nullptr);
  SkelPtr skel(watch_bpf__open_opts(&open_options));
  if (!skel) {
    int err = errno;
    return syscall_error("opening the watch's BPF object", "watch_bpf__open", "", err,
                         quiet.tail(1));
  }
  skel->rodata->moat_cgroup_id = options.cgroup_id;
  skel->rodata->moat_shared = options.shared ? 1 : 0;
  bpf_map__set_max_entries(skel->maps.events, static_cast<std::uint32_t>(options.ring_bytes));
  if (options.shared) {
    bpf_map__set_max_entries(skel->maps.sandbox_slot, options.max_sandboxes);
    bpf_map__set_max_entries(skel->maps.slot_rings, options.max_sandboxes);
    bpf_map__set_max_entries(skel->maps.slot_lost, options.max_sandboxes);
  }
  int rc = watch_bpf__load(skel.get());
  if (rc != 0) {
    int err = -rc;
    std::string hint = bpf_hint(err);
    if (std::string last = quiet.tail(1); !last.empty()) hint += "\n  libbpf: " + last;
    return syscall_error(
        "loading the watch's BPF programs (raw_tp/sched_process_exec, fork, exit; "
        "raw_tp/sys_exit)",
        "bpf(BPF_PROG_LOAD)", "", err, hint);
  }
  return skel;
}

Result<std::vector<bpf_link*>> attach_programs(watch_bpf* s, ProgramSet set) {
  sys::LibbpfLog quiet;
  std::vector<bpf_link*> links;
  auto fail = [&](Error e) {
    for (bpf_link* l : links) bpf_link__destroy(l);
    return e;
  };
  const bool processes = set != ProgramSet::kSyscalls;
  const bool syscalls = set != ProgramSet::kProcesses;
  // The syscall map first: sys_exit looks every call up in it.
  int ops_fd = bpf_map__fd(s->maps.syscall_ops);
  static const std::vector<TracedSyscall> kNone;
  for (const TracedSyscall& call : syscalls ? traced_syscalls() : kNone) {
    std::uint32_t key = static_cast<std::uint32_t>(call.nr);
    std::uint32_t op = call.op;
    if (key >= MOAT_WATCH_SYSCALL_SLOTS || bpf_map_update_elem(ops_fd, &key, &op, BPF_ANY) != 0) {
      return fail(syscall_error("filling the watch's syscall map", "bpf(BPF_MAP_UPDATE_ELEM)",
                                std::string(call.name) + " = " + std::to_string(key), errno));
    }
  }
  const struct {
    bpf_program* prog;
    const char* name;
    bool wanted;
  } programs[] = {
      {s->progs.moat_exec, "raw_tp/sched_process_exec", processes},
      {s->progs.moat_fork, "raw_tp/sched_process_fork", processes},
      {s->progs.moat_exit, "raw_tp/sched_process_exit", processes},
      {s->progs.moat_sys_exit, "raw_tp/sys_exit", syscalls},
  };
  for (const auto& [prog, name, wanted] : programs) {
    if (!wanted) continue;
    bpf_link* link = bpf_program__attach(prog);
    if (link == nullptr) {
      int err = errno;
      std::string hint = bpf_hint(err);
      if (std::string last = quiet.tail(1); !last.empty()) hint += "\n  libbpf: " + last;
      return fail(syscall_error(std::string("attaching the watch's ") + name,
                                "bpf(BPF_LINK_CREATE)", name, err, hint));
    }
    links.push_back(link);
  }
  return links;
}

}  // namespace moat::watch
