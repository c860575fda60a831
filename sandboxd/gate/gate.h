// The network gate's supervisor side: serves the DNS stub's sockets and the seccomp notifications
// for connect(), on a thread of its own, deciding with the Allowlist and logging every decision.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sandboxd/gate/allowlist.h"
#include "sandboxd/gate/relay_engine.h"
#include "sandboxd/gate/socket_owner.h"
#include "sandboxd/report/event_log.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::gate {

class Gate {
 public:
  Gate(Allowlist allowlist, report::EventLog& events);
  ~Gate();
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  void set_dns_sockets(sys::UniqueFd udp, sys::UniqueFd tcp_listener);
  void set_notify_listener(sys::UniqueFd listener);
  // The sandbox's pid 1 (outside view), to attribute DNS queries to the process that asked.
  // Call before releasing the sandbox (see SocketOwners::open).
  void set_sandbox_pid(pid_t pid) { owners_.open(pid); }
  // Starts serving once every descriptor is set. Idempotent.
  void start();
  // Stops serving and waits (bounded) for connects in progress.
  void stop();

 private:
  void loop();
  void on_notification();
  void log_connect(report::Event event);  // fills in the executable when not known yet
  void on_udp_query();
  void on_tcp_accept();
  bool on_tcp_readable(int fd, std::vector<uint8_t>& buffer);  // false: close it
  std::vector<uint8_t> answer_query(std::span<const uint8_t> packet, bool tcp, pid_t pid);
  // Runs `work` on a worker thread (a connect or an upstream lookup may block); false, and
  // `work` not run, when kMaxWorkers are busy.
  template <typename F>
  bool spawn(F work);

  Allowlist allowlist_;
  std::mutex allowlist_mu_;
  report::EventLog& events_;
  sys::UniqueFd udp_, tcp_listener_, notify_, wake_;
  SocketOwners owners_;  // set before start(), read-only afterwards
  // Relays the connections allowed by a host name (made at start(); null, with the reason in
  // relay_error_, when the host's loopback is unusable: such connects then fail).
  std::unique_ptr<RelayEngine> relay_;
  std::string relay_error_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex workers_mu_;
  std::condition_variable workers_cv_;
  int workers_ = 0;
};

}  // namespace moat::gate
