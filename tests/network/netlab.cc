// NetLab: netns + veth test hosts (registry, collector) for the network suite. See netlab.h.
#include "netlab.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

namespace moat::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kStateDir[] = "/run/moat-netlab";

// The collector: one thread per socket; every accept, every byte and every datagram is a log line.
constexpr char kCollectorPy[] = R"PY(
import socket, sys, threading, os
log_path, ready_path, v4, v6 = sys.argv[1:5]
tcp_ports = [int(p) for p in sys.argv[5].split(',')]
udp_ports = [int(p) for p in sys.argv[6].split(',')]
lock = threading.Lock()
def rec(line):
    with lock:
        with open(log_path, 'a') as f:
            f.write(line + '\n')
def drain(c, port):
    try:
        c.settimeout(1.5)
        data = c.recv(4096)
        rec('tcp %d data %s' % (port, data[:512].hex()))
        c.sendall(b'HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\ncollector\n')
    except Exception as e:
        rec('tcp %d nodata %s' % (port, type(e).__name__))
    finally:
        c.close()
def tcp(fam, addr, port):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(64)
    def loop():
        while True:
            c, peer = s.accept()
            rec('tcp %d accept %s' % (port, peer[0]))
            threading.Thread(target=drain, args=(c, port), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
def udp(fam, addr, port):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))
    def loop():
        while True:
            data, peer = s.recvfrom(65535)
            rec('udp %d from %s len %d data %s' % (port, peer[0], len(data), data[:512].hex()))
    threading.Thread(target=loop, daemon=True).start()
for fam, addr in ((socket.AF_INET, v4), (socket.AF_INET6, v6)):
    for p in tcp_ports: tcp(fam, addr, p)
    for p in udp_ports: udp(fam, addr, p)
open(ready_path, 'w').write('ready\n')
threading.Event().wait()
)PY";

std::unique_ptr<NetLab>& the_lab() {
  static std::unique_ptr<NetLab> lab;
  return lab;
}
std::string& the_error() {
  static std::string e;
  return e;
}

bool tcp_up(const std::string& addr, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  close(fd);
  return ok;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Removes what a lab with index X left behind (its process is gone).
void destroy_lab(int x) {
  std::string n = "mnl" + std::to_string(x);
  for (const char* role : {"r", "c"}) {
    std::string ns = n + role;
    sh("for p in $(ip netns pids " + ns + " 2>/dev/null); do kill -9 $p; done");
    sh("ip netns del " + ns + " 2>/dev/null");
    sh("ip link del " + ns + " 2>/dev/null");
  }
  std::error_code ec;
  fs::remove_all("/var/tmp/moat-netlab-" + std::to_string(x), ec);
  fs::remove(std::string(kStateDir) + "/" + std::to_string(x), ec);
}

void sweep_stale() {
  std::error_code ec;
  if (!fs::exists(kStateDir, ec)) return;
  for (const auto& e : fs::directory_iterator(kStateDir, ec)) {
    int x = atoi(e.path().filename().c_str());
    int pid = atoi(slurp(e.path().string()).c_str());
    if (x <= 0 || pid <= 0) continue;
    // Its owner still runs (a zombie whose parent has not reaped it yet is dead).
    std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    size_t rp = stat.rfind(')');
    if (rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] != 'Z' && stat[rp + 2] != 'X') {
      continue;
    }
    destroy_lab(x);
  }
}

}  // namespace

int sh(const std::string& cmd, std::string* out) {
  FILE* f = popen(("exec 2>&1; " + cmd).c_str(), "r");
  if (!f) return -1;
  std::string o;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) o.append(buf, n);
  int st = pclose(f);
  if (out) *out = o;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const std::vector<int>& NetLab::collector_tcp_ports() {
  static const std::vector<int> p = {80, 8080, 4444, 443, 53};
  return p;
}
const std::vector<int>& NetLab::collector_udp_ports() {
  static const std::vector<int> p = {53, 4444};
  return p;
}

NetLab* NetLab::get() { return the_lab().get(); }
const std::string& NetLab::error() { return the_error(); }

void NetLab::set_up() {
  if (the_lab() || !the_error().empty()) return;
  if (geteuid() != 0) {
    the_error() = "the network lab needs root (ip netns, veth)";
    return;
  }
  auto lab = std::make_unique<NetLab>();
  std::string why;
  if (!lab->start(&why)) {
    lab->stop();
    the_error() = why.empty() ? "network lab setup failed" : why;
    return;
  }
  the_lab() = std::move(lab);
  std::atexit([] { tear_down(); });
}

void NetLab::tear_down() {
  if (the_lab()) {
    the_lab()->stop();
    the_lab().reset();
  }
}

pid_t NetLab::spawn_in(const std::string& ns, const std::vector<std::string>& argv,
                       const std::string& log) {
  std::vector<std::string> full = {"/usr/sbin/ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int in = open("/dev/null", O_RDONLY);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    std::vector<char*> av;
    for (auto& s : full) av.push_back(s.data());
    av.push_back(nullptr);
    execv(av[0], av.data());
    _exit(127);
  }
  if (pid > 0) children_.push_back(pid);
  return pid;
}

bool NetLab::start(std::string* why) {
  sweep_stale();
  mkdir(kStateDir, 0700);
  std::random_device rd;
  std::string out;
  // Claim an index: free in the routing table, and the veth name (created atomically) is ours.
  for (int attempt = 0; attempt < 40 && x_ < 0; ++attempt) {
    int x = 100 + static_cast<int>(rd() % 150);
    std::string pre = "10.77." + std::to_string(x) + ".";
    sh("ip -o -4 addr; ip -4 route show table all", &out);
    if (out.find(" " + pre) != std::string::npos || out.find("\n" + pre) != std::string::npos ||
        out.rfind(pre, 0) == 0) {
      continue;
    }
    std::string n = "mnl" + std::to_string(x);
    if (sh("ip link add " + n + "r type veth peer name " + n + "rp") != 0) continue;
    x_ = x;
  }
  if (x_ < 0) {
    *why = "no free 10.77.X.0/24 for the lab";
    return false;
  }
  std::string xs = std::to_string(x_), n = "mnl" + xs;
  {
    std::ofstream st(std::string(kStateDir) + "/" + xs);
    st << getpid() << "\n";
  }
  reg_ns_ = n + "r";
  col_ns_ = n + "c";
  reg_if_ = n + "r";
  col_if_ = n + "c";
  reg4_ = "10.77." + xs + ".2";
  col4_ = "10.77." + xs + ".3";
  host4_ = "10.77." + xs + ".1";
  std::string host4c = "10.77." + xs + ".4";
  char h6[64];
  snprintf(h6, sizeof h6, "fd77::%x", x_);
  col6_ = std::string(h6) + ":3";
  host6_ = std::string(h6) + ":1";
  dir_ = "/var/tmp/moat-netlab-" + xs;
  fs::remove_all(dir_);
  fs::create_directories(dir_ + "/www");
  chmod(dir_.c_str(), 0755);
  col_log_ = dir_ + "/collector.log";

  const std::vector<std::string> cmds = {
      "ip netns add " + reg_ns_,
      "ip netns add " + col_ns_,
      // The registry's pair was created while claiming the index; move its peer in.
      "ip link set " + reg_if_ + "p netns " + reg_ns_ + " name eth0",
      "ip link add " + col_if_ + " type veth peer name eth0 netns " + col_ns_,
      "ip addr add " + host4_ + "/32 dev " + reg_if_,
      "ip addr add " + host4c + "/32 dev " + col_if_,
      "ip -6 addr add " + host6_ + "/128 dev " + col_if_ + " nodad",
      "ip link set " + reg_if_ + " up",
      "ip link set " + col_if_ + " up",
      "ip route add " + reg4_ + "/32 dev " + reg_if_ + " src " + host4_,
      "ip route add " + col4_ + "/32 dev " + col_if_ + " src " + host4c,
      "ip -6 route add " + col6_ + "/128 dev " + col_if_ + " src " + host6_,
      "ip -n " + reg_ns_ + " link set lo up",
      "ip -n " + reg_ns_ + " addr add " + reg4_ + "/24 dev eth0",
      "ip -n " + reg_ns_ + " link set eth0 up",
      "ip -n " + col_ns_ + " link set lo up",
      "ip -n " + col_ns_ + " addr add " + col4_ + "/24 dev eth0",
      "ip -n " + col_ns_ + " -6 addr add " + col6_ + "/64 dev eth0 nodad",
      "ip -n " + col_ns_ + " link set eth0 up",
  };
  for (const auto& c : cmds) {
    if (sh(c, &out) != 0) {
      *why = "lab setup: `" + c + "` failed: " + out;
      return false;
    }
  }

  // Registry: HTTP (python3 http.server) and TLS (openssl s_server -www, self-signed).
  body_ = "moat-registry-body-" + xs + "-" + std::to_string(getpid()) + "-" + std::to_string(rd());
  {
    std::ofstream f(dir_ + "/www/index.html");
    f << body_ << "\n";
  }
  // A git repository served over dumb HTTP, for `git clone` through the gate.
  if (sh("set -e; src=" + dir_ + "/src; git init -q \"$src\"; echo " + body_ +
             " > \"$src/README\"; git -C \"$src\" add README; git -C \"$src\" -c user.name=t "
             "-c user.email=t@example.com commit -qm init; git clone -q --bare \"$src\" " +
             dir_ + "/www/repo.git; git -C " + dir_ + "/www/repo.git update-server-info; "
             "chmod -R a+rX " + dir_ + "/www",
         &out) != 0) {
    *why = "git repository setup failed: " + out;
    return false;
  }
  if (sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
             dir_ + "/key.pem -out " + dir_ + "/cert.pem -subj /CN=registry.test -days 2",
         &out) != 0) {
    *why = "openssl req failed: " + out;
    return false;
  }
  spawn_in(reg_ns_,
           {"/usr/bin/python3", "-m", "http.server", std::to_string(kRegistryHttpPort), "--bind",
            reg4_, "--directory", dir_ + "/www"},
           dir_ + "/registry-http.log");
  spawn_in(reg_ns_,
           {"/usr/bin/openssl", "s_server", "-quiet", "-www", "-accept", std::to_string(kRegistryTlsPort),
            "-cert", dir_ + "/cert.pem", "-key", dir_ + "/key.pem"},
           dir_ + "/registry-tls.log");

  // Collector.
  {
    std::ofstream f(dir_ + "/collector.py");
    f << kCollectorPy;
  }
  auto join = [](const std::vector<int>& v) {
    std::string s;
    for (int p : v) s += (s.empty() ? "" : ",") + std::to_string(p);
    return s;
  };
  spawn_in(col_ns_,
           {"/usr/bin/python3", dir_ + "/collector.py", col_log_, dir_ + "/collector.ready", col4_,
            col6_, join(collector_tcp_ports()), join(collector_udp_ports())},
           dir_ + "/collector.out");

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool http = false, tls = false, col = false;
  while (std::chrono::steady_clock::now() < deadline && !(http && tls && col)) {
    http = http || tcp_up(reg4_, kRegistryHttpPort);
    tls = tls || tcp_up(reg4_, kRegistryTlsPort);
    col = col || access((dir_ + "/collector.ready").c_str(), F_OK) == 0;
    if (!(http && tls && col)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!(http && tls && col)) {
    *why = "lab servers did not come up: http=" + std::to_string(http) + " tls=" + std::to_string(tls) +
           " collector=" + std::to_string(col) + "\n" + slurp(dir_ + "/registry-http.log") +
           slurp(dir_ + "/registry-tls.log") + slurp(dir_ + "/collector.out");
    return false;
  }
  // The readiness probes of the registry are not the collector's business; start its log empty.
  return true;
}

void NetLab::stop() {
  for (pid_t p : children_) {
    kill(-p, SIGKILL);
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  children_.clear();
  if (x_ >= 0 && getenv("MOAT_KEEP_NETLAB") == nullptr) destroy_lab(x_);
  x_ = -1;
}

std::vector<std::string> NetLab::collector_log() const {
  std::vector<std::string> lines;
  std::istringstream in(slurp(col_log_));
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) lines.push_back(l);
  }
  return lines;
}

std::vector<std::string> NetLab::collector_since(size_t from) const {
  auto all = collector_log();
  if (from >= all.size()) return {};
  return {all.begin() + static_cast<long>(from), all.end()};
}

bool NetLab::wait_collector_beyond(size_t from, double timeout_s) const {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  for (;;) {
    if (collector_count() > from) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void NetLab::wait_quiet(double timeout_s) const {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  for (;;) {
    size_t accepts = 0, done = 0;
    for (const auto& l : collector_log()) {
      if (l.rfind("tcp ", 0) != 0) continue;
      if (l.find(" accept ") != std::string::npos) ++accepts;
      if (l.find(" data ") != std::string::npos || l.find(" nodata ") != std::string::npos) ++done;
    }
    if ((accepts <= done) || std::chrono::steady_clock::now() > deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace moat::testing
