// sandboxd's server: socket, epoll loop, per-connection registrations. See server.h.
#include "sandboxd/daemon/server.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sandboxd/sys/small_file.h"

namespace moat::daemon {
namespace {

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

bool send_reply(int fd, const ReplyWire& reply, int pass_fd, int pass_fd2 = -1) {
  iovec iov{const_cast<ReplyWire*>(&reply), sizeof reply};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  const int fds[2] = {pass_fd, pass_fd2};
  const std::size_t count = pass_fd < 0 ? 0 : pass_fd2 < 0 ? 1 : 2;
  if (count > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(count * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds, count * sizeof(int));
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
  // The kernel name check for unprivileged gates (kBindName). Where it does not load, they
  // relay name-bound connections themselves: slower, not weaker.
  if (auto check = bpfnet::load_name_binding(); check) server.name_check_ = std::move(*check);
  for (int fd : {server.listen_fd_.get(), server.signal_fd_.get(),
                 server.name_check_ ? server.name_check_->poll_fd() : -1}) {
    if (fd < 0) continue;
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
    if (!c.cgroup_path.empty()) retire_cgroup(c.cgroup_path, c.uid, false);
    if (!c.v1_memory_path.empty()) retire_cgroup(c.v1_memory_path, c.uid, false);
  }
  for (int i = 0; i < 20 && !retired_.empty(); ++i) {
    ::usleep(10000);
    sweep_retired();
  }
}

Status Server::serve() {
  epoll_event events[32];
  for (;;) {
    // At most every 100 ms, however busy the loop: the pass costs system calls per cgroup.
    if (sweep_due() &&
        std::chrono::steady_clock::now() - last_sweep_ >= std::chrono::milliseconds(100)) {
      sweep_retired();
    }
    int n = ::epoll_wait(epoll_fd_.get(), events, 32, sweep_due() ? 100 : -1);
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
      if (name_check_ && fd == name_check_->poll_fd()) {
        on_name_verdicts();
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
  Connection c;
  c.fd = std::move(fd);
  c.uid = cred.uid;
  c.gid = cred.gid;
  c.pid = cred.pid;
  connections_[key] = std::move(c);
}

void Server::drop(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  Usage& usage = usage_[c.uid];
  if (c.cgroup_id != 0) {
    watch_->remove(c.cgroup_id);
    --usage.sandboxes;
    if (c.ring_map_id != 0) {
      retired_rings_.push_back({c.uid, c.ring_map_id, c.ring_bytes});  // counted until freed
    } else {
      usage.ring_bytes -= c.ring_bytes;
    }
  }
  if (!c.cgroup_path.empty()) retire_cgroup(c.cgroup_path, c.uid, true);  // counted until gone
  if (!c.v1_memory_path.empty()) retire_cgroup(c.v1_memory_path, c.uid, false);
  for (std::uint64_t id : c.bound) {
    binding_owner_.erase(id);
    // Still in the kernel map (the client keeps the socket): it still takes one of the map's
    // entries, so it keeps counting against the uid; else one user could fill the map for all.
    if (name_check_ && name_check_->still_bound(id)) {
      orphan_bound_[c.uid].push_back(id);
    } else {
      --usage.bound;
    }
  }
  --usage.connections;
  const uid_t uid = c.uid;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  connections_.erase(it);
  release_usage(uid);
}

void Server::release_usage(uid_t uid) {
  auto it = usage_.find(uid);
  if (it == usage_.end()) return;
  const Usage& u = it->second;
  if (u.connections == 0 && u.cgroups == 0 && u.bound == 0 && u.sandboxes == 0 &&
      u.ring_bytes == 0) {
    usage_.erase(it);
  }
}

void Server::handle(Connection& c) {
  alignas(RequestWire) unsigned char buffer[sizeof(RequestWire) + kMaxBoundName + 1];
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
  sys::UniqueFd ring, second;
  if (parsed.error) {
    reply = make_reply(parsed.error->status, parsed.error->message);
  } else {
    const Request& r = *parsed.request;
    switch (r.op) {
      case Op::kHello:
        reply = make_reply(ReplyStatus::kOk, "sandboxd", 0,
                           kFeatureWatch | (name_check_ ? kFeatureNameCheck : 0));
        break;
      case Op::kBindName:
        reply = do_bind_name(c, r.name, fds.front().get());
        break;
      case Op::kNameRefusal:
        reply = do_name_refusal(c);
        break;
      case Op::kRegister:
        reply = do_register(c, r, fds.front().get(), &ring);
        break;
      case Op::kLost:
        reply = c.cgroup_id == 0
                    ? make_reply(ReplyStatus::kState, "no sandbox registered on this connection")
                    : make_reply(ReplyStatus::kOk, "lost", 0, watch_->lost(c.cgroup_id));
        break;
      case Op::kCgroup:
        reply = do_cgroup(c, r.arg, &ring, &second);
        break;
      case Op::kJoin:
        reply = do_join(c, static_cast<pid_t>(r.arg));
        break;
      case Op::kStatus: {
        auto it = usage_.find(c.uid);
        reply = make_reply(ReplyStatus::kOk, "status", 0, watch_->size(),
                           it == usage_.end() ? 0 : it->second.sandboxes);
        break;
      }
    }
  }
  if (!send_reply(c.fd.get(), reply, ring.get(), second.get())) drop(c.fd.get());
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
  // kernfs: a cgroup v2 directory's inode number is its cgroup id. The root cgroup (id 1)
  // holds every process not in a sandbox: never ours to watch.
  const std::uint64_t cgroup_id = st.st_ino;
  // Root may watch any cgroup (it can load the programs itself). Anyone else only the cgroup
  // this daemon made for this connection: a cgroup merely owned by the user (systemd delegates
  // user@UID.service) may hold processes of other users (setuid programs keep their cgroup),
  // whose arguments and environment the watch would hand over; into ours only do_join moves.
  if (c.uid != 0 && (c.made_cgroup_id == 0 || cgroup_id != c.made_cgroup_id)) {
    return make_reply(ReplyStatus::kDenied,
                      "only root may register a cgroup it did not get from sandboxd", EPERM);
  }
  if (cgroup_id <= 1) {
    return make_reply(ReplyStatus::kDenied, "the root cgroup is not a sandbox", EPERM);
  }
  Usage& usage = usage_[c.uid];
  if (usage.sandboxes >= options_.max_sandboxes_per_uid ||
      usage.ring_bytes + request.arg > options_.max_ring_bytes_per_uid) {
    return make_reply(ReplyStatus::kLimit,
                      "per-uid limit: " + std::to_string(options_.max_sandboxes_per_uid) +
                          " sandboxes, " + std::to_string(options_.max_ring_bytes_per_uid) +
                          " ring bytes");
  }
  if (watch_->size() >= options_.max_sandboxes) {
    return make_reply(ReplyStatus::kLimit, "sandboxd is watching its maximum of sandboxes");
  }
  auto made = watch_->add(cgroup_id, static_cast<std::uint32_t>(request.arg));
  if (!made) {
    const int err = made.error().err;
    return make_reply(err == EEXIST ? ReplyStatus::kState : ReplyStatus::kFailed,
                      err == EEXIST ? "that cgroup is already registered" : made.error().message,
                      err);
  }
  // The ring's map id: how a ring kept after disconnecting is counted until the kernel frees
  // it. Without it the budget could not hold: refuse rather than count it as freed.
  bpf_map_info info{};
  std::uint32_t info_len = sizeof info;
  if (::bpf_obj_get_info_by_fd(made->get(), &info, &info_len) != 0 || info.id == 0) {
    const int err = errno != 0 ? errno : EINVAL;
    watch_->remove(cgroup_id);
    return make_reply(ReplyStatus::kFailed, "the ring's map id cannot be read", err);
  }
  *ring = std::move(*made);
  c.cgroup_id = cgroup_id;
  c.ring_bytes = static_cast<std::uint32_t>(request.arg);
  c.ring_map_id = info.id;
  ++usage.sandboxes;
  usage.ring_bytes += request.arg;
  ++served_;
  return make_reply(ReplyStatus::kOk, "registered", 0, cgroup_id);
}

namespace {

// PPid of a process and its uid if its real, effective, saved and file-system uids agree (a
// setuid program does not: it gets ~0), from /proc (as the init namespaces see them).
bool parent_and_uid(pid_t pid, pid_t* ppid, uid_t* uid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  char buf[4096];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* pp = std::strstr(buf, "\nPPid:\t");
  const char* u = std::strstr(buf, "\nUid:\t");
  if (pp == nullptr || u == nullptr) return false;
  *ppid = static_cast<pid_t>(std::strtol(pp + 7, nullptr, 10));
  char* next = nullptr;
  const unsigned long real = std::strtoul(u + 6, &next, 10);
  *uid = static_cast<uid_t>(real);
  for (int i = 0; i < 3; ++i) {
    if (std::strtoul(next, &next, 10) != real) *uid = static_cast<uid_t>(-1);
  }
  return true;
}

bool write_file(const std::string& path, const std::string& text) {
  sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() &&
         ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

}  // namespace

namespace {

// The cgroup path in HIERARCHY (a /proc/PID/cgroup controller list entry, "" for v2's "0::"
// line) of a process whose /proc/PID/cgroup reads LINES; "" when it has none.
std::string cgroup_path_in(const std::string& lines, const std::string& hierarchy) {
  std::string path;
  std::size_t at = 0;
  while (at < lines.size()) {
    std::size_t end = lines.find('\n', at);
    if (end == std::string::npos) end = lines.size();
    const std::string line = lines.substr(at, end - at);
    at = end + 1;
    const std::size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    bool match = hierarchy.empty() && line.compare(0, 3, "0::") == 0;
    for (std::size_t from = 0; !hierarchy.empty() && from <= controllers.size();) {
      std::size_t comma = std::min(controllers.find(',', from), controllers.size());
      if (controllers.compare(from, comma - from, hierarchy) == 0) match = true;
      from = comma + 1;
    }
    if (match) path = line.substr(second + 1);
  }
  return path.find("..") == std::string::npos ? path : std::string();
}

// The tightest LIMIT_FILE (memory.max, memory.limit_in_bytes, pids.max) on the cgroup at PATH
// under MOUNT and on every ancestor up to MOUNT; 0 when none.
std::uint64_t tightest_limit(const std::string& mount, const std::string& path,
                             const char* limit_file) {
  if (mount.empty() || path.empty()) return 0;
  std::uint64_t tightest = 0;
  for (std::string dir = mount + (path == "/" ? "" : path);;) {
    const std::string text = sys::read_small_file(dir + "/" + limit_file);
    char* stop = nullptr;
    const unsigned long long value = std::strtoull(text.c_str(), &stop, 10);
    // "max" (v2) and v1's page-rounded LLONG_MAX both mean none.
    if (stop != text.c_str() && value != 0 && value < (1ull << 62) &&
        (tightest == 0 || value < tightest)) {
      tightest = value;
    }
    if (dir.size() <= mount.size()) break;
    dir = dir.substr(0, dir.rfind('/'));
  }
  return tightest;
}

std::string parent_dir(const std::string& path) {
  return path.empty() ? path : path.substr(0, path.rfind('/'));
}

}  // namespace

ReplyWire Server::do_cgroup(Connection& c, std::uint64_t memory_bytes, sys::UniqueFd* dir,
                            sys::UniqueFd* memory_dir) {
  if (!c.cgroup_path.empty()) {
    return make_reply(ReplyStatus::kState, "this connection already has a cgroup");
  }
  if (options_.cgroup_root.empty()) {
    return make_reply(ReplyStatus::kFailed, "no cgroup v2 mount: sandboxd cannot delegate", ENOENT);
  }
  const std::string top = options_.cgroup_root.substr(0, options_.cgroup_root.rfind('/'));
  // The sandbox leaves the caller's cgroups for this one: it must not leave their limits behind
  // (an administrator's memory limit on the user, systemd's TasksMax). The tightest limit the
  // caller is under bounds what it may ask for, and is set when it asks for none.
  const std::string caller = sys::read_small_file("/proc/" + std::to_string(c.pid) + "/cgroup");
  const std::string v2_path = cgroup_path_in(caller, "");
  std::uint64_t held = tightest_limit(top, v2_path, "memory.max");
  const std::uint64_t v1_held =
      tightest_limit(parent_dir(options_.v1_memory_root), cgroup_path_in(caller, "memory"),
                     "memory.limit_in_bytes");
  if (v1_held != 0 && (held == 0 || v1_held < held)) held = v1_held;
  if (held != 0 && (memory_bytes == 0 || memory_bytes > held)) memory_bytes = held;
  const std::uint64_t held_pids = tightest_limit(top, v2_path, "pids.max");
  const bool v2_memory =
      memory_bytes != 0 &&
      sys::read_small_file(top + "/cgroup.controllers").find("memory") != std::string::npos;
  if (memory_bytes != 0 && !v2_memory && options_.v1_memory_root.empty()) {
    return make_reply(ReplyStatus::kFailed, "no memory controller here (v1 or v2)", ENOENT);
  }
  Usage& usage = usage_[c.uid];
  if (usage.cgroups >= options_.max_sandboxes_per_uid) {
    return make_reply(ReplyStatus::kLimit, "per-uid limit of cgroups reached");
  }
  const std::string name = "/u" + std::to_string(c.uid) + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(++cgroup_seq_);
  const std::string path = options_.cgroup_root + name;
  if (::mkdir(path.c_str(), 0755) != 0) {
    return make_reply(ReplyStatus::kFailed, "mkdir of the cgroup failed", errno);
  }
  // From here on, a failure retires what was made.
  c.cgroup_path = path;
  ++usage.cgroups;
  auto fail = [&](const char* what, int err) {
    retire_cgroup(c.cgroup_path, c.uid, true);
    if (!c.v1_memory_path.empty()) retire_cgroup(c.v1_memory_path, c.uid, false);
    c.cgroup_path.clear();
    c.v1_memory_path.clear();
    return make_reply(ReplyStatus::kFailed, what, err);
  };
  // Delegation (cgroup-v2.rst): the directory and the files that manage membership and
  // children belong to the caller; cgroup.kill too, so moat can end the sandbox's tree. The
  // limit files stay root's.
  for (const char* file :
       {"", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control", "/cgroup.kill"}) {
    const std::string p = path + file;
    if (::chown(p.c_str(), c.uid, c.gid) != 0 && errno != ENOENT) {
      return fail("chown of the cgroup failed", errno);
    }
  }
  if (held_pids != 0) {
    (void)write_file(top + "/cgroup.subtree_control", "+pids");
    (void)write_file(options_.cgroup_root + "/cgroup.subtree_control", "+pids");
    if (!write_file(path + "/pids.max", std::to_string(held_pids))) {
      return fail("writing pids.max (the caller's own limit) failed", errno);
    }
  }
  if (v2_memory) {
    (void)write_file(top + "/cgroup.subtree_control", "+memory");
    (void)write_file(options_.cgroup_root + "/cgroup.subtree_control", "+memory");
    if (!write_file(path + "/memory.max", std::to_string(memory_bytes))) {
      return fail("writing memory.max failed", errno);
    }
    (void)write_file(path + "/memory.swap.max", "0");
  } else if (memory_bytes != 0) {
    // v1: the sandbox joins it itself by writing "0" to `tasks`, which moat opens as the caller
    // (the kernel checks the opener's euid against the task's uid: only its own processes).
    const std::string v1 = options_.v1_memory_root + name;
    if (::mkdir(v1.c_str(), 0755) != 0) return fail("mkdir of the v1 memory cgroup failed", errno);
    c.v1_memory_path = v1;
    if (!write_file(v1 + "/memory.limit_in_bytes", std::to_string(memory_bytes))) {
      return fail("writing memory.limit_in_bytes failed", errno);
    }
    for (const char* file : {"/tasks", "/cgroup.procs"}) {
      if (::chown((v1 + file).c_str(), c.uid, c.gid) != 0) {
        return fail("chown of the v1 memory cgroup failed", errno);
      }
    }
    memory_dir->reset(::open(v1.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!memory_dir->valid()) return fail("opening the v1 memory cgroup failed", errno);
  }
  sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return fail("opening the cgroup failed", errno);
  c.made_cgroup_id = st.st_ino;
  *dir = std::move(fd);
  return make_reply(ReplyStatus::kOk, path, 0, memory_dir->valid() ? kCgroupHasV1Memory : 0,
                    st.st_ino);
}

ReplyWire Server::do_join(Connection& c, pid_t pid) {
  if (c.cgroup_path.empty()) {
    return make_reply(ReplyStatus::kState, "no cgroup made for this connection (kCgroup first)");
  }
  // Only the caller's own child, of the caller's uid. While the caller waits for this answer it
  // does not reap that child, so the pid cannot be recycled under us, and the check below
  // after the move confirms it still named that child.
  pid_t ppid = 0;
  uid_t uid = 0;
  if (!parent_and_uid(pid, &ppid, &uid) || ppid != c.pid || uid != c.uid) {
    return make_reply(ReplyStatus::kDenied, "join: not the caller's own child", EPERM);
  }
  if (!write_file(c.cgroup_path + "/cgroup.procs", std::to_string(pid))) {
    return make_reply(ReplyStatus::kFailed, "writing cgroup.procs failed", errno);
  }
  if (!parent_and_uid(pid, &ppid, &uid) || ppid != c.pid || uid != c.uid) {
    // Something else holds the pid now: put it back where every host process starts.
    const std::string top = options_.cgroup_root.substr(0, options_.cgroup_root.rfind('/'));
    (void)write_file(top + "/cgroup.procs", std::to_string(pid));
    return make_reply(ReplyStatus::kDenied, "join: the process changed during the move", EPERM);
  }
  return make_reply(ReplyStatus::kOk, "joined");
}

ReplyWire Server::do_bind_name(Connection& c, const std::string& name, int sock) {
  if (!name_check_) {
    return make_reply(ReplyStatus::kFailed, "the kernel name check is not loaded", EOPNOTSUPP);
  }
  // A connected TCP socket, as the gate hands over: nothing else belongs in the check.
  int protocol = 0, domain = 0;
  socklen_t len = sizeof protocol;
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  if (::getsockopt(sock, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 ||
      (len = sizeof domain, ::getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &len)) != 0 ||
      protocol != IPPROTO_TCP || (domain != AF_INET && domain != AF_INET6) ||
      ::getpeername(sock, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
    return make_reply(ReplyStatus::kMalformed, "the descriptor is not a connected TCP socket");
  }
  Usage& usage = usage_[c.uid];
  if (usage.bound >= options_.max_bound_per_uid) {
    // Connections closed without a byte left the map without a verdict: count them out.
    for (auto it = c.bound.begin(); it != c.bound.end();) {
      const std::uint64_t id = *it++;
      if (!name_check_->still_bound(id)) unbind(c, id);
    }
    if (auto orphans = orphan_bound_.find(c.uid); orphans != orphan_bound_.end()) {
      std::erase_if(orphans->second, [&](std::uint64_t id) {
        if (name_check_->still_bound(id)) return false;
        --usage.bound;
        return true;
      });
      if (orphans->second.empty()) orphan_bound_.erase(orphans);
    }
    if (usage.bound >= options_.max_bound_per_uid) {
      return make_reply(ReplyStatus::kLimit, "too many connections under the name check");
    }
  }
  const std::uint64_t id = ++next_binding_;
  if (Status st = name_check_->bind(sock, id, name); !st) {
    return make_reply(ReplyStatus::kFailed, st.error().message, st.error().err);
  }
  c.bound.insert(id);
  binding_owner_[id] = c.fd.get();
  ++usage.bound;
  return make_reply(ReplyStatus::kOk, "bound", 0, id);
}

void Server::unbind(Connection& c, std::uint64_t id) {
  if (c.bound.erase(id) == 0) return;
  binding_owner_.erase(id);
  --usage_[c.uid].bound;
}

void Server::on_name_verdicts() {
  for (gate::KernelVerdict& v : name_check_->take_verdicts()) {
    auto owner = binding_owner_.find(v.connection);
    if (owner == binding_owner_.end()) continue;
    auto conn = connections_.find(owner->second);
    if (conn == connections_.end()) continue;
    Connection& c = conn->second;
    if (v.decision.binding != gate::Binding::kRefused) {
      unbind(c, v.connection);  // out of the map already
      continue;
    }
    // A refused socket stays in the map (refused) until it is closed: it still counts, and
    // do_bind_name's sweep counts it out then. Bounded: a client that never asks keeps at most
    // this many.
    if (c.refusals.size() < 1024) c.refusals.push_back(std::move(v));
  }
}

ReplyWire Server::do_name_refusal(Connection& c) {
  if (c.refusals.empty()) return make_reply(ReplyStatus::kOk, "", 0, 0, 0);
  gate::KernelVerdict v = std::move(c.refusals.front());
  c.refusals.pop_front();
  return make_reply(ReplyStatus::kOk, v.decision.seen, 0, v.connection,
                    static_cast<std::uint64_t>(v.reason) << 8 | v.protocol);
}

namespace {

// Kills every process in the cgroup at PATH and below (v2: cgroup.kill covers the subtree; v1
// has none: each directory's processes by pid), then removes the directories deepest first.
// True when PATH is gone. Bounded: the caller owns the directory and may have made children.
bool kill_and_remove(const std::string& path, int depth = 0) {
  if (depth > 8) return false;
  const bool v2 = write_file(path + "/cgroup.kill", "1");
  if (!v2) {
    std::string procs = sys::read_small_file(path + "/cgroup.procs");
    std::size_t at = 0;
    while (at < procs.size()) {
      const pid_t pid = static_cast<pid_t>(std::strtol(procs.c_str() + at, nullptr, 10));
      if (pid > 0) ::kill(pid, SIGKILL);
      at = procs.find('\n', at);
      if (at == std::string::npos) break;
      ++at;
    }
  }
  if (DIR* d = ::opendir(path.c_str())) {
    int children = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_type != DT_DIR || std::strcmp(e->d_name, ".") == 0 ||
          std::strcmp(e->d_name, "..") == 0 || ++children > 64) {
        continue;
      }
      (void)kill_and_remove(path + "/" + e->d_name, depth + 1);
    }
    ::closedir(d);
  }
  return ::rmdir(path.c_str()) == 0 || errno == ENOENT;
}

}  // namespace

void Server::retire_cgroup(const std::string& path, uid_t uid, bool counted) {
  if (kill_and_remove(path)) {
    if (counted) --usage_[uid].cgroups;
    return;
  }
  retired_.push_back({path, uid, counted});
}

void Server::sweep_retired() {
  last_sweep_ = std::chrono::steady_clock::now();
  std::vector<Retired> still;
  for (Retired& r : retired_) {
    if (!kill_and_remove(r.path)) {
      still.push_back(std::move(r));
      continue;
    }
    if (r.counted) {
      --usage_[r.uid].cgroups;
      release_usage(r.uid);
    }
  }
  retired_ = std::move(still);
  std::vector<RetiredRing> rings;
  for (const RetiredRing& r : retired_rings_) {
    const int fd = ::bpf_map_get_fd_by_id(r.map_id);
    if (fd >= 0 || errno != ENOENT) {
      if (fd >= 0) ::close(fd);
      rings.push_back(r);  // still held by someone
      continue;
    }
    usage_[r.uid].ring_bytes -= r.bytes;
    release_usage(r.uid);
  }
  retired_rings_ = std::move(rings);
}

}  // namespace moat::daemon
