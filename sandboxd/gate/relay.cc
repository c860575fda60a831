// The decision reads at most the first request head or ClientHello; the relay then splices both
// directions on two threads and half-closes each side as its source ends.
#include "sandboxd/gate/relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "sandboxd/gate/http_request_head.h"
#include "sandboxd/gate/tls_client_hello.h"

namespace moat::gate {
namespace {

constexpr auto kFirstBytesDeadline = std::chrono::seconds(30);

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Moves everything from `from` to `to` through a pipe, then half-closes `to`.
void splice_all(int from, int to, const std::atomic<bool>& stopping) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return;
  while (!stopping) {
    ssize_t in = ::splice(from, nullptr, pipefd[1], nullptr, 1 << 16, SPLICE_F_MOVE | SPLICE_F_MORE);
    if (in < 0 && errno == EINTR) continue;
    if (in <= 0) break;
    bool ok = true;
    while (in > 0) {
      ssize_t out = ::splice(pipefd[0], nullptr, to, nullptr, static_cast<size_t>(in),
                             SPLICE_F_MOVE | SPLICE_F_MORE);
      if (out < 0 && errno == EINTR) continue;
      if (out <= 0) {
        ok = false;
        break;
      }
      in -= out;
    }
    if (!ok) break;
  }
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  ::shutdown(to, SHUT_WR);
}

bool write_all(int fd, const std::uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads more client bytes into `buf`; false on EOF, error or stop.
bool read_more(int fd, std::vector<std::uint8_t>& buf, const std::atomic<bool>& stopping) {
  std::uint8_t chunk[16384];
  while (!stopping) {
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, 250);
    if (n < 0 && errno != EINTR) return false;
    if (n <= 0) continue;
    ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    buf.insert(buf.end(), chunk, chunk + got);
    return true;
  }
  return false;
}

// Forwards `n` bytes of body: first what is buffered, then straight from the client.
bool forward_bytes(int client, int upstream, std::vector<std::uint8_t>& buf, std::uint64_t n,
                   const std::atomic<bool>& stopping) {
  while (n > 0) {
    if (buf.empty() && !read_more(client, buf, stopping)) return false;
    size_t take = static_cast<size_t>(std::min<std::uint64_t>(n, buf.size()));
    if (!write_all(upstream, buf.data(), take)) return false;
    buf.erase(buf.begin(), buf.begin() + static_cast<long>(take));
    n -= take;
  }
  return true;
}

// Forwards one chunked body (RFC 9112 §7.1) including its trailer section.
bool forward_chunked(int client, int upstream, std::vector<std::uint8_t>& buf,
                     const std::atomic<bool>& stopping) {
  auto line = [&](std::string* out) -> bool {  // one CRLF-terminated line, forwarded
    while (true) {
      for (size_t i = 0; i + 1 < buf.size(); ++i) {
        if (buf[i] == '\r' && buf[i + 1] == '\n') {
          out->assign(buf.begin(), buf.begin() + static_cast<long>(i));
          bool ok = write_all(upstream, buf.data(), i + 2);
          buf.erase(buf.begin(), buf.begin() + static_cast<long>(i + 2));
          return ok;
        }
      }
      if (buf.size() > 8192 || !read_more(client, buf, stopping)) return false;
    }
  };
  std::string text;
  while (true) {
    if (!line(&text)) return false;
    std::uint64_t size = std::strtoull(text.c_str(), nullptr, 16);  // extensions after ';'
    if (size == 0) break;
    if (!forward_bytes(client, upstream, buf, size + 2, stopping)) return false;  // data + CRLF
  }
  do {  // trailer fields, then the empty line
    if (!line(&text)) return false;
  } while (!text.empty());
  return true;
}

}  // namespace

BindingDecision decide_binding(std::span<const std::uint8_t> bytes, std::string_view expected) {
  BindingDecision d;
  if (bytes.empty()) return d;
  const std::string want = lower(expected);
  if (bytes[0] == 0x16) {
    d.protocol = "tls";
    ClientHelloResult hello = parse_client_hello(bytes);
    if (hello.state == ParseState::kNeedMore) return d;
    if (hello.state != ParseState::kDone) {
      d.binding = Binding::kRefused;
      d.reason = "TLS ClientHello refused: " + hello.error;
      return d;
    }
    if (hello.info.has_ech) {
      d.binding = Binding::kRefused;
      d.reason = "encrypted ClientHello (ECH) hides the server name from the gate";
      return d;
    }
    if (!hello.info.sni) {
      d.binding = Binding::kRefused;
      d.reason = "TLS without SNI to an address allowed for " + want;
      return d;
    }
    d.seen = *hello.info.sni;
    d.binding = d.seen == want ? Binding::kAllowed : Binding::kRefused;
    d.reason = d.binding == Binding::kAllowed
                   ? "SNI " + d.seen + " matches"
                   : "SNI " + d.seen + " does not match " + want + " (domain fronting)";
    return d;
  }
  HttpHeadResult head = parse_http_request_head(bytes);
  if (head.state == ParseState::kNotHttp) {
    d.protocol = "other";
    d.binding = Binding::kAllowed;
    d.reason = "not TLS or HTTP: bound to the address only";
    return d;
  }
  d.protocol = "http";
  if (head.state == ParseState::kNeedMore) return d;
  if (head.state != ParseState::kDone) {
    d.binding = Binding::kRefused;
    d.reason = head.state == ParseState::kHttp2 ? "HTTP/2 without TLS carries no checkable host"
                                                : "HTTP request refused: " + head.error;
    return d;
  }
  d.seen = head.info.host;
  d.binding = d.seen == want ? Binding::kAllowed : Binding::kRefused;
  d.reason = d.binding == Binding::kAllowed
                 ? "Host " + d.seen + " matches"
                 : "Host " + (d.seen.empty() ? std::string("(none)") : d.seen) +
                       " does not match " + want + " (domain fronting)";
  return d;
}

void relay_bound(int client, int upstream, std::string expected_name,
                 const std::function<void(const BindingDecision&)>& on_decision,
                 const std::atomic<bool>& stopping) {
  // Server to client at once: protocols where the server speaks first must not wait for us.
  std::thread down([&] { splice_all(upstream, client, stopping); });
  std::vector<std::uint8_t> head;
  BindingDecision decision;
  std::uint8_t chunk[4096];
  // The client must name its host within kFirstBytesDeadline: a connection that never does
  // (slowloris) would otherwise hold the gate's threads for the whole run.
  const auto deadline = std::chrono::steady_clock::now() + kFirstBytesDeadline;
  while (!stopping && decision.binding == Binding::kNeedMore && head.size() < 70 * 1024 &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd p{client, POLLIN, 0};
    int n = ::poll(&p, 1, 250);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    ssize_t got = ::recv(client, chunk, sizeof(chunk), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    head.insert(head.end(), chunk, chunk + got);
    decision = decide_binding(head, expected_name);
  }
  if (decision.binding == Binding::kNeedMore && !stopping) {
    decision.binding = Binding::kRefused;
    decision.reason = head.empty() ? "the client sent nothing within the first-bytes deadline"
                                   : "the client stopped before its first request or "
                                     "ClientHello was complete";
  }
  if (decision.binding != Binding::kNeedMore) on_decision(decision);
  bool ok = decision.binding == Binding::kAllowed;
  if (ok && decision.protocol == "http") {
    // Plain HTTP: every request on the connection names its host (keep-alive, pipelining),
    // so each head is checked; bodies are skipped by their framing.
    std::vector<std::uint8_t> buf = std::move(head);
    while (ok && !stopping) {
      HttpHeadResult req = parse_http_request_head(buf);
      if (req.state == ParseState::kNeedMore) {
        if (!read_more(client, buf, stopping)) break;  // the client is done
        continue;
      }
      BindingDecision next = decide_binding(buf, expected_name);
      if (next.binding != Binding::kAllowed) {
        on_decision(next);
        ok = false;
        break;
      }
      if (req.info.upgrade) {  // another protocol from here on
        ok = write_all(upstream, buf.data(), buf.size());
        if (ok) splice_all(client, upstream, stopping);
        break;
      }
      ok = write_all(upstream, buf.data(), req.info.head_length);
      buf.erase(buf.begin(), buf.begin() + static_cast<long>(req.info.head_length));
      if (ok && req.info.chunked) ok = forward_chunked(client, upstream, buf, stopping);
      if (ok && req.info.content_length) {
        ok = forward_bytes(client, upstream, buf, *req.info.content_length, stopping);
      }
    }
    if (ok) ::shutdown(upstream, SHUT_WR);
  } else if (ok && write_all(upstream, head.data(), head.size())) {
    splice_all(client, upstream, stopping);
  } else {
    ok = false;
  }
  if (!ok) {
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(upstream, SHUT_RDWR);
  }
  down.join();
}

bool make_loopback_pair(int* outer, int* inner) {
  // A listener of its own for every pair: no other relay can accept our connection, and a
  // stranger connecting to the ephemeral port is recognised by its port and closed.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listener < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int out = -1;
  bool ok = ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            ::listen(listener, 4) == 0 &&
            ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
            (out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
            ::connect(out, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  if (!ok) {
    if (out >= 0) ::close(out);
    ::close(listener);
    return false;
  }
  sockaddr_in mine{};
  socklen_t mine_len = sizeof(mine);
  ::getsockname(out, reinterpret_cast<sockaddr*>(&mine), &mine_len);
  for (int tries = 0; tries < 8; ++tries) {
    sockaddr_in peer{};
    socklen_t peer_len = sizeof(peer);
    int in = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                       SOCK_CLOEXEC);
    if (in < 0) {
      if (errno != EAGAIN && errno != EINTR) break;
      pollfd p{listener, POLLIN, 0};
      ::poll(&p, 1, 100);  // our connect completed: it is queued, or arrives at once
      continue;
    }
    if (peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr) {
      int one = 1;
      ::setsockopt(in, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ::fcntl(in, F_SETFL, ::fcntl(in, F_GETFL) & ~O_NONBLOCK);
      ::close(listener);
      *outer = out;
      *inner = in;
      return true;
    }
    ::close(in);  // a stranger raced us to the port
  }
  ::close(out);
  ::close(listener);
  errno = EIO;
  return false;
}

}  // namespace moat::gate
