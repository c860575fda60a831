// The relay for name-bound connections: one epoll thread moves the bytes of every relayed
// connection (first-bytes check, then splice through per-connection pipes), with no thread per
// connection, a cap on how many it holds, and a bound on the memory their pipes pin.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "policy/result.h"
#include "sandboxd/gate/relay.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::gate {

struct RelayLimits {
  // More connections than this are refused (a sandbox that opens connections and sends
  // nothing must not exhaust the supervisor's descriptors).
  size_t max_relays = 256;
  // The client must have named its host by then (slowloris).
  std::chrono::milliseconds first_bytes_deadline = std::chrono::seconds(30);
  // Client bytes held while deciding; a ClientHello or request head larger than this is refused.
  size_t max_head_bytes = 70 * 1024;
  // Pipes start at the kernel's default size (64 KiB); a direction that has moved
  // `grow_after_bytes` gets a `grown_pipe_bytes` pipe, while fewer than `max_grown_pipes` are.
  std::uint64_t grow_after_bytes = 512 * 1024;
  size_t grown_pipe_bytes = 1024 * 1024;
  size_t max_grown_pipes = 32;
  // Loopback pairs made through one listener before it is replaced (see connect_pair).
  size_t pairs_per_listener = 4096;
};

// Called on the relay thread: once with the first decision (allowed or refused), and again
// when a later HTTP request on the connection is refused.
using DecisionHook = std::function<void(const BindingDecision&)>;

class RelayEngine {
 public:
  static Result<std::unique_ptr<RelayEngine>> create(RelayLimits limits = {});
  ~RelayEngine();  // stop()s
  RelayEngine(const RelayEngine&) = delete;
  RelayEngine& operator=(const RelayEngine&) = delete;

  // A connected TCP pair on the host's loopback: the sandbox gets `outer` (non-blocking), the
  // relay later `inner`. Made through a listener the engine keeps (no listen/bind per
  // connection; renewed every pairs_per_listener pairs); once asked for, one is kept made in
  // advance, so a relayed connect normally takes a ready pair. Thread-safe.
  using Pair = std::pair<sys::UniqueFd, sys::UniqueFd>;
  Result<Pair> make_pair();

  // True when add() would take one more connection now (a hint: another thread may take it).
  bool has_room() const;

  // Relays between `client` (the pair's inner end) and `upstream` (connected) from now on:
  // server-to-client bytes flow at once, client-to-server bytes once decide_binding allowed them
  // for `expected_name`. Takes both descriptors; on error (full, stopped) closes them, so the
  // sandbox sees its connection end. Thread-safe.
  Result<void> add(sys::UniqueFd client, sys::UniqueFd upstream, std::string expected_name,
                   DecisionHook on_decision);

  // Connections being relayed (including those queued by add() and not yet picked up).
  size_t active() const { return active_.load(); }

  // Ends every connection (both sockets shut down and closed) and the thread. Idempotent.
  void stop();

 private:
  struct Conn;
  struct Pending {
    sys::UniqueFd client, upstream;
    std::string name;
    DecisionHook hook;
  };

  explicit RelayEngine(RelayLimits limits);
  void loop();
  Result<Pair> connect_pair();      // under pair_mu_
  Result<void> listen_for_pairs();  // under pair_mu_ (or before the thread starts)
  void adopt(Pending pending);
  void pump(Conn& conn);
  bool pump_down(Conn& conn);
  bool pump_up(Conn& conn);
  bool flush_out(Conn& conn);
  bool take_client_bytes(Conn& conn);
  void maybe_grow(Conn& conn, bool down);
  void close_conn(std::uint64_t id);
  void expire_deadlines();
  int next_timeout_ms();

  const RelayLimits limits_;
  sys::UniqueFd epoll_, wake_, listener_;
  std::uint16_t listener_port_ = 0;  // network order
  size_t pairs_on_listener_ = 0;
  std::mutex pair_mu_;        // one pair at a time on the shared listener
  std::vector<Pair> spares_;  // under pair_mu_
  std::atomic<bool> want_spare_{false};
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> active_{0};
  std::atomic<size_t> grown_pipes_{0};
  std::mutex pending_mu_;
  std::vector<Pending> pending_;  // handed over by add(), adopted by the relay thread
  bool stopped_ = false;          // under pending_mu_: add() refuses from then on
  // Relay thread only:
  std::uint64_t next_id_ = 1;
  struct Table;
  std::unique_ptr<Table> table_;
};

}  // namespace moat::gate
