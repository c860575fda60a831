// The network gate's supervisor side: serves the DNS stub's sockets and the seccomp notifications
// for connect(), on a thread of its own, deciding with the Allowlist and logging every decision.
#pragma once

#include <linux/seccomp.h>
#include <netinet/in.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "sandboxd/gate/allowlist.h"
#include "sandboxd/gate/kernel_binding.h"
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
  // Notifications for calls other than connect() (the supervisor's file-change report) go here;
  // without a handler they are answered CONTINUE.
  void set_other_notifications(std::function<void(int notify_fd, const seccomp_notif&)> handler) {
    other_notifications_ = std::move(handler);
  }
  // No network namespace (tier landlock): the DNS sockets are on the HOST's loopback, so loopback
  // is not the sandbox's own (refused like any special address), and a connect() to port 53 of
  // any address gets a socket connected to the stub instead. Call after set_dns_sockets().
  void use_host_network();
  // Called (on the gate's threads, before the answer is sent) with each address and port the
  // stub's answer makes connectable (std::nullopt = any port): the in-kernel layer mirrors them.
  using HandoutHook = std::function<void(const IpAddress&, std::optional<std::uint16_t>)>;
  void set_handout_hook(HandoutHook hook) { handout_hook_ = std::move(hook); }
  // How to load the kernel name check (kernel_binding.h). It is loaded on a thread of its own
  // once the stub is first asked an allowed name (a run that reaches no host pays nothing), and
  // a name-bound HTTPS connect waits for it (bounded); when it cannot be loaded those
  // connections are relayed instead (just as strict, slower).
  using KernelBindingLoader = std::function<Result<std::unique_ptr<KernelBinding>>()>;
  void set_kernel_binding_loader(KernelBindingLoader load) { kernel_loader_ = std::move(load); }
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
  // A refused name binding (relay or kernel), as a "refused" event after the "allowed" one.
  void log_binding_refusal(report::Event event, const BindingDecision& decision);
  // The kernel name check once its load is over (null when there is none); waits for the load.
  KernelBinding* kernel_binding();
  void start_kernel_load();  // once; a no-op without a loader or once stopping
  void on_kernel_verdicts();
  // Remembers the connect event of a connection under the kernel check, for its verdict.
  void await_kernel_verdict(std::uint64_t connection, report::Event event);
  void on_udp_query();
  void on_tcp_accept();
  bool on_tcp_readable(int fd, std::vector<uint8_t>& buffer);  // false: close it
  std::vector<uint8_t> answer_query(std::span<const uint8_t> packet, bool tcp, pid_t pid);
  // Tier landlock: hands the sandbox a socket connected to the stub in place of SOCKFD.
  void redirect_to_stub(std::uint64_t id, pid_t pid, int sockfd);
  pid_t dns_asker(std::uint16_t local_port, bool tcp);
  // Runs `work` on a worker thread (a connect or an upstream lookup may block); false, and
  // `work` not run, when kMaxWorkers are busy.
  template <typename F>
  bool spawn(F work);

  Allowlist allowlist_;
  std::mutex allowlist_mu_;
  report::EventLog& events_;
  sys::UniqueFd udp_, tcp_listener_, notify_, wake_;
  SocketOwners owners_;  // set before start(), read-only afterwards
  bool host_network_ = false;
  // The sandbox's network namespace (SO_NETNS_COOKIE of the stub's socket, made there): only a
  // socket living in it may connect without the broker (its loopback, unix sockets, AF_UNSPEC).
  // The sockets the gate hands over live in the host's: reconnected, they would reach it.
  std::uint64_t sandbox_netns_cookie_ = 0;
  // The caller's SOCKFD as the gate checked it: a duplicate of the socket (error 0) when it lives
  // in the sandbox's network namespace; else why not: EBADF, ENOTSOCK, or EACCES (a socket living
  // outside, or the sandbox's namespace is not known).
  struct CheckedSocket {
    sys::UniqueFd fd;
    int error = 0;
  };
  CheckedSocket sandbox_socket(pid_t pid, int sockfd) const;
  // Tier full: the caller's bind() or listen(), performed here on the socket checked.
  void on_bind_or_listen(const seccomp_notif& req);
  // A connect() to the sandbox's loopback, performed here on the socket checked. A blocking one
  // runs on a worker; stop() shuts those down.
  void connect_inside(std::uint64_t id, CheckedSocket checked, const sockaddr_storage& ss,
                      socklen_t len);
  // A call refused because its socket is one the gate handed over (or not the sandbox's).
  void refuse_foreign_socket(std::uint64_t id, pid_t pid, const char* call,
                             const sockaddr_storage* ss);
  sockaddr_in stub_tcp_{}, stub_udp_{};  // with host_network_: where port 53 goes
  HandoutHook handout_hook_;
  std::mutex askers_mu_;
  std::map<std::pair<std::uint16_t, bool>, pid_t> dns_askers_;  // (local port, tcp) -> pid
  // Relays the connections allowed by a host name (made at start(); null, with the reason in
  // relay_error_, when the host's loopback is unusable: such connects then fail).
  std::unique_ptr<RelayEngine> relay_;
  std::string relay_error_;
  std::function<void(int, const seccomp_notif&)> other_notifications_;
  KernelBindingLoader kernel_loader_;
  std::thread kernel_loader_thread_;
  std::mutex kernel_mu_;
  std::condition_variable kernel_cv_;
  bool kernel_loaded_ = false;                         // the load is over (whatever its outcome)
  std::unique_ptr<KernelBinding> kernel_binding_;      // set once, before kernel_loaded_
  std::atomic<KernelBinding*> kernel_ready_{nullptr};  // kernel_binding_ once loaded, for the loop
  std::mutex verdicts_mu_;
  std::map<std::uint64_t, report::Event> awaiting_verdict_;  // connection -> its connect event
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex workers_mu_;
  std::condition_variable workers_cv_;
  int workers_ = 0;
  std::set<int> blocking_connects_;  // connect_inside's sockets in a worker's connect()
};

}  // namespace moat::gate
