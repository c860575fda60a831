// Watch: loads watch.bpf.c through its skeleton, attaches its BTF and raw tracepoints, fills the
// syscall map and consumes the ring from the launcher's loop. See watch.h.
#include "sandboxd/watch/watch.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "bpf/watch_event.h"
#include "sandboxd/sys/libbpf_log.h"
#include "sandboxd/sys/unique_fd.h"
#include "sandboxd/watch/convert.h"
#include "sandboxd/watch/process_table.h"
#include "sandboxd/watch/records.h"
#include "sandboxd/watch/programs.h"

namespace moat::watch {
namespace {

std::int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

struct Watch::State {
  SkelPtr skel;              // per-run: our own programs; empty for a daemon's ring
  sys::UniqueFd ring_map;    // a daemon's ring for this sandbox
  std::function<std::uint64_t()> remote_lost;  // the daemon's loss count for this sandbox
  std::vector<bpf_link*> links;
  ring_buffer* ring = nullptr;
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
    if (remote_lost) return remote_lost();
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
      // The process's last thread ended (watch.bpf.c): a leader's pthread_exit is no record, so
      // its other threads keep the entry. Two threads dying at once may both send one: the
      // second finds the entry gone.
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

  void consume() {
    if (ring == nullptr) return;
    ring_buffer__consume(ring);
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
  LoadOptions load;
  load.cgroup_id = st.st_ino;
  load.ring_bytes = options.ring_bytes;
  auto skel = load_programs(load);
  if (!skel) return skel.error();
  auto state = std::make_unique<State>();
  state->skel = std::move(*skel);
  auto links = attach_programs(state->skel.get());
  if (!links) return links.error();
  state->links = std::move(*links);
  if (Status st = start(*state, bpf_map__fd(state->skel->maps.events), events); !st) {
    return st.error();
  }
  return Watch(std::move(state));
}

Result<Watch> Watch::consume(sys::UniqueFd ring, report::EventLog& events,
                             std::function<std::uint64_t()> lost) {
  auto state = std::make_unique<State>();
  state->ring_map = std::move(ring);
  state->remote_lost = std::move(lost);
  state->events = &events;
  return Watch(std::move(state));  // mapped by map_ring()
}

Status Watch::map_ring() {
  if (!state_ || state_->ring != nullptr || !state_->ring_map.valid()) return {};
  return start(*state_, state_->ring_map.get(), *state_->events);
}

Status Watch::start(State& state, int ring_fd, report::EventLog& events) {
  state.events = &events;
  state.boot_to_realtime = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
  state.ring = ring_buffer__new(ring_fd, &State::on_record, &state, nullptr);
  if (state.ring == nullptr) {
    return syscall_error("opening the watch's ring buffer", "ring_buffer__new",
                         "fd=" + std::to_string(ring_fd), errno);
  }
  return {};
}

int Watch::poll_fd() const {
  return state_ && !state_->stopped && state_->ring != nullptr ? ring_buffer__epoll_fd(state_->ring)
                                                               : -1;
}

void Watch::consume() {
  if (state_ && !state_->stopped) state_->consume();
}

void Watch::stop() {
  if (!state_ || state_->stopped) return;
  (void)map_ring();  // what the kernel wrote is in the ring, mapped or not
  state_->detach();  // nothing new arrives after this
  state_->consume();  // what the last producers left
  state_->stopped = true;
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
  auto skel = load_programs({.cgroup_id = 0, .ring_bytes = 1u << 16});
  if (!skel) return skel.error();
  return {};
}

}  // namespace moat::watch
