// bench/network's two ends. `serve PORT`: accepts forever; a connection that sends 'b' + 8-byte
// count gets that many bytes back, any other first byte closes it. `connect HOST PORT N`: N
// connects (each sends one byte), prints the median in microseconds. `bulk HOST PORT BYTES`:
// MiB/s. Neither sends TLS or HTTP, so a relaying gate allows them as "other" at the first byte.
// `connect-tls` and `bulk-tls` first send a TLS ClientHello naming HOST (as an HTTPS client
// would; the gate checks its SNI), which the server reads and skips.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Resolves once (through the sandbox's DNS when run inside moat) and connects.
int dial(const char* host, int port) {
  static sockaddr_in addr = [host, port] {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host, nullptr, &hints, &res) != 0 || res == nullptr) {
      std::fprintf(stderr, "cannot resolve %s\n", host);
      std::exit(2);
    }
    sockaddr_in a = *reinterpret_cast<sockaddr_in*>(res->ai_addr);
    a.sin_port = htons(static_cast<uint16_t>(port));
    freeaddrinfo(res);
    return a;
  }();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("connect");
    std::exit(2);
  }
  return fd;
}

bool read_all(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t got = read(fd, p, n);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

void append16(std::vector<unsigned char>& b, size_t v) {
  b.push_back(static_cast<unsigned char>(v >> 8));
  b.push_back(static_cast<unsigned char>(v));
}

// A minimal TLS 1.3-shaped ClientHello record with server_name NAME.
std::vector<unsigned char> client_hello(const char* name) {
  const size_t n = std::strlen(name);
  std::vector<unsigned char> ext;
  append16(ext, 0);
  append16(ext, n + 5);
  append16(ext, n + 3);
  ext.push_back(0);
  append16(ext, n);
  ext.insert(ext.end(), name, name + n);
  std::vector<unsigned char> body = {3, 3};
  body.insert(body.end(), 32, 0x11);
  body.insert(body.end(), {0, 0, 2, 0x13, 0x01, 1, 0});
  append16(body, ext.size());
  body.insert(body.end(), ext.begin(), ext.end());
  std::vector<unsigned char> record = {0x16, 3, 1};
  append16(record, body.size() + 4);
  record.insert(record.end(), {1, 0});
  append16(record, body.size());
  record.insert(record.end(), body.begin(), body.end());
  return record;
}

void send_hello(int fd, const char* name) {
  const std::vector<unsigned char> hello = client_hello(name);
  (void)!write(fd, hello.data(), hello.size());
}

void serve_one(int fd) {
  char op = 0;
  bool ok = read(fd, &op, 1) == 1;
  if (ok && op == 0x16) {  // a ClientHello first: skip its record
    unsigned char header[4];
    std::vector<char> record;
    ok = read_all(fd, header, sizeof(header));
    if (ok) record.resize(static_cast<size_t>(header[2] << 8 | header[3]));
    ok = ok && read_all(fd, record.data(), record.size()) && read(fd, &op, 1) == 1;
  }
  if (ok && op == 'b') {
    uint64_t left = 0;
    if (read(fd, &left, sizeof(left)) == sizeof(left)) {
      std::vector<char> chunk(1 << 20, 'x');
      while (left > 0) {
        ssize_t n = write(fd, chunk.data(), std::min<uint64_t>(left, chunk.size()));
        if (n <= 0) break;
        left -= static_cast<uint64_t>(n);
      }
    }
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "serve") == 0) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
    if (bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(ls, 512) != 0) {
      std::perror("bind/listen");
      return 2;
    }
    while (true) {
      int fd = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) std::thread(serve_one, fd).detach();
    }
  }
  const bool tls = argc >= 2 && std::strstr(argv[1], "-tls") != nullptr;
  if (argc >= 5 &&
      (std::strcmp(argv[1], "connect") == 0 || std::strcmp(argv[1], "connect-tls") == 0)) {
    int n = std::atoi(argv[4]);
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      int fd = dial(argv[2], std::atoi(argv[3]));
      auto t1 = Clock::now();
      if (tls) send_hello(fd, argv[2]);
      char c = 0x01;  // not 'c': a lone letter could still become an HTTP method
      (void)!write(fd, &c, 1);
      // The server closes first, so TIME_WAIT stays on its side: thousands of client-side
      // TIME_WAITs to one address would exhaust the ephemeral ports and slow later connects.
      (void)!read(fd, &c, 1);
      close(fd);
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    std::sort(us.begin(), us.end());
    std::printf("%.1f\n", us[us.size() / 2]);
    return 0;
  }
  if (argc >= 5 && (std::strcmp(argv[1], "bulk") == 0 || std::strcmp(argv[1], "bulk-tls") == 0)) {
    uint64_t bytes = std::strtoull(argv[4], nullptr, 10);
    int fd = dial(argv[2], std::atoi(argv[3]));
    char op = 'b';
    auto t0 = Clock::now();
    if (tls) send_hello(fd, argv[2]);
    (void)!write(fd, &op, 1);
    (void)!write(fd, &bytes, sizeof(bytes));
    std::vector<char> buf(1 << 20);
    uint64_t got = 0;
    while (got < bytes) {
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      got += static_cast<uint64_t>(n);
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("%.0f\n", static_cast<double>(got) / (1 << 20) / s);
    return got == bytes ? 0 : 1;
  }
  std::fprintf(
      stderr,
      "usage: net_tool serve PORT | connect[-tls] HOST PORT N | bulk[-tls] HOST PORT BYTES\n");
  return 2;
}
