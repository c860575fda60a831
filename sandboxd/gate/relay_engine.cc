// Edge-triggered epoll over both sockets of every relayed connection. Each wake-up pumps the
// connection until every path it can take has hit EAGAIN (so the next edge will come), or until
// a per-turn budget is spent (then it is queued to run again before sleeping).
#include "sandboxd/gate/relay_engine.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <optional>
#include <unordered_map>

#include "sandboxd/gate/http_request_stream.h"

namespace moat::gate {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;
// Rounds of pump per wake-up before other connections get their turn: one bulk transfer must
// not starve the handshakes of the others.
constexpr int kRoundsPerTurn = 16;
// Strangers on the host may connect to the pair listener's port; we skip (close) up to this many
// while looking for our own connection.
constexpr int kMaxStrangers = 64;
constexpr int kPairWaitMs = 200;

// One direction of a connection: bytes move source → pipe → sink with splice(2).
struct Direction {
  sys::UniqueFd pipe_r, pipe_w;  // made on first use: a connection that moves nothing has none
  size_t pipe_size = 0;
  size_t in_pipe = 0;
  std::uint64_t moved = 0;
  bool grown = false;
  bool src_eof = false;
  bool done = false;
};

enum class UpMode {
  kDeciding,  // client bytes are buffered until decide_binding knows
  kHttp,      // plain HTTP: each request head is checked (HttpRequestStream)
  kSplice,    // bound: the rest is spliced unchecked
};

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if ((flags & O_NONBLOCK) == 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

BindingDecision refused(std::string protocol, std::string reason) {
  BindingDecision d;
  d.binding = Binding::kRefused;
  d.protocol = std::move(protocol);
  d.reason = std::move(reason);
  return d;
}

}  // namespace

struct RelayEngine::Conn {
  std::uint64_t id = 0;
  sys::UniqueFd client, upstream;
  std::string name;
  DecisionHook hook;
  UpMode up_mode = UpMode::kDeciding;
  std::vector<std::uint8_t> in;   // client bytes read and not yet judged
  std::vector<std::uint8_t> out;  // judged bytes not yet sent upstream
  size_t out_sent = 0;
  std::optional<HttpRequestStream> http;
  Direction up, down;
  // Readiness as the last epoll edge reported it, cleared at EAGAIN: only calls that can make
  // progress are made (a short connection costs a handful of syscalls, not dozens of EAGAINs).
  // Adding a socket to epoll reports what is already ready, so all start false.
  bool client_in = false, client_out = false, upstream_in = false, upstream_out = false;
  bool dead = false;

  // Both sockets shut down: the sandbox and the server see the connection end at once.
  void abort() {
    ::shutdown(client.get(), SHUT_RDWR);
    ::shutdown(upstream.get(), SHUT_RDWR);
    dead = true;
  }
};

struct RelayEngine::Table {
  std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns;
  // Every connection gets the same first-bytes budget, so their deadlines arrive in the order
  // they were added: a FIFO, checked lazily (a decided or closed connection is skipped).
  std::deque<std::pair<Clock::time_point, std::uint64_t>> deadlines;
  std::vector<std::uint64_t> again;  // budget spent with work left: pump before sleeping
};

RelayEngine::RelayEngine(RelayLimits limits) : limits_(limits), table_(std::make_unique<Table>()) {}

Result<std::unique_ptr<RelayEngine>> RelayEngine::create(RelayLimits limits) {
  std::unique_ptr<RelayEngine> engine(new RelayEngine(limits));
  engine->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!engine->epoll_.valid()) {
    return syscall_error("creating the relay's epoll", "epoll_create1", "EPOLL_CLOEXEC", errno);
  }
  engine->wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!engine->wake_.valid()) {
    return syscall_error("creating the relay's wake-up", "eventfd", "0", errno);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // connection ids start at 1, so 0 is the wake-up
  if (::epoll_ctl(engine->epoll_.get(), EPOLL_CTL_ADD, engine->wake_.get(), &ev) != 0) {
    return syscall_error("watching the relay's wake-up", "epoll_ctl", "EPOLL_CTL_ADD", errno);
  }
  Result<void> listening = engine->listen_for_pairs();
  if (!listening) return listening.error();
  engine->thread_ = std::thread([e = engine.get()] { e->loop(); });
  return engine;
}

RelayEngine::~RelayEngine() { stop(); }

Result<RelayEngine::Pair> RelayEngine::make_pair() {
  std::lock_guard<std::mutex> lock(pair_mu_);
  // The handshake of a pair costs ~25 µs on a busy machine; made ahead on the relay thread it
  // is off the connect path (the relay thread makes the next one after this add()).
  want_spare_ = true;
  if (!spares_.empty()) {
    Pair pair = std::move(spares_.back());
    spares_.pop_back();
    return pair;
  }
  return connect_pair();
}

Result<void> RelayEngine::listen_for_pairs() {
  // One listener for many pairs instead of bind+listen+close per connection: that cost ~20 µs
  // on each relayed connect. The sandbox cannot reach it (its loopback is its own namespace's).
  sys::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (!listener.valid() ||
      ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener.get(), SOMAXCONN) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return syscall_error("listening for the relay's loopback pairs", "bind/listen", "127.0.0.1:0",
                         errno,
                         "the host's loopback interface must be up for name-bound connections");
  }
  listener_ = std::move(listener);
  listener_port_ = addr.sin_port;
  pairs_on_listener_ = 0;
  return {};
}

Result<RelayEngine::Pair> RelayEngine::connect_pair() {
  // Every pair to one listener has the same destination, so each closed one leaves its source
  // port in TIME_WAIT for that destination (the sandbox's end usually closes first); the
  // ephemeral range would run out after ~28 000 pairs a minute. A fresh listener every
  // pairs_per_listener pairs is a fresh destination.
  if (pairs_on_listener_ >= limits_.pairs_per_listener) {
    Result<void> listening = listen_for_pairs();
    if (!listening) return listening.error();  // the old listener is kept
  }
  ++pairs_on_listener_;
  sys::UniqueFd out(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!out.valid()) return syscall_error("relay pair", "socket", "AF_INET", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = listener_port_;
  // On loopback the handshake runs within this call, so the accept below normally finds the
  // connection at once; non-blocking so a full accept queue cannot hold the gate for a SYN
  // retransmit.
  if (::connect(out.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    return syscall_error("relay pair", "connect", "127.0.0.1", errno);
  }
  sockaddr_in mine{};
  socklen_t mine_len = sizeof(mine);
  if (::getsockname(out.get(), reinterpret_cast<sockaddr*>(&mine), &mine_len) != 0) {
    return syscall_error("relay pair", "getsockname", "", errno);
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(kPairWaitMs);
  for (int strangers = 0; strangers <= kMaxStrangers;) {
    sockaddr_in peer{};
    socklen_t peer_len = sizeof(peer);
    int in = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len,
                       SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (in < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        return syscall_error("relay pair", "accept4", "", errno);
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      pollfd p{listener_.get(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      continue;
    }
    // Ours is recognised by its source port: a stranger that raced us to the listener is closed.
    if (peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr) {
      int one = 1;
      ::setsockopt(in, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return std::pair{std::move(out), sys::UniqueFd(in)};
    }
    ::close(in);
    ++strangers;
  }
  return syscall_error("relay pair: our connection never reached the listener", "accept4", "",
                       ETIMEDOUT);
}

bool RelayEngine::has_room() const { return active_.load() < limits_.max_relays; }

Result<void> RelayEngine::add(sys::UniqueFd client, sys::UniqueFd upstream,
                              std::string expected_name, DecisionHook on_decision) {
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    if (stopped_) return make_error(ErrorCode::kInternal, "the relay has stopped");
    if (active_.load() >= limits_.max_relays) {
      return make_error(ErrorCode::kIo, "too many relayed connections at once (limit " +
                                            std::to_string(limits_.max_relays) + ")");
    }
    ++active_;
    pending_.push_back(
        {std::move(client), std::move(upstream), std::move(expected_name), std::move(on_decision)});
  }
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  return {};
}

void RelayEngine::stop() {
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_ = true;
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void RelayEngine::loop() {
  epoll_event events[64];
  while (!stopping_) {
    const int timeout = table_->again.empty() ? next_timeout_ms() : 0;
    int n = ::epoll_wait(epoll_.get(), events, 64, timeout);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t key = events[i].data.u64;
      if (key == 0) {
        std::uint64_t count;
        (void)!::read(wake_.get(), &count, sizeof(count));
        std::vector<Pending> taken;
        {
          std::lock_guard<std::mutex> lock(pending_mu_);
          taken.swap(pending_);
        }
        for (Pending& p : taken) adopt(std::move(p));
        continue;
      }
      auto it = table_->conns.find(key >> 1);
      if (it == table_->conns.end()) continue;
      Conn& conn = *it->second;
      const std::uint32_t ev = events[i].events;
      const bool in = (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
      const bool out = (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
      if ((key & 1) == 0) {
        conn.client_in |= in;
        conn.client_out |= out;
      } else {
        conn.upstream_in |= in;
        conn.upstream_out |= out;
      }
      pump(conn);
    }
    std::vector<std::uint64_t> again;
    again.swap(table_->again);
    for (std::uint64_t id : again) {
      auto it = table_->conns.find(id);
      if (it != table_->conns.end()) pump(*it->second);
    }
    expire_deadlines();
    if (want_spare_) {
      std::lock_guard<std::mutex> lock(pair_mu_);
      if (spares_.empty()) {
        Result<Pair> pair = connect_pair();
        if (pair) {
          spares_.push_back(std::move(*pair));
        } else {
          want_spare_ = false;  // not again until the next make_pair(): a failure may be slow
        }
      }
    }
  }
  // Stopped: the sandbox is gone or going; every connection ends now.
  for (auto& [id, conn] : table_->conns) {
    conn->abort();
    if (conn->up.grown) --grown_pipes_;
    if (conn->down.grown) --grown_pipes_;
  }
  table_->conns.clear();
  std::lock_guard<std::mutex> lock(pending_mu_);
  stopped_ = true;  // also when epoll_wait failed: add() must not queue for a loop that is gone
  pending_.clear();
  active_ = 0;
}

void RelayEngine::adopt(Pending pending) {
  auto conn = std::make_unique<Conn>();
  conn->id = next_id_++;
  conn->client = std::move(pending.client);
  conn->upstream = std::move(pending.upstream);
  conn->name = std::move(pending.name);
  conn->hook = std::move(pending.hook);
  set_nonblocking(conn->client.get());
  set_nonblocking(conn->upstream.get());
  // Edge-triggered: pump() always runs a path until EAGAIN (or queues itself in `again`), so
  // no readiness is lost, and a busy connection does not wake us for what we already know.
  bool watched = true;
  for (int which = 0; which < 2 && watched; ++which) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = (conn->id << 1) | static_cast<std::uint64_t>(which);
    watched = ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD,
                          which == 0 ? conn->client.get() : conn->upstream.get(), &ev) == 0;
  }
  if (!watched) {
    conn->abort();
    --active_;
    return;  // closing both takes them out of the epoll set
  }
  table_->deadlines.emplace_back(Clock::now() + limits_.first_bytes_deadline, conn->id);
  table_->conns.emplace(conn->id, std::move(conn));  // its first edges arrive with the next wait
}

void RelayEngine::pump(Conn& conn) {
  bool progress = true;
  for (int round = 0; progress && !conn.dead; ++round) {
    if (round == kRoundsPerTurn) {
      table_->again.push_back(conn.id);
      return;
    }
    progress = pump_down(conn);
    if (!conn.dead) progress = pump_up(conn) || progress;
  }
  if (conn.dead || (conn.up.done && conn.down.done)) close_conn(conn.id);
}

namespace {

// Moves what it can from `src` to `dst` through the direction's pipe. Returns whether anything
// changed; stops when the source is drained (EAGAIN with an empty pipe) or the sink is full, so
// an edge follows.
bool splice_direction(Direction& d, int src, bool& src_in, int dst, bool& dst_out) {
  if (d.done) return false;
  bool progress = false;
  while (true) {
    bool moved = false;
    if (src_in && !d.src_eof && (!d.pipe_w.valid() || d.in_pipe < d.pipe_size)) {
      if (!d.pipe_w.valid()) {  // made when bytes first arrive: an idle direction has none
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
          d.done = true;  // cannot relay this direction: the peer sees it end
          ::shutdown(dst, SHUT_WR);
          return true;
        }
        d.pipe_r.reset(fds[0]);
        d.pipe_w.reset(fds[1]);
        int size = ::fcntl(fds[1], F_GETPIPE_SZ);
        d.pipe_size = size > 0 ? static_cast<size_t>(size) : 65536;
      }
      ssize_t n = ::splice(src, nullptr, d.pipe_w.get(), nullptr, d.pipe_size - d.in_pipe,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe += static_cast<size_t>(n);
        moved = true;
      } else if (n < 0 && errno == EAGAIN) {
        // With bytes in the pipe EAGAIN may mean "pipe full" (small fragments take a slot
        // each), not "source drained": keep trying after the pipe drains.
        if (d.in_pipe == 0) src_in = false;
      } else if (n < 0 && errno == EINTR) {
        moved = true;
      } else {
        d.src_eof = true;  // end of stream, or reset: either way nothing more comes
        moved = true;
      }
    }
    if (d.in_pipe > 0 && dst_out) {
      ssize_t n = ::splice(d.pipe_r.get(), nullptr, dst, nullptr, d.in_pipe,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe -= static_cast<size_t>(n);
        d.moved += static_cast<std::uint64_t>(n);
        moved = true;
      } else if (n < 0 && errno == EAGAIN) {
        dst_out = false;
      } else if (!(n < 0 && errno == EINTR)) {
        d.done = true;  // the sink is gone (EPIPE, reset): this direction is over
        return true;
      }
    }
    if (d.src_eof && d.in_pipe == 0) {
      ::shutdown(dst, SHUT_WR);  // half-close: the peer reads end-of-stream, may still answer
      d.done = true;
      d.pipe_r.reset();
      d.pipe_w.reset();
      return true;
    }
    if (!moved) return progress;
    progress = true;
  }
}

}  // namespace

bool RelayEngine::pump_down(Conn& conn) {
  bool progress = splice_direction(conn.down, conn.upstream.get(), conn.upstream_in,
                                   conn.client.get(), conn.client_out);
  maybe_grow(conn, true);
  return progress;
}

void RelayEngine::maybe_grow(Conn& conn, bool down) {
  // Most relayed connections (API calls, metadata) move a few KiB and never need more than the
  // default 64 KiB pipe; a download does, because each splice moves at most one pipe's worth
  // (fewer bytes when the socket hands over small fragments, one pipe slot each). So only a
  // direction that has already moved grow_after_bytes gets a larger pipe, and at most
  // max_grown_pipes at once: the pipes of a flood of idle or slow relays pin at most
  // max_relays × 2 × 64 KiB, plus max_grown_pipes × grown_pipe_bytes.
  Direction& d = down ? conn.down : conn.up;
  if (d.grown || d.done || !d.pipe_w.valid() || d.moved < limits_.grow_after_bytes ||
      d.pipe_size >= limits_.grown_pipe_bytes) {
    return;
  }
  d.grown = true;  // tried once, whatever happens
  if (grown_pipes_.fetch_add(1) >= limits_.max_grown_pipes) {
    --grown_pipes_;
    d.grown = false;
    d.moved = 0;  // ask again after another grow_after_bytes
    return;
  }
  int size = ::fcntl(d.pipe_w.get(), F_SETPIPE_SZ, static_cast<int>(limits_.grown_pipe_bytes));
  if (size > 0) {
    d.pipe_size = static_cast<size_t>(size);
  } else {
    --grown_pipes_;  // over the user's pipe quota (EPERM): keep the small pipe
    d.moved = 0;
    d.grown = false;
  }
}

bool RelayEngine::flush_out(Conn& conn) {
  while (conn.out_sent < conn.out.size()) {
    if (!conn.upstream_out) return false;
    ssize_t n = ::send(conn.upstream.get(), conn.out.data() + conn.out_sent,
                       conn.out.size() - conn.out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      conn.out_sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      conn.upstream_out = false;
      return false;
    }
    conn.abort();  // the server is gone before it got the checked bytes
    return false;
  }
  conn.out.clear();
  conn.out_sent = 0;
  return true;
}

// Judges the buffered client bytes: moves what may pass into `out`, switches mode, or refuses.
// Returns true when it changed something.
bool RelayEngine::take_client_bytes(Conn& conn) {
  if (conn.in.empty()) return false;
  if (conn.up_mode == UpMode::kDeciding) {
    BindingDecision d = decide_binding(conn.in, conn.name);
    if (d.binding == Binding::kNeedMore) {
      if (conn.in.size() < limits_.max_head_bytes) return false;
      d = refused(d.protocol, "no complete ClientHello or request head within the first " +
                                  std::to_string(limits_.max_head_bytes) + " bytes");
    }
    if (conn.hook) conn.hook(d);
    if (d.binding == Binding::kRefused) {
      conn.abort();
      return true;
    }
    if (d.protocol == "http") {
      conn.up_mode = UpMode::kHttp;
      conn.http.emplace(conn.name);
      return true;
    }
    conn.up_mode = UpMode::kSplice;
    conn.out = std::move(conn.in);
    conn.in.clear();
    return true;
  }
  if (conn.up_mode != UpMode::kHttp) return false;
  HttpRequestStream::Step step = conn.http->next(conn.in);
  switch (step.action) {
    case HttpRequestStream::Action::kNeedMore:
      return false;
    case HttpRequestStream::Action::kRefuse:
      if (conn.hook) conn.hook(step.decision);
      conn.abort();
      return true;
    case HttpRequestStream::Action::kRaw:
      conn.up_mode = UpMode::kSplice;
      [[fallthrough]];
    case HttpRequestStream::Action::kForward:
      conn.out.assign(conn.in.begin(), conn.in.begin() + static_cast<long>(step.bytes));
      conn.in.erase(conn.in.begin(), conn.in.begin() + static_cast<long>(step.bytes));
      return true;
  }
  return false;
}

bool RelayEngine::pump_up(Conn& conn) {
  if (conn.up.done) return false;
  bool progress = false;
  while (!conn.dead) {
    if (!conn.out.empty()) {
      if (!flush_out(conn)) return progress;  // EAGAIN: the upstream's EPOLLOUT edge resumes us
      progress = true;
      continue;
    }
    if (conn.up_mode == UpMode::kSplice) {
      return splice_direction(conn.up, conn.client.get(), conn.client_in, conn.upstream.get(),
                              conn.upstream_out) ||
             progress;
    }
    if (take_client_bytes(conn)) {
      progress = true;
      continue;
    }
    // Read more only now that `out` is empty: a server that reads slowly slows the client
    // down instead of growing our buffer.
    if (!conn.client_in) return progress;
    std::uint8_t chunk[kReadChunk];
    ssize_t n = ::recv(conn.client.get(), chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n > 0) {
      conn.in.insert(conn.in.end(), chunk, chunk + n);
      progress = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      conn.client_in = false;
      return progress;
    }
    // End of the client's stream (or a reset).
    if (conn.up_mode == UpMode::kHttp && conn.http->at_request_boundary() && n == 0) {
      ::shutdown(conn.upstream.get(), SHUT_WR);  // between requests: a clean half-close
      conn.up.done = true;
      return true;
    }
    if (conn.up_mode == UpMode::kDeciding && conn.hook) {
      conn.hook(refused(conn.in.empty() ? "" : decide_binding(conn.in, conn.name).protocol,
                        conn.in.empty() ? "the client closed without sending anything"
                                        : "the client stopped before its first request or "
                                          "ClientHello was complete"));
    }
    conn.abort();
    return true;
  }
  return progress;
}

void RelayEngine::close_conn(std::uint64_t id) {
  auto it = table_->conns.find(id);
  if (it == table_->conns.end()) return;
  if (it->second->up.grown) --grown_pipes_;
  if (it->second->down.grown) --grown_pipes_;
  table_->conns.erase(it);  // closing the sockets also takes them out of the epoll set
  --active_;
}

void RelayEngine::expire_deadlines() {
  const auto now = Clock::now();
  auto& fifo = table_->deadlines;
  while (!fifo.empty() && fifo.front().first <= now) {
    const std::uint64_t id = fifo.front().second;
    fifo.pop_front();
    auto it = table_->conns.find(id);
    if (it == table_->conns.end() || it->second->up_mode != UpMode::kDeciding) continue;
    Conn& conn = *it->second;
    if (conn.hook) {
      conn.hook(refused("", conn.in.empty()
                                ? "the client sent nothing within the first-bytes deadline"
                                : "the client did not complete its first request or "
                                  "ClientHello within the first-bytes deadline"));
    }
    conn.abort();
    close_conn(id);
  }
}

int RelayEngine::next_timeout_ms() {
  // Skip entries of connections already decided or gone, so an idle loop sleeps for good.
  auto& fifo = table_->deadlines;
  while (!fifo.empty()) {
    auto it = table_->conns.find(fifo.front().second);
    if (it != table_->conns.end() && it->second->up_mode == UpMode::kDeciding) break;
    fifo.pop_front();
  }
  if (fifo.empty()) return -1;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(fifo.front().first - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count()) + 1;
}

}  // namespace moat::gate
