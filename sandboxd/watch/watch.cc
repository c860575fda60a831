// Watch: loads watch.bpf.c through its skeleton, attaches its BTF and raw tracepoints, fills the
// syscall map and runs the consumer thread. See watch.h.
#include "sandboxd/watch/watch.h"

#include "sandboxd/watch/btf_cache.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bpf/watch_event.h"
#include "sandboxd/sys/libbpf_log.h"
#include "sandboxd/sys/unique_fd.h"
#include "sandboxd/watch/convert.h"
#include "sandboxd/watch/process_table.h"
#include "sandboxd/watch/records.h"
#include "sandboxd/watch/syscall_table.h"
#include "watch.skel.h"

namespace moat::watch {
namespace {

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

struct SkelDeleter {
  void operator()(watch_bpf* s) const { watch_bpf__destroy(s); }
};
using SkelPtr = std::unique_ptr<watch_bpf, SkelDeleter>;

Result<SkelPtr> open_and_load(std::uint64_t cgroup_id, std::size_t ring_bytes) {
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
  skel->rodata->moat_cgroup_id = cgroup_id;
  bpf_map__set_max_entries(skel->maps.events, static_cast<std::uint32_t>(ring_bytes));
  int rc = watch_bpf__load(skel.get());
  if (rc != 0) {
    int err = -rc;
    std::string hint = bpf_hint(err);
    if (std::string last = quiet.tail(1); !last.empty()) hint += "\n  libbpf: " + last;
    return syscall_error(
        "loading the watch's BPF programs (raw_tp/sched_process_exec, fork, exit; "
        "raw_tp/sys_enter, sys_exit)",
        "bpf(BPF_PROG_LOAD)", "", err, hint);
  }
  return skel;
}

std::int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

struct Watch::State {
  SkelPtr skel;
  std::vector<bpf_link*> links;
  ring_buffer* ring = nullptr;
  std::thread consumer;
  sys::UniqueFd wake;  // eventfd: stop() ends the consumer's wait at once
  std::atomic<bool> stopping{false};
  bool stopped = false;
  report::EventLog* events = nullptr;
  std::vector<report::Event> batch;  // this pass over the ring, added to `events` at its end
  ProcessTable processes;
  LiveProcLookup lookup;
  std::int64_t boot_to_realtime = 0;
  std::atomic<std::uint64_t> records{0};
  std::atomic<pid_t> sandbox_pid{0};
  std::atomic<std::uint64_t> undecodable{0};
  std::uint64_t kernel_lost_at_stop = 0;

  ~State() {
    detach();
    if (ring != nullptr) ring_buffer__free(ring);
  }
  void detach() {
    for (bpf_link* l : links) bpf_link__destroy(l);
    links.clear();
  }
  std::uint64_t kernel_lost() const {
    if (!skel) return kernel_lost_at_stop;
    int fd = bpf_map__fd(skel->maps.lost);
    int ncpu = libbpf_num_possible_cpus();
    if (fd < 0 || ncpu <= 0) return 0;
    std::uint64_t sum = 0;
    std::vector<std::uint64_t> per_cpu(static_cast<size_t>(ncpu));
    for (std::uint32_t slot = 0; slot < MOAT_LOST_SLOTS; ++slot) {
      if (bpf_map_lookup_elem(fd, &slot, per_cpu.data()) != 0) continue;
      for (std::uint64_t v : per_cpu) sum += v;
    }
    return sum;
  }

  void stamp(report::Event& e, const RecordHeader& h) const {
    e.time_ns = static_cast<std::int64_t>(h.boot_ns) + boot_to_realtime;
  }

  void handle(const Record& record) {
    if (const auto* r = std::get_if<FileRecord>(&record)) {
      const Process* p = processes.find(r->h.pid);
      if (p == nullptr || p->exe.empty()) {
        // Before pid 1 is known only pid 1 exists; pid 1 itself never execs: moat's setup.
        const pid_t pid1 = sandbox_pid.load(std::memory_order_acquire);
        if (pid1 == 0 || r->h.pid == pid1) return;
        // A process whose introducing record was lost: report what it did all the same.
        Process unknown = p != nullptr ? *p : Process{};
        unknown.exe = "?";
        if (auto e = file_event(*r, unknown, lookup)) {
          stamp(*e, r->h);
          batch.push_back(std::move(*e));
        }
        return;
      }
      if (auto e = file_event(*r, *p, lookup)) {
        stamp(*e, r->h);
        batch.push_back(std::move(*e));
      }
    } else if (const auto* r = std::get_if<ExecRecord>(&record)) {
      const Process& p = processes.exec(r->h.pid, r->h.ppid, exe_path(*r), r->cwd, r->environment);
      report::Event e = exec_event(*r, p);
      stamp(e, r->h);
      batch.push_back(std::move(e));
    } else if (const auto* r = std::get_if<ForkRecord>(&record)) {
      processes.fork(r->h.pid, r->h.ppid, r->child);
    } else if (const auto* r = std::get_if<CwdRecord>(&record)) {
      processes.chdir(r->h.pid, r->cwd);
    } else if (const auto* r = std::get_if<ExitRecord>(&record)) {
      const Process* p = processes.find(r->h.pid);
      if (p != nullptr && !p->exe.empty()) {
        report::Event e = exit_event(*r, *p);
        stamp(e, r->h);
        batch.push_back(std::move(e));
      }
      processes.exit(r->h.pid);
    }
  }

  static int on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<State*>(ctx);
    self->records.fetch_add(1, std::memory_order_relaxed);
    std::optional<Record> record = decode_record(data, size);
    if (!record) {
      self->undecodable.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    self->handle(*record);
    return 0;
  }

  static constexpr int kTailPollMs = 20;

  void consume() {
    pollfd fds[2] = {{ring_buffer__epoll_fd(ring), POLLIN, 0}, {wake.get(), POLLIN, 0}};
    while (!stopping.load(std::memory_order_acquire)) {
      // The programs wake us per batch (WAKEUP_BYTES in watch.bpf.c); the timeout collects a
      // tail smaller than a batch.
      if (::poll(fds, 2, kTailPollMs) < 0 && errno != EINTR) break;
      if (ring_buffer__consume(ring) < 0) break;
      flush();
    }
    ring_buffer__consume(ring);  // what the last producers left
    flush();
  }

  void flush() {
    if (batch.empty()) return;
    events->add_all(std::move(batch));
    batch.clear();
  }
};

Watch::Watch(std::unique_ptr<State> state) : state_(std::move(state)) {}
Watch::Watch(Watch&&) noexcept = default;
Watch& Watch::operator=(Watch&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}
Watch::~Watch() { stop(); }

Result<Watch> Watch::attach(int cgroup_fd, report::EventLog& events, WatchOptions options) {
  struct stat st {};
  if (cgroup_fd < 0 || ::fstat(cgroup_fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
    int err = cgroup_fd < 0 ? EBADF : errno != 0 ? errno : ENOTDIR;
    return syscall_error("attaching the watch", "fstat", "cgroup_fd=" + std::to_string(cgroup_fd),
                         err, "pass an fd of the sandbox's cgroup v2 directory");
  }
  // kernfs: a cgroup v2 directory's inode number is its cgroup id.
  const std::uint64_t cgroup_id = st.st_ino;

  auto skel = open_and_load(cgroup_id, options.ring_bytes);
  if (!skel) return skel.error();
  auto state = std::make_unique<State>();
  state->skel = std::move(*skel);
  state->events = &events;
  state->boot_to_realtime = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
  watch_bpf* s = state->skel.get();

  sys::LibbpfLog quiet;
  auto attach_failed = [&](const std::string& what, int err) {
    std::string hint = bpf_hint(err);
    if (std::string last = quiet.tail(1); !last.empty()) hint += "\n  libbpf: " + last;
    return syscall_error("attaching the watch's " + what, "bpf(BPF_LINK_CREATE)", what, err, hint);
  };
  // The syscall map first: sys_enter looks every call up in it.
  int ops_fd = bpf_map__fd(s->maps.syscall_ops);
  for (const TracedSyscall& call : traced_syscalls()) {
    std::uint32_t key = static_cast<std::uint32_t>(call.nr);
    std::uint32_t op = call.op;
    if (key >= MOAT_WATCH_SYSCALL_SLOTS || bpf_map_update_elem(ops_fd, &key, &op, BPF_ANY) != 0) {
      return syscall_error("filling the watch's syscall map", "bpf(BPF_MAP_UPDATE_ELEM)",
                           std::string(call.name) + " = " + std::to_string(key), errno);
    }
  }
  // sys_exit before sys_enter: an enter without its exit would leave a pending entry behind.
  const std::pair<bpf_program*, const char*> programs[] = {
      {s->progs.moat_exec, "raw_tp/sched_process_exec"},
      {s->progs.moat_fork, "raw_tp/sched_process_fork"},
      {s->progs.moat_exit, "raw_tp/sched_process_exit"},
      {s->progs.moat_sys_exit, "raw_tp/sys_exit"},
      {s->progs.moat_sys_enter, "raw_tp/sys_enter"},
  };
  for (const auto& [prog, name] : programs) {
    bpf_link* link = bpf_program__attach(prog);
    if (link == nullptr) return attach_failed(name, errno);
    state->links.push_back(link);
  }

  State* raw = state.get();
  raw->ring = ring_buffer__new(bpf_map__fd(s->maps.events), &State::on_record, raw, nullptr);
  if (raw->ring == nullptr) {
    return syscall_error("opening the watch's ring buffer", "ring_buffer__new", "", errno);
  }
  raw->wake.reset(::eventfd(0, EFD_CLOEXEC));
  if (!raw->wake.valid()) return syscall_error("starting the watch", "eventfd", "", errno);
  raw->consumer = std::thread([raw] { raw->consume(); });
  return Watch(std::move(state));
}

void Watch::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  state_->detach();  // nothing new arrives after this
  state_->stopping.store(true, std::memory_order_release);
  std::uint64_t one = 1;
  if (state_->wake.valid()) (void)!::write(state_->wake.get(), &one, sizeof one);
  if (state_->consumer.joinable()) state_->consumer.join();
  state_->kernel_lost_at_stop = state_->kernel_lost();
}

void Watch::set_sandbox_pid(pid_t pid) {
  if (state_) state_->sandbox_pid.store(pid, std::memory_order_release);
}

std::uint64_t Watch::lost_count() const {
  if (!state_) return 0;
  std::uint64_t kernel = state_->stopped ? state_->kernel_lost_at_stop : state_->kernel_lost();
  return kernel + state_->undecodable.load();
}

std::uint64_t Watch::record_count() const { return state_ ? state_->records.load() : 0; }

Status probe_watch() {
  auto skel = open_and_load(0, 1u << 16);
  if (!skel) return skel.error();
  return {};
}

}  // namespace moat::watch
