// The daemon's watch: the programs of bpf/watch.bpf.c loaded and attached ONCE, with a ring per
// registered sandbox (cgroup id -> slot -> ring). Root only; used by sandboxd.
//
// Every update of a map-in-map waits for an RCU grace period (7-12 ms on this machine kind), and
// a ring takes ~0.3-1 ms to allocate, so rings are made ahead: a pool of `warm` fresh rings sits
// in free slots, a registration only points the cgroup id at one (a plain hash insert), and a
// background thread gives a released slot a new ring. A ring is never reused: the client that
// consumed it may keep its descriptor, and must not read the next sandbox's records.
#pragma once

#include <bpf/libbpf.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "policy/result.h"
#include "sandboxd/watch/watch.h"
#include "sandboxd/sys/unique_fd.h"
#include "sandboxd/watch/programs.h"

namespace moat::watch {

struct SharedWatchOptions {
  std::uint32_t max_sandboxes = 1024;   // slots
  std::uint32_t warm = 8;               // fresh rings kept ready
  std::uint32_t warm_bytes = kDefaultRingBytes;  // their size (moat's default ring)
  // The syscall programs stay attached this long after the last sandbox left (a burst of runs
  // pays their attach, ~0.5 ms, once).
  std::chrono::milliseconds idle_detach{2000};
};

class SharedWatch {
 public:
  // Loads and attaches the programs and fills the warm pool.
  static Result<std::unique_ptr<SharedWatch>> load(const SharedWatchOptions& options);
  ~SharedWatch();
  SharedWatch(const SharedWatch&) = delete;
  SharedWatch& operator=(const SharedWatch&) = delete;

  // Points the cgroup at a fresh ring of RING_BYTES (a power of two, whole pages): from now on
  // the cgroup's records go there. Returns a descriptor of the ring for the client. EEXIST when
  // the cgroup is registered already, ENOSPC when every slot is taken.
  Result<sys::UniqueFd> add(std::uint64_t cgroup_id, std::uint32_t ring_bytes);
  // Forgets the cgroup (its records go nowhere from now on); its slot gets a new ring later.
  void remove(std::uint64_t cgroup_id);
  // Records of the cgroup the kernel could not deliver (ring full, no pending slot).
  std::uint64_t lost(std::uint64_t cgroup_id) const;
  std::size_t size() const;   // registered sandboxes
  std::size_t fresh() const;  // rings ready for a registration

 private:
  enum class SlotState { kEmpty, kFresh, kInUse, kDirty, kBusy };
  struct Slot {
    SlotState state = SlotState::kEmpty;
    sys::UniqueFd ring;
    std::uint32_t bytes = 0;
    std::uint64_t cgroup_id = 0;
  };

  explicit SharedWatch(const SharedWatchOptions& options) : options_(options) {}
  // Makes a ring for each of SLOTS and puts them in (the kernel waits for one grace period),
  // until each ring is still empty once that returns. Called without the lock.
  std::vector<Result<sys::UniqueFd>> install(const std::vector<std::uint32_t>& slots,
                                             std::uint32_t bytes);
  void refill_loop();

  // Called with the lock held.
  Status attach_syscalls();
  void detach_syscalls();

  SharedWatchOptions options_;
  SkelPtr skel_;
  std::vector<bpf_link*> links_;          // exec, fork, exit: always
  std::vector<bpf_link*> syscall_links_;  // sys_exit: while a sandbox is registered
  std::chrono::steady_clock::time_point idle_since_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Slot> slots_;
  std::map<std::uint64_t, std::uint32_t> by_cgroup_;
  bool stopping_ = false;
  std::thread refill_;
};

}  // namespace moat::watch
