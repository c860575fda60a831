// The daemon's watch: one load, a pool of rings, a slot per sandbox. See shared_watch.h.
#include "sandboxd/watch/shared_watch.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

namespace moat::watch {
namespace {

// The ring's producer position (its second page): non-zero once anything was written.
bool ring_written(int fd) {
  const long page = ::sysconf(_SC_PAGESIZE);
  void* p = ::mmap(nullptr, static_cast<size_t>(page), PROT_READ, MAP_SHARED, fd, page);
  if (p == MAP_FAILED) return true;  // cannot tell: treat as used
  const std::uint64_t producer = *static_cast<volatile std::uint64_t*>(p);
  ::munmap(p, static_cast<size_t>(page));
  return producer != 0;
}

}  // namespace

Result<std::unique_ptr<SharedWatch>> SharedWatch::load(const SharedWatchOptions& options) {
  if (options.max_sandboxes == 0 || options.warm > options.max_sandboxes) {
    return make_error(ErrorCode::kInvalidArgument, "the shared watch needs 0 < warm <= slots");
  }
  LoadOptions load;
  load.shared = true;
  load.max_sandboxes = options.max_sandboxes;
  load.ring_bytes = 4096;  // `events` is unused in this form
  auto skel = load_programs(load);
  if (!skel) return skel.error();
  std::unique_ptr<SharedWatch> w(new SharedWatch(options));
  w->skel_ = std::move(*skel);
  w->slots_.resize(options.max_sandboxes);
  std::vector<std::uint32_t> warm(options.warm);
  for (std::uint32_t i = 0; i < options.warm; ++i) warm[i] = i;
  auto rings = w->install(warm, options.warm_bytes);
  for (std::uint32_t i = 0; i < options.warm; ++i) {
    if (!rings[i]) return rings[i].error();
    w->slots_[i] = Slot{SlotState::kFresh, std::move(*rings[i]), options.warm_bytes, 0};
  }
  auto links = attach_programs(w->skel_.get(), ProgramSet::kProcesses);
  if (!links) return links.error();
  w->links_ = std::move(*links);
  SharedWatch* raw = w.get();
  w->refill_ = std::thread([raw] { raw->refill_loop(); });
  return w;
}

SharedWatch::~SharedWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (refill_.joinable()) refill_.join();
  detach_syscalls();
  for (bpf_link* l : links_) bpf_link__destroy(l);
}

std::vector<Result<sys::UniqueFd>> SharedWatch::install(const std::vector<std::uint32_t>& slots,
                                                        std::uint32_t bytes) {
  const int rings_fd = bpf_map__fd(skel_->maps.slot_rings);
  std::vector<Result<sys::UniqueFd>> done;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    done.push_back(make_error(ErrorCode::kInternal, "a released ring slot kept receiving records"));
  }
  std::vector<std::size_t> pending(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) pending[i] = i;
  for (int attempt = 0; attempt < 4 && !pending.empty(); ++attempt) {
    std::vector<std::size_t> made;
    std::vector<sys::UniqueFd> rings;
    std::vector<std::uint32_t> keys;
    std::vector<std::uint32_t> values;
    for (std::size_t i : pending) {
      LIBBPF_OPTS(bpf_map_create_opts, create_options);
      sys::UniqueFd ring(
          bpf_map_create(BPF_MAP_TYPE_RINGBUF, "moat_sandbox", 0, 0, bytes, &create_options));
      if (!ring.valid()) {
        done[i] = syscall_error("creating a sandbox's ring buffer", "bpf(BPF_MAP_CREATE)",
                                "RINGBUF, " + std::to_string(bytes) + " bytes", errno);
        continue;
      }
      made.push_back(i);
      keys.push_back(slots[i]);
      values.push_back(static_cast<std::uint32_t>(ring.get()));
      rings.push_back(std::move(ring));
    }
    // One batch, one grace period for all of them (the kernel waits once per call): a burst of
    // runs that released several slots gets them back in ~10 ms, not ~10 ms each.
    std::uint32_t count = static_cast<std::uint32_t>(keys.size());
    int err = 0;
    if (count != 0) {
      LIBBPF_OPTS(bpf_map_batch_opts, batch_options, .elem_flags = BPF_ANY);
      if (bpf_map_update_batch(rings_fd, keys.data(), values.data(), &count, &batch_options) != 0) {
        err = errno;
        if (count == 0 && (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP)) {
          // No batch operations for this map type on an older kernel: one update each.
          err = 0;
          while (count < keys.size() &&
                 bpf_map_update_elem(rings_fd, &keys[count], &values[count], BPF_ANY) == 0) {
            ++count;
          }
          if (count < keys.size()) err = errno;
        }
      }
    }
    pending.clear();
    for (std::size_t k = 0; k < made.size(); ++k) {
      const std::size_t i = made[k];
      if (k >= count) {
        done[i] = syscall_error("installing a sandbox's ring buffer", "bpf(BPF_MAP_UPDATE_BATCH)",
                                "slot " + std::to_string(slots[i]), err);
        continue;
      }
      // A program of the slot's previous sandbox that found the slot before it was released
      // may have written here before the update's grace period ended. Only a ring still empty
      // after it is fresh.
      if (ring_written(rings[k].get())) {
        pending.push_back(i);
      } else {
        done[i] = std::move(rings[k]);
      }
    }
  }
  return done;
}

Status SharedWatch::attach_syscalls() {
  if (!syscall_links_.empty()) return {};
  auto links = attach_programs(skel_.get(), ProgramSet::kSyscalls);
  if (!links) return links.error();
  syscall_links_ = std::move(*links);
  return {};
}

void SharedWatch::detach_syscalls() {
  for (bpf_link* l : syscall_links_) bpf_link__destroy(l);
  syscall_links_.clear();
}

void SharedWatch::refill_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    auto work = [&] {
      if (stopping_) return true;
      for (const Slot& s : slots_) {
        if (s.state == SlotState::kDirty) return true;
      }
      return false;
    };
    if (!syscall_links_.empty() && by_cgroup_.empty()) {
      // Idle: the syscall programs go once no sandbox came back for a while.
      wake_.wait_until(lock, idle_since_ + options_.idle_detach, work);
      if (by_cgroup_.empty() && !syscall_links_.empty() &&
          std::chrono::steady_clock::now() >= idle_since_ + options_.idle_detach) {
        detach_syscalls();
      }
    } else {
      wake_.wait(lock, [&] { return work() || (!syscall_links_.empty() && by_cgroup_.empty()); });
    }
    if (stopping_) return;
    std::size_t fresh_now = 0;
    for (const Slot& s : slots_) fresh_now += s.state == SlotState::kFresh ? 1 : 0;
    std::vector<std::uint32_t> refill;  // back in the warm pool
    std::vector<std::uint32_t> drop;    // not needed warm: emptied
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].state != SlotState::kDirty) continue;
      slots_[i].state = SlotState::kBusy;
      (fresh_now + refill.size() < options_.warm ? refill : drop).push_back(i);
    }
    lock.unlock();
    auto rings = install(refill, options_.warm_bytes);
    // Each delete waits for a grace period too; only a burst of more sandboxes at once than the
    // warm pool holds leaves slots to drop.
    for (std::uint32_t i : drop) (void)bpf_map_delete_elem(bpf_map__fd(skel_->maps.slot_rings), &i);
    lock.lock();
    for (std::size_t k = 0; k < refill.size(); ++k) {
      slots_[refill[k]] =
          rings[k] ? Slot{SlotState::kFresh, std::move(*rings[k]), options_.warm_bytes, 0} : Slot{};
    }
    for (std::uint32_t i : drop) slots_[i] = Slot{};
  }
}

Result<sys::UniqueFd> SharedWatch::add(std::uint64_t cgroup_id, std::uint32_t ring_bytes) {
  const std::string args = "cgroup id " + std::to_string(cgroup_id);
  std::unique_lock lock(mutex_);
  if (by_cgroup_.count(cgroup_id) != 0) {
    return syscall_error("registering a sandbox", "sandboxd", args, EEXIST);
  }
  std::uint32_t slot = static_cast<std::uint32_t>(slots_.size());
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].state == SlotState::kFresh && slots_[i].bytes == ring_bytes) {
      slot = i;
      break;
    }
  }
  if (slot == slots_.size()) {
    // No fresh ring of that size: make one now (the slow path, a grace period).
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].state == SlotState::kEmpty) {
        slot = i;
        break;
      }
    }
    if (slot == slots_.size()) {
      return syscall_error("registering a sandbox", "sandboxd", "no free slot", ENOSPC);
    }
    slots_[slot].state = SlotState::kBusy;
    lock.unlock();
    auto ring = std::move(install({slot}, ring_bytes)[0]);
    lock.lock();
    if (!ring) {
      slots_[slot] = Slot{};
      return ring.error();
    }
    slots_[slot] = Slot{SlotState::kFresh, std::move(*ring), ring_bytes, 0};
  }
  // The syscall programs, if idle-detached: before the cgroup is visible to the programs, so
  // the sandbox's first system call is seen.
  if (Status st = attach_syscalls(); !st) {
    if (slots_[slot].state != SlotState::kFresh) slots_[slot] = Slot{};
    return st.error();
  }
  Slot& s = slots_[slot];
  const std::uint64_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.slot_lost), &slot, &zero, BPF_ANY) != 0 ||
      bpf_map_update_elem(bpf_map__fd(skel_->maps.sandbox_slot), &cgroup_id, &slot, BPF_NOEXIST) !=
          0) {
    return syscall_error("registering a sandbox", "bpf(BPF_MAP_UPDATE_ELEM)", args, errno);
  }
  sys::UniqueFd mine(::fcntl(s.ring.get(), F_DUPFD_CLOEXEC, 0));
  if (!mine.valid()) {
    int err = errno;
    (void)bpf_map_delete_elem(bpf_map__fd(skel_->maps.sandbox_slot), &cgroup_id);
    return syscall_error("registering a sandbox", "fcntl", "F_DUPFD_CLOEXEC", err);
  }
  s.state = SlotState::kInUse;
  s.cgroup_id = cgroup_id;
  by_cgroup_[cgroup_id] = slot;
  return mine;
}

void SharedWatch::remove(std::uint64_t cgroup_id) {
  {
    std::lock_guard lock(mutex_);
    auto it = by_cgroup_.find(cgroup_id);
    if (it == by_cgroup_.end()) return;
    (void)bpf_map_delete_elem(bpf_map__fd(skel_->maps.sandbox_slot), &cgroup_id);
    Slot& s = slots_[it->second];
    s.state = SlotState::kDirty;
    s.ring.reset();
    s.cgroup_id = 0;
    by_cgroup_.erase(it);
    if (by_cgroup_.empty()) idle_since_ = std::chrono::steady_clock::now();
  }
  wake_.notify_all();
}

std::uint64_t SharedWatch::lost(std::uint64_t cgroup_id) const {
  std::lock_guard lock(mutex_);
  auto it = by_cgroup_.find(cgroup_id);
  std::uint64_t n = 0;
  if (it == by_cgroup_.end() ||
      bpf_map_lookup_elem(bpf_map__fd(skel_->maps.slot_lost), &it->second, &n) != 0) {
    return 0;
  }
  return n;
}

std::size_t SharedWatch::size() const {
  std::lock_guard lock(mutex_);
  return by_cgroup_.size();
}

std::size_t SharedWatch::fresh() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const Slot& s : slots_) n += s.state == SlotState::kFresh ? 1 : 0;
  return n;
}

}  // namespace moat::watch
