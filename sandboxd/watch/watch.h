// The eBPF watch of one sandbox: tracepoint programs scoped to the sandbox's cgroup v2 id report
// exec, fork, exit and file changes through a ring buffer, which the launcher's own loop consumes
// (poll_fd, consume) into report events (docs/events.md): no thread to start, wake and join on
// every run. Attach before the command starts, stop after the sandbox ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "policy/result.h"
#include "sandboxd/report/event_log.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::watch {

// The ring buffer of one sandbox: a power of two, a multiple of the page size. 1 MiB holds ~7,000
// typical file records (a record carries only the bytes of its paths) while the consumer catches
// up. Its size is on every run's path: the consumer maps the data twice (for wrap-around), and the
// kernel fills every page table entry at mmap time, ~0.6 ms for 4 MiB against ~0.15 ms for 1 MiB
// here. A burst the ring cannot hold is counted and reported, never silent.
inline constexpr std::uint32_t kDefaultRingBytes = 1u << 20;

struct WatchOptions {
  std::size_t ring_bytes = kDefaultRingBytes;  // MOAT_WATCH_RING_BYTES changes it
};

class Watch {
 public:
  // Loads the programs for the cgroup whose v2 directory CGROUP_FD is open (its inode is the id
  // bpf_get_current_cgroup_id() returns), attaches them, and consumes into EVENTS (see consume()), which
  // must outlive the Watch. Errors name the program, the call and errno, with a hint.
  static Result<Watch> attach(int cgroup_fd, report::EventLog& events, WatchOptions options = {});

  // Consumes RING, a ring buffer the sandboxd daemon made for the sandbox: the daemon's programs
  // (loaded once for every sandbox) write this sandbox's records there. LOST asks the daemon how
  // many records of this sandbox the kernel could not deliver.
  static Result<Watch> consume(sys::UniqueFd ring, report::EventLog& events,
                               std::function<std::uint64_t()> lost);
  // Maps a daemon's ring (consume() leaves that to this call, so that the launcher can let the
  // command start first: mapping 1 MiB twice over is ~0.25 ms, and the kernel keeps the records
  // meanwhile). Until then poll_fd() is -1 and consume() does nothing. Idempotent; stop() does
  // it if nobody did.
  Status map_ring();

  Watch(Watch&&) noexcept;
  Watch& operator=(Watch&&) noexcept;
  ~Watch();  // stop()

  // Readable when the programs signalled a batch (watch.bpf.c's WAKEUP_BYTES): then consume().
  // -1 once stopped.
  int poll_fd() const;
  // Turns what the ring holds now into events. Call when poll_fd() is readable, and every
  // kTailPollMs otherwise, for a tail smaller than a batch.
  void consume();
  static constexpr int kTailPollMs = 20;
  // Detaches every program and drains what is left in the ring buffer into the event log. Call
  // once everything in the cgroup has exited. Idempotent.
  void stop();
  // The sandbox's pid 1 (outside view), once cloned: until then, and from it, records come from
  // moat's own setup and are not the command's. Records of any other process no fork or exec
  // record introduced (those records were lost) are still reported, with exe "?".
  void set_sandbox_pid(pid_t pid);

  // Records the kernel could not deliver (ring full, no room for a pending syscall) plus records
  // that did not decode. Non-zero means the account is incomplete; the end event says so.
  std::uint64_t lost_count() const;
  // Records consumed so far.
  std::uint64_t record_count() const;

 private:
  struct State;
  explicit Watch(std::unique_ptr<State> state);
  static Status start(State& state, int ring_fd, report::EventLog& events);
  std::unique_ptr<State> state_;
};

// Load-only probe, for `moat doctor`: do this kernel's verifier and BTF accept the watch's
// programs? Attaches nothing.
Status probe_watch();

}  // namespace moat::watch
