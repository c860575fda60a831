// The sandboxd wire protocol: fixed-size binary messages over a SOCK_SEQPACKET unix socket, one
// request -> one reply, a version in every message. Pure (no I/O): the daemon parses untrusted
// clients' bytes here, so this file is what the fuzz target exercises.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace moat::daemon {

inline constexpr std::uint32_t kMagic = 0x54414f4d;  // "MOAT" little-endian: any other is junk
inline constexpr std::uint16_t kProtocolVersion = 1;
inline constexpr char kDefaultSocket[] = "/run/moat/sandboxd.sock";

// Bounds of a ring a client may ask for: powers of two, whole pages.
inline constexpr std::uint32_t kMinRingBytes = 4096;
inline constexpr std::uint32_t kMaxRingBytes = 256u << 20;

enum class Op : std::uint16_t {
  kHello = 1,     // -> value: kFeature* bits the daemon gives
  kRegister = 2,  // + one fd (the sandbox's cgroup v2 directory) -> the ring's fd
  kLost = 3,      // -> value: records of this connection's sandbox the kernel lost
  kStatus = 4,    // -> value: sandboxes registered in all; value2: those of the caller's uid
  // For unprivileged callers: a cgroup v2 made by the daemon for this connection, owned by the
  // caller (delegated), under the daemon's own subtree -> its directory's fd. It may then be
  // registered, and is killed and removed when the connection closes. arg = a memory limit in
  // bytes (0: none): where v2 lacks the memory controller (hybrid hosts) a v1 memory cgroup
  // with that limit comes too, its second fd, with `tasks` owned by the caller (value bit 0).
  kCgroup = 5,
  // arg = a pid: move the caller's own child (its parent is the caller, same uid) into that
  // cgroup. The caller cannot: a move needs write access to the common ancestor's cgroup.procs.
  kJoin = 6,
  // + one fd (a connected TCP socket, not yet handed to the sandbox) and, after the request, the
  // name it was allowed for (1-253 bytes, lowercase DNS name): put it under the kernel name
  // check (kFeatureNameCheck) -> value: the daemon's number for the connection.
  kBindName = 7,
  // -> the next refusal of a connection bound by this connection: value its number (0: none
  // left), value2 reason << 8 | protocol (bpf/name_binding.h), message the SNI seen.
  kNameRefusal = 8,
};

enum class ReplyStatus : std::uint16_t {
  kOk = 0,
  kMalformed = 1,  // size, magic, unknown op, reserved bits, wrong number of fds
  kVersion = 2,    // the request's version is not ours; the reply carries ours
  kDenied = 3,     // the caller may not do this (not its cgroup)
  kLimit = 4,      // per-uid limit reached (sandboxes, ring bytes) or the daemon is full
  kFailed = 5,     // a system call failed; err says which errno
  kState = 6,      // not valid now (a second register on one connection, lost before register)
};

inline constexpr std::uint64_t kFeatureWatch = 1;
inline constexpr std::uint64_t kFeatureNameCheck = 2;
inline constexpr std::size_t kMaxBoundName = 253;

// On the wire (host byte order: both ends are on this machine).
struct RequestWire {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t op;
  std::uint64_t arg;  // kRegister: ring bytes; kJoin: pid; kCgroup: memory bytes; else 0
};
static_assert(sizeof(RequestWire) == 16);

struct ReplyWire {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t status;  // ReplyStatus
  std::int32_t err;      // errno for kFailed / kDenied, else 0
  std::uint32_t reserved;
  std::uint64_t value;
  std::uint64_t value2;
  char message[128];  // NUL-terminated, for people
};
static_assert(sizeof(ReplyWire) == 160);

struct Request {
  Request(Op op_ = Op::kHello, std::uint64_t arg_ = 0, std::string name_ = {})
      : op(op_), arg(arg_), name(std::move(name_)) {}
  Op op;
  std::uint64_t arg;  // as RequestWire::arg
  std::string name;   // kBindName: the bytes after the RequestWire
};

inline constexpr std::uint64_t kMaxMemoryLimit = 1ull << 50;
inline constexpr std::uint64_t kCgroupHasV1Memory = 1;  // kCgroup reply value bit

struct ParseError {
  ReplyStatus status;
  std::string message;
};

inline constexpr std::uint32_t kMaxPid = 4194304;  // PID_MAX_LIMIT

// Validates a received message: SIZE bytes at DATA, FDS descriptors came with it, TRUNCATED when
// the kernel cut the data or the control message. Exactly one fd with kRegister and kBindName,
// none otherwise; only kBindName has bytes after the RequestWire.
struct Parsed {
  std::optional<Request> request;
  std::optional<ParseError> error;
};
Parsed parse_request(const void* data, std::size_t size, std::size_t fds, bool truncated);

RequestWire encode_request(const Request& request);
// The whole message: the RequestWire, then request.name's bytes.
std::string encode_message(const Request& request);
ReplyWire make_reply(ReplyStatus status, std::string_view message, int err = 0,
                     std::uint64_t value = 0, std::uint64_t value2 = 0);
// Client side: a reply is ours and well-formed (size, magic, NUL-terminated message).
bool valid_reply(const void* data, std::size_t size);
const char* reply_status_name(ReplyStatus status);

}  // namespace moat::daemon
