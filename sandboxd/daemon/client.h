// The client side of sandboxd (used by `moat run`): connect, check the protocol version,
// register the sandbox's cgroup and receive its ring, ask for the loss count at the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policy/result.h"
#include "sandboxd/daemon/protocol.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::daemon {

// $MOAT_SANDBOXD_SOCKET, else kDefaultSocket.
std::string socket_path();

struct DelegatedCgroup {
  sys::UniqueFd v2;         // the cgroup v2 directory (watch, cgroup.kill, memory.max if v2 has it)
  sys::UniqueFd v1_memory;  // a v1 memory cgroup directory with the limit, or none
};

// A connection the daemon's kernel name check refused (connection 0: none left).
struct NameRefusal {
  std::uint64_t connection = 0;
  unsigned reason = 0;    // MOAT_BIND_* of bpf/name_binding.h
  unsigned protocol = 0;  // MOAT_BIND_PROTO_*
  std::string seen;       // the SNI the client sent (at most 127 bytes)
};

struct DaemonStatus {
  std::uint64_t sandboxes = 0;         // registered in all
  std::uint64_t sandboxes_of_uid = 0;  // registered by the caller's uid
};

class Client {
 public:
  // Connects and says hello without waiting: the answer is read with the next request's (one
  // round trip per run saved; each wakes the daemon, which costs most when the machine is busy).
  // kNotFound when no daemon listens there (no socket, refused): the caller loads in-process.
  // A daemon of another protocol version makes the next call fail with kUnsupported.
  static Result<Client> connect(const std::string& path);

  // The connection: readable or hung up when the daemon went away (it never writes unasked).
  int fd() const { return fd_.get(); }

  // Registers the cgroup whose v2 directory CGROUP_FD is open; returns the sandbox's ring.
  // The daemon deletes the registration when this connection closes.
  Result<sys::UniqueFd> register_sandbox(int cgroup_fd, std::uint32_t ring_bytes);
  // Asks for the loss count now (the sandbox is gone: it is final) and reads the answer in
  // lost(), so the daemon answers while moat drains the ring.
  Status request_lost();
  // Unprivileged callers: a cgroup v2 the daemon made for this connection and delegated to the
  // caller (removed when the connection closes); its directory's fd. Then join(child) moves a
  // child of ours into it, which we may not do ourselves.
  Result<DelegatedCgroup> make_cgroup(std::uint64_t memory_bytes = 0);
  Status join(pid_t child);
  Result<std::uint64_t> lost();
  // Whether the daemon offers FEATURE (kFeature*); reads the hello's answer if still pending.
  bool offers(std::uint64_t feature);
  // Puts SOCK (connected TCP) under the daemon's kernel name check for NAME (lowercase); the
  // daemon's number for the connection. Refusals are then read with next_name_refusal().
  Result<std::uint64_t> bind_name(int sock, std::string_view name);
  Result<NameRefusal> next_name_refusal();
  Result<DaemonStatus> status();

 private:
  Client(sys::UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Status send(const Request& request, int send_fd);
  Result<ReplyWire> receive(sys::UniqueFd* received, sys::UniqueFd* received2 = nullptr);
  // A reply that is not kOk, as an error: WHAT (the status): the daemon's message, its errno.
  static Error refusal(const ReplyWire& reply, const std::string& what,
                       ErrorCode code = ErrorCode::kUnsupported);
  // The hello's answer, if not read yet: the daemon's version and features.
  Status finish_hello();
  // One request, one reply (with at most one descriptor).
  Result<ReplyWire> call(const Request& request, int send_fd, sys::UniqueFd* received,
                         sys::UniqueFd* received2 = nullptr);

  sys::UniqueFd fd_;
  std::string path_;
  bool hello_pending_ = false;
  bool lost_pending_ = false;
  std::uint64_t features_ = 0;
};

}  // namespace moat::daemon
