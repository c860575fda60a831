// sandboxd's server: socket, epoll loop, per-connection registrations. See server.h.
#include "sandboxd/daemon/server.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace moat::daemon {
namespace {

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

bool send_reply(int fd, const ReplyWire& reply, int pass_fd) {
  iovec iov{const_cast<ReplyWire*>(&reply), sizeof reply};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  // Non-blocking: a client that does not read its replies loses its connection, not our loop.
  return ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(sizeof reply);
}

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kInvalidArgument, "socket path empty or too long: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

}  // namespace

Result<Server> Server::listen(watch::SharedWatch& watch, const ServerOptions& options) {
  Server server(watch, options);
  const std::string& path = options.socket_path;
  auto addr = unix_address(path);
  if (!addr) return addr.error();
  // The directory: made 0755 if missing (the default /run/moat also holds moat's BTF cache).
  if (std::string::size_type slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return syscall_error("creating the socket's directory", "mkdir", dir, errno);
    }
  }
  // A socket file left by a daemon that died: remove it, unless a daemon still answers there.
  {
    sys::UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (probe.valid() &&
        ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) == 0) {
      return make_error(ErrorCode::kInvalidArgument, "another sandboxd already serves " + path,
                        "stop it first, or pass --socket PATH");
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return make_error(ErrorCode::kInvalidArgument, path + " exists and is not a socket",
                          "remove it or pass --socket PATH");
      }
      ::unlink(path.c_str());
    }
  }
  server.listen_fd_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!server.listen_fd_.valid()) return syscall_error("creating the socket", "socket", "", errno);
  // umask-independent: created 0600 (no client can connect before the chmod), then opened up.
  const mode_t old_mask = ::umask(0177);
  int rc = ::bind(server.listen_fd_.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
  int err = errno;
  ::umask(old_mask);
  if (rc != 0) return syscall_error("binding the socket", "bind", path, err);
  server.unlink_at_exit_ = true;
  if (::chmod(path.c_str(), 0666) != 0) {
    return syscall_error("opening the socket to every user", "chmod", path + ", 0666", errno);
  }
  if (::listen(server.listen_fd_.get(), 64) != 0) {
    return syscall_error("listening", "listen", path, errno);
  }
  server.epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!server.epoll_fd_.valid()) return syscall_error("serving", "epoll_create1", "", errno);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  server.signal_fd_.reset(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!server.signal_fd_.valid()) return syscall_error("serving", "signalfd", "", errno);
  for (int fd : {server.listen_fd_.get(), server.signal_fd_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(server.epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return syscall_error("serving", "epoll_ctl", "EPOLL_CTL_ADD", errno);
    }
  }
  return server;
}

Server::~Server() {
  if (unlink_at_exit_ && listen_fd_.valid()) ::unlink(options_.socket_path.c_str());
  for (auto& [fd, c] : connections_) {
    if (c.cgroup_id != 0) watch_->remove(c.cgroup_id);
  }
}

Status Server::serve() {
  epoll_event events[32];
  for (;;) {
    int n = ::epoll_wait(epoll_fd_.get(), events, 32, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return syscall_error("serving", "epoll_wait", "", errno);
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == signal_fd_.get()) return {};
      if (fd == listen_fd_.get()) {
        accept_one();
        continue;
      }
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;
      if ((events[i].events & EPOLLIN) != 0) {
        handle(it->second);
      } else {
        drop(fd);  // hung up or failed: the registration ends with the connection
      }
    }
  }
}

void Server::accept_one() {
  sys::UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd.valid()) return;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return;
  Usage& usage = usage_[cred.uid];
  if (usage.connections >= options_.max_connections_per_uid ||
      connections_.size() >= options_.max_sandboxes * 2u) {
    (void)send_reply(fd.get(), make_reply(ReplyStatus::kLimit, "too many connections"), -1);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd.get();
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) return;
  ++usage.connections;
  const int key = fd.get();
  connections_[key] = Connection{std::move(fd), cred.uid, cred.pid, 0, 0};
}

void Server::drop(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  Usage& usage = usage_[c.uid];
  if (c.cgroup_id != 0) {
    watch_->remove(c.cgroup_id);
    --usage.sandboxes;
    usage.ring_bytes -= c.ring_bytes;
  }
  --usage.connections;
  if (usage.connections == 0) usage_.erase(c.uid);
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  connections_.erase(it);
}

void Server::handle(Connection& c) {
  alignas(RequestWire) unsigned char buffer[sizeof(RequestWire) + 1];
  iovec iov{buffer, sizeof buffer};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(c.fd.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  // Every descriptor that came is owned here and closed on return, whatever the request.
  std::vector<sys::UniqueFd> fds;
  bool foreign_control = false;
  for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h != nullptr; h = CMSG_NXTHDR(&msg, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
      foreign_control = true;
      continue;
    }
    const std::size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int got = -1;
      std::memcpy(&got, CMSG_DATA(h) + i * sizeof(int), sizeof got);
      fds.emplace_back(got);
    }
  }
  if (n <= 0) {
    drop(c.fd.get());
    return;
  }
  const bool truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || foreign_control;
  Parsed parsed = parse_request(buffer, static_cast<std::size_t>(n), fds.size(), truncated);
  ReplyWire reply{};
  sys::UniqueFd ring;
  if (parsed.error) {
    reply = make_reply(parsed.error->status, parsed.error->message);
  } else {
    const Request& r = *parsed.request;
    switch (r.op) {
      case Op::kHello:
        reply = make_reply(ReplyStatus::kOk, "sandboxd", 0, kFeatureWatch);
        break;
      case Op::kRegister:
        reply = do_register(c, r, fds.front().get(), &ring);
        break;
      case Op::kLost:
        reply = c.cgroup_id == 0
                    ? make_reply(ReplyStatus::kState, "no sandbox registered on this connection")
                    : make_reply(ReplyStatus::kOk, "lost", 0, watch_->lost(c.cgroup_id));
        break;
      case Op::kStatus: {
        auto it = usage_.find(c.uid);
        reply = make_reply(ReplyStatus::kOk, "status", 0, watch_->size(),
                           it == usage_.end() ? 0 : it->second.sandboxes);
        break;
      }
    }
  }
  if (!send_reply(c.fd.get(), reply, ring.get())) drop(c.fd.get());
}

ReplyWire Server::do_register(Connection& c, const Request& request, int cgroup_fd,
                              sys::UniqueFd* ring) {
  if (c.cgroup_id != 0) {
    return make_reply(ReplyStatus::kState, "this connection already registered a sandbox");
  }
  struct statfs fs {};
  struct stat st {};
  if (::fstatfs(cgroup_fd, &fs) != 0 || ::fstat(cgroup_fd, &st) != 0) {
    return make_reply(ReplyStatus::kFailed, "fstat of the descriptor failed", errno);
  }
  if (fs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode)) {
    return make_reply(ReplyStatus::kMalformed, "the descriptor is not a cgroup v2 directory");
  }
  // Root may watch any cgroup (it can load the programs itself). Anyone else only a cgroup this
  // daemon created for that uid; it creates none yet, so unprivileged clients are refused: a
  // cgroup merely owned by the user (systemd delegates user@UID.service) may hold processes
  // of other users (setuid programs keep their cgroup), whose arguments and environment the
  // watch would hand over.
  if (c.uid != 0) {
    return make_reply(ReplyStatus::kDenied,
                      "only root may register a cgroup it did not get from sandboxd", EPERM);
  }
  // kernfs: a cgroup v2 directory's inode number is its cgroup id. The root cgroup (id 1)
  // holds every process not in a sandbox: never ours to watch.
  const std::uint64_t cgroup_id = st.st_ino;
  if (cgroup_id <= 1) {
    return make_reply(ReplyStatus::kDenied, "the root cgroup is not a sandbox", EPERM);
  }
  Usage& usage = usage_[c.uid];
  if (usage.sandboxes >= options_.max_sandboxes_per_uid ||
      usage.ring_bytes + request.ring_bytes > options_.max_ring_bytes_per_uid) {
    return make_reply(ReplyStatus::kLimit,
                      "per-uid limit: " + std::to_string(options_.max_sandboxes_per_uid) +
                          " sandboxes, " + std::to_string(options_.max_ring_bytes_per_uid) +
                          " ring bytes");
  }
  if (watch_->size() >= options_.max_sandboxes) {
    return make_reply(ReplyStatus::kLimit, "sandboxd is watching its maximum of sandboxes");
  }
  auto made = watch_->add(cgroup_id, request.ring_bytes);
  if (!made) {
    const int err = made.error().err;
    return make_reply(err == EEXIST ? ReplyStatus::kState : ReplyStatus::kFailed,
                      err == EEXIST ? "that cgroup is already registered" : made.error().message,
                      err);
  }
  *ring = std::move(*made);
  c.cgroup_id = cgroup_id;
  c.ring_bytes = request.ring_bytes;
  ++usage.sandboxes;
  usage.ring_bytes += request.ring_bytes;
  ++served_;
  return make_reply(ReplyStatus::kOk, "registered", 0, cgroup_id);
}

}  // namespace moat::daemon
