// One poll loop (DNS over UDP and TCP, seccomp notifications) plus short-lived workers for what
// may block: connecting on the sandbox's behalf and asking upstream DNS. The connection the
// sandbox gets is the one the gate opened (SECCOMP_IOCTL_NOTIF_ADDFD), so the address checked is
// the address used.
#include "sandboxd/gate/gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <tuple>

#include "sandboxd/gate/dns_message.h"
#include "sandboxd/gate/relay.h"
#include "sandboxd/gate/resolver.h"
#include "sandboxd/gate/socket_owner.h"
#include "sandboxd/sys/seccomp_notify.h"

namespace moat::gate {
namespace {

constexpr int kConnectTimeoutMs = 15000;
constexpr auto kUpstreamWait = std::chrono::seconds(4);
constexpr int kMaxWorkers = 512;          // connects waiting, DNS queries in progress
// Of those, connects to the sandbox's own loopback: a pool aimed at a full accept queue must not
// take the workers DNS and upstream connects need.
constexpr std::size_t kMaxInsideConnects = 128;
constexpr int kMaxPendingLookups = 64;    // upstream lookups, including abandoned ones
constexpr size_t kMaxAwaitingVerdicts = 4096;  // connect events kept for the kernel check
constexpr int kVerdictFetchMs = 100;           // through sandboxd: how often refusals are asked
std::atomic<int> g_pending_lookups{0};

struct NotifBuffers {
  std::vector<char> req, resp;
};

NotifBuffers make_notif_buffers() {
  seccomp_notif_sizes sizes{};
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
    sizes = {sizeof(seccomp_notif), sizeof(seccomp_notif_resp), sizeof(seccomp_data)};
  }
  return {
      std::vector<char>(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif))),
      std::vector<char>(std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)))};
}

void respond(int notify_fd, std::uint64_t id, int error, bool proceed) {
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.error = proceed ? 0 : -error;
  resp.val = 0;
  resp.flags = proceed ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
  ::ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);  // ENOENT: the caller is gone
}

bool id_valid(int notify_fd, std::uint64_t id) {
  return ::ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

// The sockaddr the sandboxed process passed to connect(), read from its memory.
bool read_sockaddr(pid_t pid, std::uint64_t addr, std::uint64_t len, sockaddr_storage& out) {
  if (len == 0 || len > sizeof(out)) return false;
  std::memset(&out, 0, sizeof(out));
  iovec local{&out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

// PIDFD_THREAD (Linux 6.9): a pidfd for a thread that is not its process's leader. Older
// kernels: the leader's pidfd (threads normally share the descriptor table).
int pidfd_of_thread(pid_t tid) {
  constexpr unsigned kPidfdThread = O_EXCL;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, tid, kPidfdThread));
  if (fd >= 0 || errno != EINVAL) return fd;
  fd = static_cast<int>(::syscall(SYS_pidfd_open, tid, 0));
  if (fd >= 0) return fd;
  std::ifstream status("/proc/" + std::to_string(tid) + "/status");
  std::string key;
  pid_t tgid = 0;
  while (status >> key) {
    if (key == "Tgid:") {
      status >> tgid;
      break;
    }
  }
  return tgid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, tgid, 0)) : -1;
}

bool fd_is_cloexec(pid_t pid, int fd) {
  std::string path = "/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd);
  int info = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (info < 0) return false;
  char buf[512];
  ssize_t n = ::read(info, buf, sizeof(buf) - 1);
  ::close(info);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* flags = std::strstr(buf, "flags:");
  return flags != nullptr && (std::strtoul(flags + 6, nullptr, 8) & O_CLOEXEC) != 0;
}

// Loopback of the sandbox's own network namespace: its test servers and the DNS stub.
bool is_sandbox_internal(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

IpAddress ip_of(const sockaddr_storage& ss, std::uint16_t* port) {
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    std::array<std::uint8_t, 4> b{};
    std::memcpy(b.data(), &in->sin_addr, 4);
    *port = ntohs(in->sin_port);
    return IpAddress::v4(b);
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  std::array<std::uint8_t, 16> b{};
  std::memcpy(b.data(), &in6->sin6_addr, 16);
  *port = ntohs(in6->sin6_port);
  return IpAddress::v6(b);
}

// The TCP options the program may have set before connecting, copied to the socket that
// replaces its own.
constexpr std::pair<int, int> kCopiedOptions[] = {
    {SOL_SOCKET, SO_KEEPALIVE}, {SOL_SOCKET, SO_RCVBUF},     {SOL_SOCKET, SO_SNDBUF},
    {IPPROTO_TCP, TCP_NODELAY}, {IPPROTO_TCP, TCP_KEEPIDLE}, {IPPROTO_TCP, TCP_KEEPINTVL},
    {IPPROTO_TCP, TCP_KEEPCNT}, {IPPROTO_TCP, TCP_USER_TIMEOUT}};
constexpr size_t kCopiedCount = std::size(kCopiedOptions);

// What a fresh TCP socket of `domain` reports for each copied option (the sysctl defaults).
std::array<int, kCopiedCount> default_options(int domain) {
  std::array<int, kCopiedCount> values{};
  values.fill(-1);
  int probe = ::socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return values;
  for (size_t i = 0; i < kCopiedCount; ++i) {
    socklen_t optlen = sizeof(int);
    ::getsockopt(probe, kCopiedOptions[i].first, kCopiedOptions[i].second, &values[i], &optlen);
  }
  ::close(probe);
  return values;
}

// Options the program set before connecting keep their meaning on the socket that replaces its
// own (the upstream connection, and the relay's loopback end when the connection is relayed).
// Only values that differ from a fresh socket's are kept: that saves a dozen syscalls on every
// connect, and setting SO_RCVBUF/SO_SNDBUF at all would lock the buffer size and turn off the
// kernel's autotuning, which the program never asked for.
struct ChangedOptions {
  std::array<int, kCopiedCount> value{};
  std::array<bool, kCopiedCount> changed{};
};

ChangedOptions read_changed_options(int from, int domain) {
  static const std::array<int, kCopiedCount> kInet = default_options(AF_INET);
  static const std::array<int, kCopiedCount> kInet6 = default_options(AF_INET6);
  const std::array<int, kCopiedCount>& defaults = domain == AF_INET6 ? kInet6 : kInet;
  ChangedOptions out;
  for (size_t i = 0; i < kCopiedCount; ++i) {
    auto [level, name] = kCopiedOptions[i];
    socklen_t optlen = sizeof(int);
    if (::getsockopt(from, level, name, &out.value[i], &optlen) != 0) continue;
    out.changed[i] = out.value[i] != defaults[i];
    // The kernel doubles a buffer size that is set and reports the doubled value: halve it, or
    // each copy would double the program's choice.
    if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF)) out.value[i] /= 2;
  }
  return out;
}

void apply_options(const ChangedOptions& options, int to) {
  for (size_t i = 0; i < kCopiedCount; ++i) {
    if (!options.changed[i]) continue;
    ::setsockopt(to, kCopiedOptions[i].first, kCopiedOptions[i].second, &options.value[i],
                 sizeof(int));
  }
}

// Starts connecting a new socket like the sandbox's (family, protocol, TCP options) to the same
// address, from our network namespace. Returns the socket (connecting), or -errno.
// The loopback pair of a relayed connection, the sandbox's end (first) with the program's
// options and blocking mode; the relay's end second.
Result<std::pair<int, int>> make_relay_ends(RelayEngine& relay, const ChangedOptions& options,
                                            bool nonblocking) {
  auto pair = relay.make_pair();
  if (!pair) return pair.error();
  const int outer = pair->first.release();
  apply_options(options, outer);
  // The pair's end is made non-blocking; a blocking program gets a blocking socket.
  if (!nonblocking) ::fcntl(outer, F_SETFL, ::fcntl(outer, F_GETFL) & ~O_NONBLOCK);
  return std::pair<int, int>(outer, pair->second.release());
}

int start_connect_on_behalf(int original, const ChangedOptions& options,
                            const sockaddr_storage& ss, socklen_t len) {
  int domain = 0;
  socklen_t optlen = sizeof(int);
  ::getsockopt(original, SOL_SOCKET, SO_DOMAIN, &domain, &optlen);
  // Always plain TCP, whatever protocol the program chose (MPTCP, SMC fall back to it anyway):
  // the socket lands in the sandbox, and only TCP is one Landlock refuses to connect again.
  int sock = ::socket(domain, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
  if (sock < 0) return -errno;
  apply_options(options, sock);
  if (::connect(sock, reinterpret_cast<const sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(sock);
    return -err;
  }
  return sock;
}

// Waits up to `budget_ms` for the connect to finish: 1 connected, 0 still going, -errno failed
// (the socket is closed then).
int wait_connected(int sock, int budget_ms, const std::atomic<bool>& stopping) {
  for (int waited = 0; waited <= budget_ms && !stopping;) {
    int step = std::min(100, std::max(budget_ms - waited, 1));
    pollfd p{sock, POLLOUT, 0};
    int n = ::poll(&p, 1, step);
    waited += step;
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    int err = 0;
    socklen_t optlen = sizeof(err);
    ::getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &optlen);
    if (err != 0) {
      ::close(sock);
      return -err;
    }
    return 1;
  }
  return 0;
}

}  // namespace

Gate::Gate(Allowlist allowlist, report::EventLog& events)
    : allowlist_(std::move(allowlist)), events_(events) {
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

Gate::~Gate() { stop(); }

void Gate::set_dns_sockets(sys::UniqueFd udp, sys::UniqueFd tcp_listener) {
  udp_ = std::move(udp);
  tcp_listener_ = std::move(tcp_listener);
  std::uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (udp_.valid() && ::getsockopt(udp_.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) == 0) {
    sandbox_netns_cookie_ = cookie;
  }
}

Gate::CheckedSocket Gate::sandbox_socket(pid_t pid, int sockfd) const {
  if (sandbox_netns_cookie_ == 0) return {{}, EACCES};  // unknown: broker or refuse, never pass
  sys::UniqueFd pidfd(pidfd_of_thread(pid));
  if (!pidfd.valid()) return {{}, EBADF};  // the caller is gone: its call fails either way
  sys::UniqueFd sock(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), sockfd, 0)));
  if (!sock.valid()) return {{}, EBADF};
  std::uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
    return {{}, errno == ENOTSOCK ? ENOTSOCK : EACCES};
  }
  if (cookie != sandbox_netns_cookie_) return {{}, EACCES};
  return {std::move(sock), 0};
}

void Gate::refuse_foreign_socket(std::uint64_t id, pid_t pid, const char* call,
                                 const sockaddr_storage* ss) {
  report::Event event;
  event.kind = "connect";
  event.pid = pid;
  event.layer = "gate";
  event.verdict = "refused";
  event.detail = {{"call", call},
                  {"reason",
                   "a socket the gate connected cannot be disconnected, connected again, bound "
                   "or made to listen (it lives outside the sandbox)"}};
  if (ss != nullptr) {
    event.detail["family"] = ss->ss_family;
    if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) {
      std::uint16_t port = 0;
      event.detail["address"] = ip_of(*ss, &port).to_string();
      event.detail["port"] = port;
    }
  }
  log_connect(std::move(event));
  respond(notify_.get(), id, EACCES, false);
}

void Gate::on_bind_or_listen(const seccomp_notif& req) {
  const int nfd = notify_.get();
  const pid_t pid = static_cast<pid_t>(req.pid);
  const int sockfd = static_cast<int>(req.data.args[0]);
  const bool bind = req.data.nr == __NR_bind;
  if (host_network_) {  // not asked for: no namespace of its own, nothing to tell apart
    respond(nfd, req.id, 0, true);
    return;
  }
  sockaddr_storage ss{};
  const socklen_t len = static_cast<socklen_t>(req.data.args[2]);
  if (bind && (req.data.args[2] == 0 || req.data.args[2] > sizeof(ss))) {
    respond(nfd, req.id, EINVAL, false);
    return;
  }
  if ((bind && !read_sockaddr(pid, req.data.args[1], req.data.args[2], ss)) ||
      !id_valid(nfd, req.id)) {
    respond(nfd, req.id, EFAULT, false);
    return;
  }
  CheckedSocket checked = sandbox_socket(pid, sockfd);
  if (checked.error == EACCES) {
    refuse_foreign_socket(req.id, pid, bind ? "bind" : "listen", bind ? &ss : nullptr);
    return;
  }
  if (checked.error != 0) {
    respond(nfd, req.id, checked.error, false);
    return;
  }
  // A unix socket's path is resolved in the caller's root and made with its credentials and
  // umask: only the caller's own bind() does that. It can only reach the sandbox's files (its
  // mount namespace), and a socket swapped in after this check can only be one of ours, a TCP
  // socket, which Landlock refuses to bind.
  if (bind && ss.ss_family != AF_INET && ss.ss_family != AF_INET6 && ss.ss_family != AF_UNSPEC) {
    respond(nfd, req.id, 0, true);
    return;
  }
  const int rc = bind ? ::bind(checked.fd.get(), reinterpret_cast<const sockaddr*>(&ss), len)
                      : ::listen(checked.fd.get(), static_cast<int>(req.data.args[1]));
  respond(nfd, req.id, rc == 0 ? 0 : errno, false);
}

void Gate::connect_inside(std::uint64_t id, CheckedSocket checked, const sockaddr_storage& ss,
                          socklen_t len) {
  const int nfd = notify_.get();
  int type = 0;
  socklen_t optlen = sizeof(type);
  ::getsockopt(checked.fd.get(), SOL_SOCKET, SO_TYPE, &type, &optlen);
  // The descriptor shares the program's open file: its blocking mode and SO_SNDTIMEO are the
  // program's. A blocking stream connect waits for the peer's accept queue: not on this loop.
  // Every connect that may wait goes to a worker, not only the ones that look blocking now: the
  // program can flip O_NONBLOCK between our look and our connect, and stall the loop (its DNS
  // and every other connect) for minutes. Datagram connects never wait.
  if (type == SOCK_DGRAM) {
    const int rc = ::connect(checked.fd.get(), reinterpret_cast<const sockaddr*>(&ss), len);
    respond(nfd, id, rc == 0 ? 0 : errno, false);
    return;
  }
  const int sock = checked.fd.release();
  {
    std::lock_guard<std::mutex> lock(workers_mu_);
    if (blocking_connects_.size() >= kMaxInsideConnects) {
      ::close(sock);
      respond(nfd, id, EAGAIN, false);
      return;
    }
    blocking_connects_.insert(sock);
  }
  const bool started = spawn([this, nfd, id, sock, ss, len] {
    const int rc = ::connect(sock, reinterpret_cast<const sockaddr*>(&ss), len);
    respond(nfd, id, rc == 0 ? 0 : errno, false);
    std::lock_guard<std::mutex> lock(workers_mu_);
    blocking_connects_.erase(sock);
    ::close(sock);
  });
  if (!started) {
    {
      std::lock_guard<std::mutex> lock(workers_mu_);
      blocking_connects_.erase(sock);
    }
    ::close(sock);
    respond(nfd, id, EAGAIN, false);
  }
}

void Gate::set_notify_listener(sys::UniqueFd listener) {
  notify_ = std::move(listener);
  // A connect() waits for our answer and we wait for the next connect(): a synchronous call.
  // Waking each side on the CPU of the other saves a cross-CPU wake-up (an IPI, and on a VM an
  // exit) per notification and per answer, a large part of the gate's connect cost on a small
  // VM (docs/performance.md). Before Linux 6.6 the ioctl fails (EINVAL/ENOTTY): no change.
  if (notify_.valid()) {
    (void)::ioctl(notify_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, sys::kSeccompNotifSyncWakeUp);
  }
}

void Gate::use_host_network() {
  host_network_ = true;
  socklen_t len = sizeof(stub_tcp_);
  ::getsockname(tcp_listener_.get(), reinterpret_cast<sockaddr*>(&stub_tcp_), &len);
  len = sizeof(stub_udp_);
  ::getsockname(udp_.get(), reinterpret_cast<sockaddr*>(&stub_udp_), &len);
}

pid_t Gate::dns_asker(std::uint16_t local_port, bool tcp) {
  if (!host_network_) return owners_.find(local_port, tcp);
  std::lock_guard<std::mutex> lock(askers_mu_);
  auto it = dns_askers_.find({local_port, tcp});
  if (it == dns_askers_.end()) return 0;
  pid_t pid = it->second;
  if (tcp) dns_askers_.erase(it);  // one query connection; a UDP socket may ask again
  return pid;
}

void Gate::redirect_to_stub(std::uint64_t id, pid_t pid, int sockfd) {
  const int nfd = notify_.get();
  int pidfd = pidfd_of_thread(pid);
  int original = pidfd < 0 ? -1 : static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, sockfd, 0));
  if (pidfd >= 0) ::close(pidfd);
  if (original < 0) {
    respond(nfd, id, EBADF, false);
    return;
  }
  int type = 0;
  socklen_t optlen = sizeof(type);
  ::getsockopt(original, SOL_SOCKET, SO_TYPE, &type, &optlen);
  const bool nonblocking = (::fcntl(original, F_GETFL) & O_NONBLOCK) != 0;
  ::close(original);
  if (type != SOCK_STREAM && type != SOCK_DGRAM) {
    respond(nfd, id, EACCES, false);
    return;
  }
  const bool tcp = type == SOCK_STREAM;
  const sockaddr_in& stub = tcp ? stub_tcp_ : stub_udp_;
  // The stub listens on our loopback: the connect completes at once, even blocking.
  sys::UniqueFd sock(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!sock.valid() ||
      ::connect(sock.get(), reinterpret_cast<const sockaddr*>(&stub), sizeof(stub)) != 0) {
    respond(nfd, id, errno != 0 ? errno : EIO, false);
    return;
  }
  if (nonblocking) ::fcntl(sock.get(), F_SETFL, ::fcntl(sock.get(), F_GETFL) | O_NONBLOCK);
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  ::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&local), &len);
  {
    std::lock_guard<std::mutex> lock(askers_mu_);
    dns_askers_[{ntohs(local.sin_port), tcp}] = pid;
  }
  seccomp_notif_addfd addfd{};
  addfd.id = id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SETFD;
  addfd.srcfd = static_cast<std::uint32_t>(sock.get());
  addfd.newfd = static_cast<std::uint32_t>(sockfd);
  addfd.newfd_flags = fd_is_cloexec(pid, sockfd) ? O_CLOEXEC : 0;
  if (::ioctl(nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0) {
    respond(nfd, id, EBADF, false);
    return;
  }
  respond(nfd, id, 0, false);
}

void Gate::start() {
  if (thread_.joinable()) return;
  if (!relay_ && relay_error_.empty()) {
    Result<std::unique_ptr<RelayEngine>> engine = RelayEngine::create();
    if (engine) {
      relay_ = std::move(*engine);
    } else {
      relay_error_ = engine.error().to_string();
    }
  }
  thread_ = std::thread([this] { loop(); });
}

void Gate::start_kernel_load() {
  std::lock_guard<std::mutex> lock(kernel_mu_);
  if (!kernel_loader_ || kernel_loader_thread_.joinable() || stopping_) return;
  kernel_loader_thread_ = std::thread([this] {
    Result<std::unique_ptr<KernelBinding>> loaded = kernel_loader_();
    {
      std::lock_guard<std::mutex> done(kernel_mu_);
      // Not loaded (no root, no sandboxd, no BPF): those connections are relayed.
      if (loaded) {
        kernel_binding_ = std::move(*loaded);
        kernel_ready_ = kernel_binding_.get();
      }
      kernel_loaded_ = true;
    }
    kernel_cv_.notify_all();
    std::uint64_t one = 1;  // the loop polls the verdict ring from now on
    (void)!::write(wake_.get(), &one, sizeof(one));
  });
}

KernelBinding* Gate::kernel_binding() {
  if (!kernel_loader_) return nullptr;
  start_kernel_load();
  std::unique_lock<std::mutex> lock(kernel_mu_);
  // ~20 ms of verification once per run, begun when the first allowed name was asked (so it
  // overlaps the upstream lookup); only a connect made before it is over waits.
  kernel_cv_.wait_for(lock, std::chrono::seconds(2),
                      [this] { return kernel_loaded_ || !kernel_loader_thread_.joinable(); });
  return kernel_binding_.get();
}

void Gate::await_kernel_verdict(std::uint64_t connection, report::Event event) {
  std::lock_guard<std::mutex> lock(verdicts_mu_);
  // Connections closed before sending a byte (and, through sandboxd, passed ones) get no
  // verdict here: the oldest go (notification ids grow), and a verdict that comes after its
  // event went is logged with what the verdict says.
  if (awaiting_verdict_.size() >= kMaxAwaitingVerdicts)
    awaiting_verdict_.erase(awaiting_verdict_.begin());
  awaiting_verdict_.emplace(connection, std::move(event));
}

void Gate::on_kernel_verdicts() {
  for (KernelVerdict& verdict : kernel_ready_.load()->take_verdicts()) {
    report::Event event;
    {
      std::lock_guard<std::mutex> lock(verdicts_mu_);
      auto it = awaiting_verdict_.find(verdict.connection);
      if (it != awaiting_verdict_.end()) {
        event = std::move(it->second);
        awaiting_verdict_.erase(it);
      } else {
        event.kind = "connect";
        event.layer = "gate";
        event.detail = {{"binding", "kernel"}};
      }
    }
    if (verdict.decision.binding == Binding::kRefused) {
      log_binding_refusal(std::move(event), verdict.decision);
    }
  }
}

void Gate::log_binding_refusal(report::Event event, const BindingDecision& decision) {
  event.verdict = "refused";
  event.detail["reason"] = decision.reason;
  event.detail["protocol"] = decision.protocol;
  if (!decision.seen.empty()) event.detail["seen"] = decision.seen;
  log_connect(std::move(event));
}

void Gate::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  thread_.join();
  {
    std::lock_guard<std::mutex> lock(kernel_mu_);  // no load starts after stopping_
  }
  if (kernel_loader_thread_.joinable()) kernel_loader_thread_.join();
  // The sandbox is gone; connections it left open end now. A worker that finishes a connect
  // later finds the relay stopped and closes the connection.
  if (relay_) relay_->stop();
  std::unique_lock<std::mutex> lock(workers_mu_);
  // A blocking connect to the sandbox's loopback may wait minutes for a full accept queue: the
  // sandbox is gone, so it ends now.
  for (int sock : blocking_connects_) ::shutdown(sock, SHUT_RDWR);
  // Every worker is bounded (upstream connects poll `stopping_`, connects inside the sandbox
  // were shut down above, lookups give up after kUpstreamWait),
  // and each one references this Gate: wait for all of them.
  workers_cv_.wait(lock, [this] { return workers_ == 0; });
  lock.unlock();
  // Verdicts the loop had no time for: the last sends of the sandbox.
  if (kernel_ready_.load() != nullptr) on_kernel_verdicts();
}

template <typename F>
bool Gate::spawn(F work) {
  {
    std::lock_guard<std::mutex> lock(workers_mu_);
    // A sandbox that floods the gate (connects, DNS queries) gets refusals, not an unbounded
    // number of the supervisor's threads.
    if (workers_ >= kMaxWorkers) return false;
    ++workers_;
  }
  std::thread([this, work = std::move(work)]() mutable {
    work();
    std::lock_guard<std::mutex> lock(workers_mu_);
    --workers_;
    workers_cv_.notify_all();
  }).detach();
  return true;
}

void Gate::loop() {
  while (!stopping_) {
    KernelBinding* kernel = kernel_ready_.load();
    // A check without a ring to poll (through sandboxd) is asked while connections await.
    bool fetch = false;
    if (kernel != nullptr && kernel->poll_fd() < 0) {
      std::lock_guard<std::mutex> lock(verdicts_mu_);
      fetch = !awaiting_verdict_.empty();
    }
    pollfd fds[5] = {{wake_.get(), POLLIN, 0},
                     {notify_.valid() ? notify_.get() : -1, POLLIN, 0},
                     {udp_.valid() ? udp_.get() : -1, POLLIN, 0},
                     {tcp_listener_.valid() ? tcp_listener_.get() : -1, POLLIN, 0},
                     {kernel != nullptr ? kernel->poll_fd() : -1, POLLIN, 0}};
    int n = ::poll(fds, 5, fetch ? kVerdictFetchMs : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) {
      if (stopping_) return;
      std::uint64_t count = 0;  // the kernel check is loaded: poll its ring from now on
      (void)!::read(wake_.get(), &count, sizeof(count));
    }
    if ((fds[4].revents & POLLIN) || (n == 0 && fetch)) on_kernel_verdicts();
    if (fds[1].revents & POLLIN) on_notification();
    if (fds[1].revents & (POLLHUP | POLLERR)) notify_.reset();  // every sandboxed task is gone
    if (fds[2].revents & POLLIN) on_udp_query();
    if (fds[3].revents & POLLIN) on_tcp_accept();
  }
}

void Gate::log_connect(report::Event event) {
  report::EventLog::attribute(event);  // exe, parent, and the package it works for
  events_.add(std::move(event));
}

void Gate::on_notification() {
  static const NotifBuffers sizes = make_notif_buffers();
  std::vector<char> buf(sizes.req.size());
  auto* req = reinterpret_cast<seccomp_notif*>(buf.data());
  if (::ioctl(notify_.get(), SECCOMP_IOCTL_NOTIF_RECV, req) != 0) return;
  const int nfd = notify_.get();
  if (req->data.nr == __NR_bind || req->data.nr == __NR_listen) {
    on_bind_or_listen(*req);
    return;
  }
  if (req->data.nr != __NR_connect) {
    if (other_notifications_) {
      other_notifications_(nfd, *req);
    } else {
      respond(nfd, req->id, 0, true);
    }
    return;
  }
  const pid_t pid = static_cast<pid_t>(req->pid);
  const int sockfd = static_cast<int>(req->data.args[0]);
  sockaddr_storage ss{};
  socklen_t len = static_cast<socklen_t>(req->data.args[2]);
  if (!read_sockaddr(pid, req->data.args[1], req->data.args[2], ss) || !id_valid(nfd, req->id)) {
    respond(nfd, req->id, EFAULT, false);
    return;
  }
  // Unix sockets and the sandbox's own loopback stay inside its namespaces: nothing to broker,
  // but only for a socket made in the sandbox's network namespace. One the gate handed over lives
  // in the host's, where a disconnect (AF_UNSPEC) and a second connect would reach the host's
  // loopback or anything the host reaches. So these connects are performed here, on the very
  // socket checked: a descriptor or sockaddr the program swaps after this check changes nothing.
  // A unix connect alone runs as the caller (its path is resolved in the caller's root, its
  // peer credentials are the caller's): a descriptor swapped in for it can only be one of the
  // gate's TCP sockets, where a unix sockaddr fails and an IP one meets Landlock, which refuses
  // every TCP connect the sandbox makes itself (launch.cc).
  // Without a network namespace, loopback is the host's, unix sockets cannot be made, and a
  // rewritten sockaddr meets Landlock's TCP rule and seccomp's refusal of other IP sockets.
  if (ss.ss_family == AF_UNIX || ss.ss_family == AF_UNSPEC ||
      (!host_network_ && is_sandbox_internal(ss))) {
    if (host_network_) {
      respond(nfd, req->id, 0, true);
      return;
    }
    CheckedSocket checked = sandbox_socket(pid, sockfd);
    if (checked.error == EACCES) {
      refuse_foreign_socket(req->id, pid, "connect", &ss);
    } else if (checked.error != 0) {
      respond(nfd, req->id, checked.error, false);
    } else if (ss.ss_family == AF_UNIX) {
      respond(nfd, req->id, 0, true);
    } else {
      connect_inside(req->id, std::move(checked), ss, len);
    }
    return;
  }
  if (host_network_ && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
    std::uint16_t dport = 0;
    (void)ip_of(ss, &dport);
    // The host's resolv.conf names some resolver: whichever it is, moat's stub answers.
    if (dport == 53) {
      redirect_to_stub(req->id, static_cast<pid_t>(req->pid),
                       static_cast<int>(req->data.args[0]));
      return;
    }
  }
  report::Event event;
  event.kind = "connect";
  event.pid = pid;
  event.layer = "gate";
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
    event.verdict = "refused";
    event.detail = {{"family", ss.ss_family}, {"reason", "address family not allowed"}};
    log_connect(std::move(event));
    respond(nfd, req->id, EAFNOSUPPORT, false);
    return;
  }
  std::uint16_t port = 0;
  IpAddress ip = ip_of(ss, &port);
  Allowlist::Verdict verdict;
  {
    std::lock_guard<std::mutex> lock(allowlist_mu_);
    verdict = allowlist_.check_connect(ip, port, Clock::now());
  }
  event.detail = {{"address", ip.to_string()}, {"port", port}, {"reason", verdict.reason}};
  if (!verdict.name.empty()) event.detail["name"] = verdict.name;
  if (!verdict.allowed) {
    event.verdict = "refused";
    log_connect(std::move(event));
    respond(nfd, req->id, EACCES, false);
    return;
  }
  const std::uint64_t id = req->id;
  // The notification names the thread that called connect(); a pidfd of that thread (not of
  // its process leader) reaches its descriptor table.
  int pidfd = pidfd_of_thread(pid);
  int original = pidfd < 0 ? -1 : static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, sockfd, 0));
  int fetch_err = errno;
  if (pidfd >= 0) ::close(pidfd);
  if (original < 0 || !id_valid(nfd, id)) {
    if (original >= 0) ::close(original);
    event.verdict = "failed";
    event.detail["reason"] = std::string("the gate could not take over the socket: ") +
                             std::strerror(original < 0 ? fetch_err : ESRCH);
    log_connect(std::move(event));
    respond(nfd, id, EBADF, false);
    return;
  }
  int type = 0;
  socklen_t optlen = sizeof(type);
  ::getsockopt(original, SOL_SOCKET, SO_TYPE, &type, &optlen);
  if (type != SOCK_STREAM) {
    ::close(original);
    event.verdict = "refused";
    event.detail["reason"] = "only TCP leaves the sandbox (QUIC and UDP fall back or fail)";
    log_connect(std::move(event));
    respond(nfd, id, EACCES, false);
    return;
  }
  const bool nonblocking = (::fcntl(original, F_GETFL) & O_NONBLOCK) != 0;
  const bool cloexec = fd_is_cloexec(pid, sockfd);
  // Allowed for a name (not by an address rule): the name it carries is checked, by the kernel
  // on the sandbox's own socket for HTTPS when it can (kernel_binding.h), else by the relay.
  const std::string bound_name = verdict.name;
  KernelBinding* kernel =
      !bound_name.empty() && port == kKernelBindingPort ? kernel_binding() : nullptr;
  const bool relay = !bound_name.empty() && kernel == nullptr;
  if (relay && (!relay_ || !relay_->has_room())) {
    ::close(original);
    event.verdict = "refused";
    event.detail["reason"] = relay_ ? "the gate is busy (too many relayed connections)"
                                    : "the gate cannot relay: " + relay_error_;
    log_connect(std::move(event));
    respond(nfd, id, relay_ ? ECONNREFUSED : EIO, false);
    return;
  }
  const ChangedOptions options = read_changed_options(original, ss.ss_family);
  int sock = start_connect_on_behalf(original, options, ss, len);
  // The loopback pair the sandbox will hold is made while our SYN is on its way: its cost hides
  // in the round trip to the server instead of adding to it.
  int outer = -1, inner = -1;
  if (relay && sock >= 0) {
    auto ends = make_relay_ends(*relay_, options, nonblocking);
    if (!ends) {
      ::close(original);
      ::close(sock);
      event.verdict = "failed";
      event.detail["error"] = ends.error().to_string();
      log_connect(std::move(event));
      respond(nfd, id, EIO, false);
      return;
    }
    std::tie(outer, inner) = *ends;
  }
  ::close(original);
  // Most connects finish within a few milliseconds: finish those here, hand the slow ones to a
  // worker so this loop keeps serving.
  auto finish = [this, nfd, id, sockfd, nonblocking, cloexec, bound_name, outer, inner, kernel,
                 options](int sock, int state, report::Event event) mutable {
    if (state <= 0) {
      int err = state < 0 ? -state : ETIMEDOUT;
      if (state == 0) ::close(sock);
      if (outer >= 0) ::close(outer);
      if (inner >= 0) ::close(inner);
      event.verdict = "failed";
      event.detail["error"] = std::strerror(err);
      log_connect(std::move(event));
      respond(nfd, id, err, false);
      return;
    }
    if (kernel != nullptr) {
      // Before the sandbox holds the socket: its first send may come at once.
      Status bound = kernel->bind(sock, id, bound_name);
      if (bound) {
        event.detail["binding"] = "kernel";
        await_kernel_verdict(id, event);
      } else {
        // The check is full or gone: the relay checks this one instead.
        auto ends = relay_ && relay_->has_room() ? make_relay_ends(*relay_, options, nonblocking)
                                                 : Result<std::pair<int, int>>(bound.error());
        if (!ends) {
          ::close(sock);
          event.verdict = "failed";
          event.detail["error"] = ends.error().to_string();
          log_connect(std::move(event));
          respond(nfd, id, EIO, false);
          return;
        }
        std::tie(outer, inner) = *ends;
      }
    }
    const bool relayed = outer >= 0;
    if (relayed) event.detail["binding"] = "relay";
    if (!relayed && !nonblocking) ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) & ~O_NONBLOCK);
    seccomp_notif_addfd addfd{};
    addfd.id = id;
    addfd.flags = SECCOMP_ADDFD_FLAG_SETFD;
    addfd.srcfd = static_cast<std::uint32_t>(relayed ? outer : sock);
    addfd.newfd = static_cast<std::uint32_t>(sockfd);
    addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
    int placed = ::ioctl(nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
    if (relayed) ::close(outer);  // the sandbox holds its own reference now
    if (placed < 0) {
      if (relayed) ::close(inner);
      ::close(sock);
      respond(nfd, id, EBADF, false);
      return;
    }
    respond(nfd, id, 0, false);  // connect() returns 0: the socket is connected
    // Logged once the program runs on: the log's lock and the audit file's write are not part
    // of its connect() (that includes reading the executable's name).
    event.verdict = "allowed";
    if (!relayed) {
      log_connect(std::move(event));
      ::close(sock);
      return;
    }
    report::EventLog::attribute(event);
    const report::Event binding_event = event;
    // From here the relay thread owns both ends; when it cannot take them (stopped, or the cap
    // was reached by a connect that finished meanwhile) they are closed and the sandbox sees
    // its connection end.
    Result<void> taken = relay_->add(sys::UniqueFd(inner), sys::UniqueFd(sock), bound_name,
                                     [this, binding_event](const BindingDecision& d) {
                                       if (d.binding == Binding::kRefused)
                                         log_binding_refusal(binding_event, d);
                                     });
    log_connect(std::move(event));
    if (!taken) {
      report::Event dropped = binding_event;
      dropped.verdict = "refused";
      dropped.detail["reason"] = taken.error().message;
      log_connect(std::move(dropped));
    }
  };
  if (sock < 0) {
    finish(-1, sock, std::move(event));
    return;
  }
  int state = wait_connected(sock, 5, stopping_);
  if (state != 0) {
    finish(sock, state, std::move(event));
    return;
  }
  report::Event busy = event;
  if (!spawn([this, sock, finish, event = std::move(event)]() mutable {
        finish(sock, wait_connected(sock, kConnectTimeoutMs, stopping_), std::move(event));
      })) {
    ::close(sock);
    if (outer >= 0) ::close(outer);
    if (inner >= 0) ::close(inner);
    busy.verdict = "refused";
    busy.detail["reason"] = "the gate is busy (too many connections in progress)";
    log_connect(std::move(busy));
    respond(nfd, id, ECONNREFUSED, false);
  }
}

std::vector<uint8_t> Gate::answer_query(std::span<const uint8_t> packet, bool tcp, pid_t pid) {
  auto query = parse_dns_query(packet);
  if (!query) {
    return build_dns_error(packet, query.error().code == ErrorCode::kUnsupported
                                       ? DnsRcode::kNotImp
                                       : DnsRcode::kFormErr);
  }
  const DnsQuestion& q = query->questions.front();
  const size_t limit = tcp ? 65535 : dns_udp_response_limit(*query);
  report::Event event;
  event.kind = "dns";
  event.pid = pid;
  report::EventLog::attribute(event);
  event.layer = "dns";
  event.detail = {{"name", q.name}, {"qtype", q.qtype}};
  bool allowed;
  {
    std::lock_guard<std::mutex> lock(allowlist_mu_);
    allowed = allowlist_.match_name(q.name) != nullptr;
  }
  if (allowed) start_kernel_load();  // a name-bound connect may follow
  if (!allowed) {
    // Never asked upstream: a forbidden name cannot carry data out (no DNS tunnelling).
    event.verdict = "refused";
    event.detail["reason"] = "not an allowed name";
    events_.add(std::move(event));
    return build_dns_response(*query, DnsRcode::kNxDomain, {}, limit);
  }
  DnsAnswer answer;
  if (q.qtype == 1 || q.qtype == 28) {
    Allowlist snapshot;
    {
      std::lock_guard<std::mutex> lock(allowlist_mu_);
      snapshot = allowlist_;
    }
    // The lookup runs on a thread that owns everything it touches, so a resolver that hangs
    // cannot keep us (or the Gate's destruction) waiting: after kUpstreamWait we answer SERVFAIL.
    Result<Resolution> resolved =
        Result<Resolution>(make_error(ErrorCode::kIo, "too many upstream lookups in progress"));
    if (g_pending_lookups.fetch_add(1) < kMaxPendingLookups) {
      auto promise = std::make_shared<std::promise<Result<Resolution>>>();
      std::future<Result<Resolution>> pending = promise->get_future();
      std::thread([promise, name = q.name, v6 = q.qtype == 28, snapshot = std::move(snapshot)] {
        promise->set_value(resolve_upstream(name, v6, snapshot));
        g_pending_lookups.fetch_sub(1);
      }).detach();
      resolved = pending.wait_for(kUpstreamWait) == std::future_status::ready
                     ? pending.get()
                     : Result<Resolution>(
                           make_error(ErrorCode::kIo, "upstream DNS did not answer in time"));
    } else {
      g_pending_lookups.fetch_sub(1);
    }
    if (!resolved) {
      event.verdict = "failed";
      event.detail["reason"] = resolved.error().message;
      events_.add(std::move(event));
      return build_dns_response(*query, DnsRcode::kServFail, {}, limit);
    }
    std::vector<IpAddress> handed;
    for (const IpAddress& a : resolved->addrs) {
      if (q.qtype == 1 && a.family == IpAddress::Family::kV4) {
        answer.a.push_back({a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]});
        handed.push_back(a);
      } else if (q.qtype == 28 && a.family == IpAddress::Family::kV6) {
        answer.aaaa.push_back(a.bytes);
        handed.push_back(a);
      }
    }
    answer.ttl = resolved->ttl;
    std::vector<std::pair<IpAddress, std::optional<std::uint16_t>>> grants;
    {
      std::lock_guard<std::mutex> lock(allowlist_mu_);
      allowlist_.record_resolution(q.name, handed, resolved->ttl, Clock::now());
      for (const IpAddress& a : handed) {
        if (!handout_hook_) break;
        for (std::optional<std::uint16_t> port : allowlist_.handout_ports(q.name, a)) {
          grants.emplace_back(a, port);
        }
      }
    }
    // Before the answer leaves: a client that connects at once must find the kernel layer ready.
    for (const auto& [address, port] : grants) handout_hook_(address, port);
    nlohmann::json list = nlohmann::json::array();
    for (const IpAddress& a : handed) list.push_back(a.to_string());
    event.detail["answers"] = list;
  }
  event.verdict = "allowed";
  events_.add(std::move(event));
  return build_dns_response(*query, DnsRcode::kNoError, answer, limit);
}

void Gate::on_udp_query() {
  std::vector<uint8_t> packet(4096);
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof(peer);
  ssize_t n = ::recvfrom(udp_.get(), packet.data(), packet.size(), MSG_DONTWAIT,
                         reinterpret_cast<sockaddr*>(&peer), &peer_len);
  if (n <= 0) return;
  packet.resize(static_cast<size_t>(n));
  const int udp = udp_.get();
  // Upstream lookups may take a while: answer from a worker so other queries are not held up.
  spawn([this, udp, packet = std::move(packet), peer, peer_len] {  // dropped when busy
    std::uint16_t port = peer.ss_family == AF_INET
                             ? ntohs(reinterpret_cast<const sockaddr_in*>(&peer)->sin_port)
                             : ntohs(reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_port);
    std::vector<uint8_t> reply = answer_query(packet, false, dns_asker(port, false));
    if (!reply.empty()) {
      ::sendto(udp, reply.data(), reply.size(), MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&peer), peer_len);
    }
  });
}

void Gate::on_tcp_accept() {
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof(peer);
  int conn = ::accept4(tcp_listener_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len,
                       SOCK_CLOEXEC);
  if (conn < 0) return;
  const std::uint16_t peer_port =
      peer.ss_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(&peer)->sin_port) : 0;
  bool served = spawn([this, conn, peer_port] {
    const pid_t asker = dns_asker(peer_port, true);
    timeval tv{1, 0};
    ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    // One deadline for the whole connection: trickling a byte a second does not keep it alive.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    DnsTcpDeframer reader;
    std::vector<uint8_t> chunk(4096), message;
    while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::recv(conn, chunk.data(), chunk.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) break;
      if (!reader.feed(std::span<const uint8_t>(chunk.data(), static_cast<size_t>(n))).ok()) break;
      bool ok = true;
      while (ok && reader.next(message)) {
        std::vector<uint8_t> reply = answer_query(message, true, asker);
        auto framed = frame_dns_tcp(reply);
        ok = framed.ok() && ::send(conn, framed->data(), framed->size(), MSG_NOSIGNAL) ==
                                static_cast<ssize_t>(framed->size());
      }
      if (!ok) break;
    }
    ::close(conn);
  });
  if (!served) ::close(conn);
}

}  // namespace moat::gate
