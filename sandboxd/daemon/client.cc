// The client side of sandboxd. See client.h.
#include "sandboxd/daemon/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace moat::daemon {
namespace {

constexpr char kHint[] = "is sandboxd running? (`moat doctor`; README: sandboxd)";

}  // namespace

std::string socket_path() {
  const char* env = std::getenv("MOAT_SANDBOXD_SOCKET");
  return env != nullptr && env[0] != '\0' ? env : kDefaultSocket;
}

Result<Client> Client::connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kInvalidArgument, "sandboxd socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  sys::UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return syscall_error("connecting to sandboxd", "socket", "AF_UNIX", errno);
  // A stopped or wedged daemon must not hang every run: each reply has two seconds.
  timeval timeout{2, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Error e = syscall_error("connecting to sandboxd", "connect", path, errno, kHint);
    const int err = errno;
    // No daemon: no socket, a stale one, or a directory this user cannot enter (root's
    // /run/moat holds the per-boot BTF cache without a daemon: 0700). Only a socket that is
    // there but refuses this user is worth a warning.
    const std::string dir = path.substr(0, std::max<std::size_t>(path.rfind('/'), 1));
    if (err == ENOENT || err == ECONNREFUSED || (err == EACCES && ::access(dir.c_str(), X_OK) != 0)) {
      e.code = ErrorCode::kNotFound;
    }
    return e;
  }
  // The ring it hands over is the account of the run: only a root daemon is believed (the path
  // may come from the environment; the default directory is root's).
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || peer.uid != 0) {
    return make_error(ErrorCode::kUnsupported,
                      "the daemon at " + path + " does not run as root (uid " +
                          std::to_string(peer.uid) + "): not trusted",
                      "start sandboxd as root, or unset MOAT_SANDBOXD_SOCKET");
  }
  Client client(std::move(fd), path);
  if (Status st = client.send(Request{Op::kHello, 0}, -1); !st) return st.error();
  client.hello_pending_ = true;
  return client;
}

Status Client::finish_hello() {
  if (!hello_pending_) return {};
  hello_pending_ = false;
  auto hello = receive(nullptr);
  if (!hello) return hello.error();
  if (hello->version != kProtocolVersion ||
      static_cast<ReplyStatus>(hello->status) != ReplyStatus::kOk) {
    return make_error(ErrorCode::kUnsupported,
                      "sandboxd at " + path_ + " speaks protocol version " +
                          std::to_string(hello->version) + ", this moat " +
                          std::to_string(kProtocolVersion) + ": " + hello->message,
                      "restart sandboxd from the same build as moat");
  }
  features_ = hello->value;
  return {};
}

Status Client::send(const Request& request, int send_fd) {
  std::string wire = encode_message(request);
  iovec iov{wire.data(), wire.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (send_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
  }
  if (::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(wire.size())) {
    return syscall_error("talking to sandboxd", "sendmsg", "", errno, kHint);
  }
  return {};
}

Result<ReplyWire> Client::call(const Request& request, int send_fd, sys::UniqueFd* received,
                               sys::UniqueFd* received2) {
  if (Status st = send(request, send_fd); !st) return st.error();
  if (Status st = finish_hello(); !st) return st.error();
  return receive(received, received2);
}

Result<ReplyWire> Client::receive(sys::UniqueFd* received, sys::UniqueFd* received2) {
  ReplyWire reply{};
  iovec riov{&reply, sizeof reply};
  msghdr rmsg{};
  rmsg.msg_iov = &riov;
  rmsg.msg_iovlen = 1;
  alignas(cmsghdr) char rcontrol[CMSG_SPACE(sizeof(int) * 4)] = {};
  rmsg.msg_control = rcontrol;
  rmsg.msg_controllen = sizeof rcontrol;
  ssize_t n = ::recvmsg(fd_.get(), &rmsg, MSG_CMSG_CLOEXEC);
  int err = errno;
  // Take every descriptor that came, so none leaks whatever the reply says.
  for (cmsghdr* c = CMSG_FIRSTHDR(&rmsg); c != nullptr; c = CMSG_NXTHDR(&rmsg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int got = -1;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      sys::UniqueFd owned(got);
      if (received != nullptr && !received->valid()) {
        *received = std::move(owned);
      } else if (received2 != nullptr && !received2->valid()) {
        *received2 = std::move(owned);
      }
    }
  }
  if (n < 0) return syscall_error("waiting for sandboxd's answer", "recvmsg", "", err, kHint);
  if (n == 0) {
    return make_error(ErrorCode::kSyscall, "sandboxd closed the connection", kHint);
  }
  if (!valid_reply(&reply, static_cast<std::size_t>(n)) || (rmsg.msg_flags & MSG_CTRUNC) != 0) {
    return make_error(ErrorCode::kInternal, "sandboxd sent a malformed reply");
  }
  return reply;
}

Result<sys::UniqueFd> Client::register_sandbox(int cgroup_fd, std::uint32_t ring_bytes) {
  sys::UniqueFd ring;
  auto reply = call(Request{Op::kRegister, ring_bytes}, cgroup_fd, &ring);
  if (!reply) return reply.error();
  if ((features_ & kFeatureWatch) == 0) {
    return make_error(ErrorCode::kUnsupported, "sandboxd at " + path_ + " offers no watch");
  }
  const auto status = static_cast<ReplyStatus>(reply->status);
  if (status != ReplyStatus::kOk || !ring.valid()) {
    return refusal(*reply, "sandboxd refused to watch the sandbox",
                   status == ReplyStatus::kDenied ? ErrorCode::kUnsupported : ErrorCode::kSyscall);
  }
  return ring;
}

Error Client::refusal(const ReplyWire& reply, const std::string& what, ErrorCode code) {
  Error e =
      make_error(code, what + " (" + reply_status_name(static_cast<ReplyStatus>(reply.status)) +
                           "): " + reply.message);
  e.err = reply.err;
  return e;
}

Result<DelegatedCgroup> Client::make_cgroup(std::uint64_t memory_bytes) {
  DelegatedCgroup made;
  auto reply = call(Request{Op::kCgroup, memory_bytes}, -1, &made.v2, &made.v1_memory);
  if (!reply) return reply.error();
  const bool want_v1 = (reply->value & kCgroupHasV1Memory) != 0;
  if (static_cast<ReplyStatus>(reply->status) != ReplyStatus::kOk || !made.v2.valid() ||
      want_v1 != made.v1_memory.valid()) {
    return refusal(*reply, "sandboxd made no cgroup for us");
  }
  return made;
}

Status Client::join(pid_t child) {
  auto reply = call(Request{Op::kJoin, static_cast<std::uint32_t>(child)}, -1, nullptr);
  if (!reply) return reply.error();
  if (static_cast<ReplyStatus>(reply->status) != ReplyStatus::kOk) {
    Error e =
        make_error(ErrorCode::kUnsupported, std::string("sandboxd did not move pid ") +
                                                std::to_string(child) + ": " + reply->message);
    e.err = reply->err;
    return e;
  }
  return {};
}

Status Client::request_lost() {
  if (lost_pending_) return {};
  if (Status st = send(Request{Op::kLost, 0}, -1); !st) return st.error();
  lost_pending_ = true;
  return {};
}

Result<std::uint64_t> Client::lost() {
  Result<ReplyWire> reply = make_error(ErrorCode::kInternal, "");
  if (lost_pending_) {
    lost_pending_ = false;
    reply = receive(nullptr);
  } else {
    reply = call(Request{Op::kLost, 0}, -1, nullptr);
  }
  if (!reply) return reply.error();
  if (static_cast<ReplyStatus>(reply->status) != ReplyStatus::kOk) {
    return make_error(ErrorCode::kInternal, std::string("sandboxd: ") + reply->message);
  }
  return reply->value;
}

Result<DaemonStatus> Client::status() {
  auto reply = call(Request{Op::kStatus, 0}, -1, nullptr);
  if (!reply) return reply.error();
  if (static_cast<ReplyStatus>(reply->status) != ReplyStatus::kOk) {
    return make_error(ErrorCode::kInternal, std::string("sandboxd: ") + reply->message);
  }
  return DaemonStatus{reply->value, reply->value2};
}

Result<std::uint64_t> Client::bind_name(int sock, std::string_view name) {
  auto reply = call(Request{Op::kBindName, 0, std::string(name)}, sock, nullptr);
  if (!reply) return reply.error();
  if ((features_ & kFeatureNameCheck) == 0) {
    return make_error(ErrorCode::kUnsupported, "sandboxd at " + path_ + " offers no name check");
  }
  if (static_cast<ReplyStatus>(reply->status) != ReplyStatus::kOk) {
    return refusal(*reply, "sandboxd did not put the connection under the name check");
  }
  return reply->value;
}

Result<NameRefusal> Client::next_name_refusal() {
  auto reply = call(Request{Op::kNameRefusal}, -1, nullptr);
  if (!reply) return reply.error();
  if (static_cast<ReplyStatus>(reply->status) != ReplyStatus::kOk) {
    return make_error(ErrorCode::kUnsupported, std::string("sandboxd: ") + reply->message);
  }
  return NameRefusal{reply->value, static_cast<unsigned>(reply->value2 >> 8),
                     static_cast<unsigned>(reply->value2 & 0xff), reply->message};
}

bool Client::offers(std::uint64_t feature) {
  if (!finish_hello().ok()) return false;
  return (features_ & feature) != 0;
}

}  // namespace moat::daemon
