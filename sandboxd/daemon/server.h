// sandboxd's server: a unix socket (SOCK_SEQPACKET) served by one epoll loop. Each connection
// may register one sandbox; the registration lives as long as the connection (a SIGKILLed moat
// frees it: the kernel closes the socket). Clients are authenticated by SO_PEERCRED and are not
// trusted: every request is validated (protocol.h), every limit is per uid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "policy/result.h"
#include "sandboxd/bpf_net/name_binding.h"
#include "sandboxd/daemon/protocol.h"
#include "sandboxd/sys/unique_fd.h"
#include "sandboxd/watch/shared_watch.h"

namespace moat::daemon {

struct ServerOptions {
  std::string socket_path = kDefaultSocket;
  std::uint32_t max_sandboxes = 1024;  // in all (the BPF maps' size)
  std::uint32_t max_sandboxes_per_uid = 64;
  std::uint64_t max_ring_bytes_per_uid = 512ull << 20;
  std::uint32_t max_connections_per_uid = 128;
  // Connections under the kernel name check at once, per uid (the map holds 4096 in all; a
  // client beyond it is refused, and its gate relays instead).
  std::uint32_t max_bound_per_uid = 1024;
  // Where delegated cgroups are made (kCgroup): a directory of the cgroup v2 mount, created at
  // start. Empty: no cgroup v2 here, kCgroup fails.
  std::string cgroup_root;
  // The same in the v1 memory hierarchy (hybrid hosts: v2 lacks the memory controller). Empty:
  // none, a memory limit is then refused unless v2 has the controller.
  std::string v1_memory_root;
};

class Server {
 public:
  // Binds the socket (its directory made 0755, the socket 0666: any user may ask; what it may
  // do is decided per request). Refuses when another daemon answers on the path.
  static Result<Server> listen(watch::SharedWatch& watch, const ServerOptions& options);
  Server(Server&&) noexcept = default;
  ~Server();

  // Serves until SIGTERM or SIGINT (taken by a signalfd; block them before calling).
  Status serve();
  // Registrations accepted since start (sandboxd prints it at exit; tests check it).
  std::uint64_t served() const { return served_; }

 private:
  struct Connection {
    sys::UniqueFd fd;
    uid_t uid = 0;
    pid_t pid = 0;
    std::uint64_t cgroup_id = 0;  // registered sandbox, 0 when none
    std::uint32_t ring_bytes = 0;
    std::uint32_t ring_map_id = 0;  // the ring's BPF map, to tell when it is freed
    gid_t gid = 0;
    std::string cgroup_path;  // the cgroup made for it (kCgroup), empty when none
    std::uint64_t made_cgroup_id = 0;
    std::string v1_memory_path;  // its v1 memory cgroup, empty when none
    std::set<std::uint64_t> bound;  // its connections under the name check, verdict not yet in
    std::deque<gate::KernelVerdict> refusals;  // not yet asked for (kNameRefusal)
  };
  struct Usage {
    std::uint32_t connections = 0;
    std::uint32_t cgroups = 0;
    std::uint32_t sandboxes = 0;
    std::uint64_t ring_bytes = 0;
    std::uint32_t bound = 0;
  };

  Server(watch::SharedWatch& watch, ServerOptions options)
      : watch_(&watch), options_(std::move(options)) {}
  void accept_one();
  void handle(Connection& c);  // one request, one reply; drops the connection when it fails
  void drop(int fd);
  ReplyWire do_register(Connection& c, const Request& request, int cgroup_fd, sys::UniqueFd* ring);
  ReplyWire do_cgroup(Connection& c, std::uint64_t memory_bytes, sys::UniqueFd* dir,
                      sys::UniqueFd* memory_dir);
  ReplyWire do_join(Connection& c, pid_t pid);
  ReplyWire do_bind_name(Connection& c, const std::string& name, int sock);
  ReplyWire do_name_refusal(Connection& c);
  // Verdicts of the name check: passed ones are out of the map already; refusals are queued
  // for the connection that bound them.
  void on_name_verdicts();
  // Forgets a bound connection (verdict in, or closed without one).
  void unbind(Connection& c, std::uint64_t id);
  // Kills what is left in a cgroup we made (and in any cgroup the caller made below it) and
  // removes them, now or at a later pass. Until it is gone it counts against UID's cgroups
  // (when COUNTED): a caller that keeps a descriptor on the cgroup and adds processes to it
  // after the kill gets them killed at the next pass, and cannot leak cgroups past its limit.
  void retire_cgroup(const std::string& path, uid_t uid, bool counted);
  void sweep_retired();
  // The uid's entry leaves usage_ once nothing of it is left: connections, cgroups being
  // retired, sockets still under the name check.
  void release_usage(uid_t uid);

  watch::SharedWatch* watch_;
  ServerOptions options_;
  sys::UniqueFd listen_fd_, epoll_fd_, signal_fd_;
  std::map<int, Connection> connections_;
  std::map<uid_t, Usage> usage_;
  bool unlink_at_exit_ = false;
  std::uint64_t served_ = 0;
  std::uint64_t cgroup_seq_ = 0;
  struct Retired {
    std::string path;
    uid_t uid = 0;
    bool counted = false;  // counts against the uid's cgroups until removed
  };
  std::vector<Retired> retired_;
  // Rings of connections gone whose map still exists: the client may keep the descriptor or
  // the mapping (the kernel charges the memory to sandboxd), so they count against the uid's
  // ring bytes until the kernel frees them.
  struct RetiredRing {
    uid_t uid = 0;
    std::uint32_t map_id = 0;
    std::uint32_t bytes = 0;
  };
  std::vector<RetiredRing> retired_rings_;
  bool sweep_due() const { return !retired_.empty() || !retired_rings_.empty(); }
  std::chrono::steady_clock::time_point last_sweep_{};
  // Sockets still under the name check whose client connection is gone: they keep counting
  // against their uid (usage.bound) until the kernel map no longer holds them.
  std::map<uid_t, std::vector<std::uint64_t>> orphan_bound_;
  // The kernel name check (null where it cannot load): one program for every client.
  std::unique_ptr<bpfnet::NameCheck> name_check_;
  std::uint64_t next_binding_ = 0;
  std::map<std::uint64_t, int> binding_owner_;  // connection number -> client connection (fd)
};

}  // namespace moat::daemon
