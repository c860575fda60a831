// bench/network's two ends. `serve PORT`: accepts forever; a connection that sends 'b' + 8-byte
// count gets that many bytes back, any other first byte closes it. `connect HOST PORT N`: N
// connects (each sends one byte), prints the median in microseconds. `bulk HOST PORT BYTES`:
// MiB/s. Neither sends TLS or HTTP, so a relaying gate allows them as "other" at the first byte.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netdb.h>
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

void serve_one(int fd) {
  char op = 0;
  if (read(fd, &op, 1) == 1 && op == 'b') {
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
  if (argc >= 5 && std::strcmp(argv[1], "connect") == 0) {
    int n = std::atoi(argv[4]);
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      int fd = dial(argv[2], std::atoi(argv[3]));
      auto t1 = Clock::now();
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
  if (argc >= 5 && std::strcmp(argv[1], "bulk") == 0) {
    uint64_t bytes = std::strtoull(argv[4], nullptr, 10);
    int fd = dial(argv[2], std::atoi(argv[3]));
    char op = 'b';
    auto t0 = Clock::now();
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
  std::fprintf(stderr, "usage: net_tool serve PORT | connect HOST PORT N | bulk HOST PORT BYTES\n");
  return 2;
}
