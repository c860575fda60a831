// The eBPF watch of one sandbox: tracepoint programs scoped to the sandbox's cgroup v2 id report
// exec, fork, exit and file changes through a ring buffer; a consumer thread turns them into
// report events (docs/events.md). Root only; attach before the sandbox starts, stop after it ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "policy/result.h"
#include "sandboxd/report/event_log.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::watch {

struct WatchOptions {
  // A power of two, a multiple of the page size. 4 MiB holds ~1,500 file records of a burst while
  // the consumer catches up; the kernel allocates and charges it at load (16 MiB took 3.4 ms).
  std::size_t ring_bytes = 4u << 20;
};

class Watch {
 public:
  // Loads the programs for the cgroup whose v2 directory CGROUP_FD is open (its inode is the id
  // bpf_get_current_cgroup_id() returns), attaches them, and starts consuming into EVENTS, which
  // must outlive the Watch. Errors name the program, the call and errno, with a hint.
  static Result<Watch> attach(int cgroup_fd, report::EventLog& events, WatchOptions options = {});

  // Consumes RING, a ring buffer the sandboxd daemon made for the sandbox: the daemon's programs
  // (loaded once for every sandbox) write this sandbox's records there. LOST asks the daemon how
  // many records of this sandbox the kernel could not deliver.
  static Result<Watch> consume(sys::UniqueFd ring, report::EventLog& events,
                               std::function<std::uint64_t()> lost);

  Watch(Watch&&) noexcept;
  Watch& operator=(Watch&&) noexcept;
  ~Watch();  // stop()

  // Detaches every program, drains what is left in the ring buffer into the event log and ends
  // the consumer thread. Call once everything in the cgroup has exited. Idempotent.
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
