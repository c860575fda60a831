// Harness implementation: temp worlds with canaries, the moat-test user, fork/exec of `moat run` as a
// chosen identity with pipes or a pty, output capture with a hard timeout, and cleanup of leftovers.
#include "sandbox_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#ifndef MOAT_BINARY
#define MOAT_BINARY "moat"
#endif
#ifndef MOAT_PROBE
#define MOAT_PROBE "moat-probe"
#endif

namespace moat::testing {
namespace {

namespace fs = std::filesystem;

std::string random_tag() {
  std::random_device rd;
  static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 10; ++i) s += kAlnum[rd() % (sizeof kAlnum - 1)];
  return s;
}

// Runs argv as root and waits; returns the exit status (or -1).
int run_root(const std::vector<std::string>& argv) {
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> av;
    for (const auto& s : argv) av.push_back(const_cast<char*>(s.c_str()));
    av.push_back(nullptr);
    execv(av[0], av.data());
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void set_cloexec_all_above_2() {
  // close_range(3, ~0, CLOSE_RANGE_CLOEXEC): the exec closes everything we did not hand over.
  if (syscall(SYS_close_range, 3, ~0u, 4 /*CLOSE_RANGE_CLOEXEC*/) == 0) return;
  for (int fd = 3; fd < 1024; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void child_fail(const char* what) {
  char buf[256];
  int n = snprintf(buf, sizeof buf, "moat-test-harness: %s: %s\n", what, strerror(errno));
  if (write(2, buf, static_cast<size_t>(n)) < 0) {
  }
  _exit(120);
}

}  // namespace

bool must_work() {
  const char* v = getenv("MOAT_MUST_WORK");
  return v != nullptr && std::string(v) == "1";
}

std::string identity_name(Identity id) { return id == Identity::kRoot ? "root" : "user"; }

void PrintTo(Identity id, std::ostream* os) { *os << identity_name(id); }

std::optional<Account> ensure_test_user(std::string* why) {
  if (geteuid() != 0) {
    *why = "the suite must run as root to create and switch to the moat-test user";
    return std::nullopt;
  }
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (passwd* pw = getpwnam(kTestUser)) {
      return Account{pw->pw_uid, pw->pw_gid, kTestUser};
    }
    // Concurrent test processes may race on /etc/passwd's lock; the loser retries.
    if (run_root({"/usr/sbin/useradd", "-m", "-s", "/bin/sh", "-U", kTestUser}) == 0) continue;
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + attempt * 50));
  }
  *why = "cannot create user moat-test with useradd";
  return std::nullopt;
}

std::string moat_binary() {
  const char* v = getenv("MOAT_BIN");
  return v && *v ? v : MOAT_BINARY;
}

std::string probe_binary() {
  const char* v = getenv("MOAT_PROBE_BIN");
  return v && *v ? v : MOAT_PROBE;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) {
  struct stat st{};
  return lstat(path.c_str(), &st) == 0;
}

std::string file_sha(const std::string& path) {
  struct stat st{};
  if (lstat(path.c_str(), &st) != 0) return "<absent>";
  std::string c = read_file(path);
  return std::to_string(std::hash<std::string>{}(c)) + ":" + std::to_string(c.size()) + ":" +
         std::to_string(st.st_mode) + ":" + std::to_string(st.st_ino);
}

std::string RunResult::probe_line() const {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t ok = line.find("OK ");
    size_t er = line.find("ERR ");
    // With a pty the line may carry echoed input before it; take the report from where it starts.
    if (ok == 0 || er == 0) return line;
  }
  return "";
}

std::string RunResult::probe_errno() const {
  std::string l = probe_line();
  if (l.rfind("ERR ", 0) != 0) return "";
  size_t sp = l.find(' ', 4);
  return l.substr(4, sp == std::string::npos ? std::string::npos : sp - 4);
}

std::string RunResult::describe() const {
  std::ostringstream o;
  o << "status=" << status << (timed_out ? " (TIMED OUT)" : "") << " seconds=" << seconds
    << "\n--- stdout ---\n"
    << out.substr(0, 4000) << "\n--- stderr ---\n"
    << err.substr(0, 4000);
  if (!tty_pending.empty()) o << "\n--- pending terminal input ---\n" << tty_pending;
  return o.str();
}

Sandbox::Sandbox(Identity id, Account user) : id_(id), user_(std::move(user)) {
  if (id_ == Identity::kUser) {
    uid_ = user_.uid;
    gid_ = user_.gid;
  }
  char tmpl[] = "/var/tmp/moat-t-XXXXXX";
  if (!mkdtemp(tmpl)) {
    error_ = std::string("mkdtemp /var/tmp: ") + strerror(errno);
    return;
  }
  base_ = tmpl;
  chmod(base_.c_str(), 0755);
  tag_ = base_.substr(base_.rfind('-') + 1) + random_tag();
  project_ = base_ + "/project";
  home_ = base_ + "/home";
  outside_ = base_ + "/outside";
  make_dir(project_);
  make_dir(home_, 0700);
  make_dir(outside_);

  // The attacker's binary, in the (executable) project.
  std::error_code ec;
  fs::copy_file(probe_binary(), in_project("moat-probe"), ec);
  if (ec) {
    error_ = "copy " + probe_binary() + ": " + ec.message();
    return;
  }
  chmod(in_project("moat-probe").c_str(), 0755);
  if (chown(in_project("moat-probe").c_str(), uid_, gid_) != 0) {
  }

  // Canary secrets in every store the base profile must hide.
  auto plant = [&](const std::string& rel, const std::string& what, const std::string& fmt) {
    std::string c = canary(what);
    std::string content = fmt;
    content.replace(content.find("@"), 1, c);
    fs::path p = fs::path(home_) / rel;
    std::string dir = home_;
    for (const auto& part : fs::path(rel).parent_path()) {
      dir += "/" + part.string();
      make_dir(dir, 0700);
    }
    write_file(p.string(), content, 0600);
    secrets_.push_back({rel, c});
  };
  plant(".ssh/id_ed25519", "ssh",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n@\n-----END OPENSSH PRIVATE KEY-----\n");
  plant(".aws/credentials", "aws", "[default]\naws_access_key_id = AKIA0000\naws_secret_access_key = @\n");
  plant(".gnupg/private-keys-v1.d/key.key", "gnupg", "(private-key @)\n");
  plant(".config/gh/hosts.yml", "gh", "github.com:\n    oauth_token: @\n    user: moat\n");
  plant(".npmrc", "npmrc", "//registry.example.test/:_authToken=@\n");
  plant(".pypirc", "pypirc", "[pypi]\nusername = __token__\npassword = @\n");
  plant(".netrc", "netrc", "machine example.com login moat password @\n");
  plant(".git-credentials", "gitcred", "https://moat:@@github.com\n");
  plant(".docker/config.json", "docker", "{\"auths\":{\"r.example\":{\"auth\":\"@\"}}}\n");
  plant(".kube/config", "kube", "users:\n- name: moat\n  user:\n    token: @\n");
  plant(".config/gcloud/credentials.db", "gcloud", "refresh_token=@\n");
  plant(".config/git/credentials", "xdggitcred", "https://moat:@@github.com\n");
  plant(".pgpass", "pgpass", "db.example.test:5432:*:moat:@\n");
  plant(".bash_history", "history", "export GITHUB_TOKEN=@\n");
  plant(".mozilla/firefox/p.default/cookies.sqlite", "browser", "session=@\n");
  plant(".codex/auth.json", "codexauth", "{\"OPENAI_API_KEY\":\"@\"}\n");
  plant(".claude/.credentials.json", "claudeauth", "{\"accessToken\":\"@\"}\n");
  // Non-secret files the contract lets through read-only, and persistence targets.
  write_file(in_home(".gitconfig"), "[user]\n\tname = " + canary("gitconfig") + "\n\temail = t@example.com\n");
  write_file(in_home(".bashrc"), "# fake bashrc " + tag_ + "\n");
  write_file(in_home(".profile"), "# fake profile " + tag_ + "\n");
  // A secret outside project and home, readable by the identity: the /proc traversal target.
  write_file(in_outside("secret.txt"), canary("outside") + "\n");
}

Sandbox::~Sandbox() {
  kill_tagged();
  for (pid_t p : spawned_) {
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  std::error_code ec;
  for (const auto& p : cleanup_) fs::remove_all(p, ec);
  if (!base_.empty() && getenv("MOAT_KEEP_TMP") == nullptr) fs::remove_all(base_, ec);
}

std::string Sandbox::canary(std::string_view what) const {
  return "MOATCANARY_" + std::string(what) + "_" + tag_;
}

void Sandbox::write_file(const std::string& path, std::string_view content, mode_t mode,
                         bool own) const {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    ADD_FAILURE() << "harness: open " << path << ": " << strerror(errno);
    return;
  }
  if (write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    ADD_FAILURE() << "harness: write " << path;
  }
  fchmod(fd, mode);
  if (own && fchown(fd, uid_, gid_) != 0) ADD_FAILURE() << "harness: chown " << path;
  close(fd);
}

void Sandbox::make_dir(const std::string& path, mode_t mode, bool own) const {
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    ADD_FAILURE() << "harness: mkdir " << path << ": " << strerror(errno);
    return;
  }
  chmod(path.c_str(), mode);
  if (own && chown(path.c_str(), uid_, gid_) != 0) ADD_FAILURE() << "harness: chown " << path;
}

std::vector<std::string> Sandbox::base_env() const {
  std::string user = id_ == Identity::kRoot ? "root" : user_.name;
  // sandboxd: the one the test's environment names (a suite run through a daemon), else none, so
  // that a daemon running on this host does not change what the suites test.
  const char* sandboxd = std::getenv("MOAT_SANDBOXD_SOCKET");
  return {
      "HOME=" + home_,
      "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
      "USER=" + user,
      "LOGNAME=" + user,
      "LANG=C.UTF-8",
      "TERM=xterm",
      "MOAT_TEST_TAG=" + tag_,
      std::string("MOAT_SANDBOXD_SOCKET=") +
          (sandboxd != nullptr && *sandboxd != '\0' ? sandboxd : "/nonexistent/sandboxd.sock"),
  };
}

std::vector<std::string> Sandbox::probe(std::vector<std::string> verb_and_args) {
  verb_and_args.insert(verb_and_args.begin(), "./moat-probe");
  return verb_and_args;
}

RunResult Sandbox::moat(const std::vector<std::string>& cmd,
                        const std::vector<std::string>& moat_args, RunSpec spec) const {
  spec.argv = {moat_binary(), "run"};
  spec.argv.insert(spec.argv.end(), moat_args.begin(), moat_args.end());
  spec.argv.push_back("--");
  spec.argv.insert(spec.argv.end(), cmd.begin(), cmd.end());
  return run(spec);
}

RunResult Sandbox::direct(const std::vector<std::string>& cmd, RunSpec spec) const {
  spec.argv = cmd;
  return run(spec);
}

RunResult Sandbox::run(const RunSpec& spec) const {
  RunResult r;
  const bool as_user = id_ == Identity::kUser;
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1};
  int master = -1, slave = -1;
  if (spec.pty) {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
      r.err = std::string("harness: no pty: ") + strerror(errno);
      if (master >= 0) close(master);
      return r;
    }
    const char* name = ptsname(master);
    slave = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    if (slave < 0) {
      r.err = std::string("harness: open pty slave: ") + strerror(errno);
      close(master);
      return r;
    }
    if (as_user && fchown(slave, uid_, gid_) != 0) {
    }
  } else {
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
        pipe2(in_pipe, O_CLOEXEC) != 0) {
      r.err = "harness: pipe failed";
      return r;
    }
  }

  std::vector<std::string> env = base_env();
  for (const auto& [k, v] : spec.env) {
    std::erase_if(env, [&](const std::string& e) { return e.rfind(k + "=", 0) == 0; });
    env.push_back(k + "=" + v);
  }
  std::vector<char*> envp, argv;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string cwd = spec.cwd.empty() ? project_ : spec.cwd;

  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    r.err = "harness: fork failed";
    return r;
  }
  if (pid == 0) {
    // Child: terminal or pipes on 0-2, leaked fds, identity, cwd, exec. No allocation from here on.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    if (spec.pty) {
      if (setsid() < 0) child_fail("setsid");
      if (ioctl(slave, TIOCSCTTY, 0) < 0) child_fail("TIOCSCTTY");
      for (int fd = 0; fd < 3; ++fd) dup2(slave, fd);
    } else {
      setpgid(0, 0);
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
    }
    set_cloexec_all_above_2();
    for (const auto& [src, dst] : spec.leak_fds) {
      if (src == dst) {
        fcntl(src, F_SETFD, 0);
      } else if (dup2(src, dst) < 0) {
        child_fail("dup2 leaked fd");
      }
    }
    if (as_user) {
      gid_t g = gid_;
      if (setgroups(1, &g) != 0) child_fail("setgroups");
      if (setresgid(gid_, gid_, gid_) != 0) child_fail("setresgid");
      if (setresuid(uid_, uid_, uid_) != 0) child_fail("setresuid");
    }
    if (chdir(cwd.c_str()) != 0) child_fail("chdir");
    execve(argv[0], argv.data(), envp.data());
    child_fail(argv[0]);
  }

  // Parent.
  if (spec.pty) {
    if (!spec.stdin_data.empty()) {
      if (write(master, spec.stdin_data.data(), spec.stdin_data.size()) < 0) {
      }
    }
  } else {
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (!spec.stdin_data.empty()) {
      signal(SIGPIPE, SIG_IGN);
      if (write(in_pipe[1], spec.stdin_data.data(), spec.stdin_data.size()) < 0) {
      }
    }
    close(in_pipe[1]);
  }

  auto deadline = start + std::chrono::milliseconds(static_cast<long>(spec.timeout_s * 1000));
  std::optional<std::chrono::steady_clock::time_point> exited_at;
  int status = 0;
  bool reaped = false;
  auto last_data = start;
  std::vector<std::pair<int, std::string*>> fds;
  if (spec.pty) {
    fds = {{master, &r.out}};
  } else {
    fds = {{out_pipe[0], &r.out}, {err_pipe[0], &r.err}};
  }
  for (;;) {
    if (!reaped) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        reaped = true;
        exited_at = last_data = std::chrono::steady_clock::now();  // drain what is still buffered
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (!reaped && now > deadline) {
      r.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      reaped = true;
      exited_at = last_data = now;
    }
    bool open_left = false;
    std::vector<pollfd> pfds;
    for (const auto& [fd, sink] : fds) {
      if (fd >= 0) pfds.push_back({fd, POLLIN, 0});
    }
    open_left = !pfds.empty();
    // Leftover processes may hold our pipes open forever (and we hold the pty slave): after the
    // exit, stop at EOF, after 200 ms of silence, or after 1 s.
    if (reaped && (!open_left || now - *exited_at > std::chrono::seconds(1) ||
                   now - last_data > std::chrono::milliseconds(200))) {
      break;
    }
    if (!open_left) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    int n = poll(pfds.data(), pfds.size(), 20);
    if (n <= 0) continue;
    last_data = std::chrono::steady_clock::now();
    for (auto& [fd, sink] : fds) {
      for (const auto& p : pfds) {
        if (p.fd != fd || fd < 0 || p.revents == 0) continue;
        char buf[8192];
        ssize_t got = read(fd, buf, sizeof buf);
        if (got > 0) {
          sink->append(buf, static_cast<size_t>(got));
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          close(fd);
          fd = -1;
        }
      }
    }
  }
  for (auto& [fd, sink] : fds) {
    if (fd >= 0) close(fd);
  }
  if (spec.pty) {
    // What did the run leave in the terminal's input queue? A TIOCSTI injection lands here and would
    // be read by the user's shell once moat returns.
    int fl = fcntl(slave, F_GETFL);
    fcntl(slave, F_SETFL, fl | O_NONBLOCK);
    termios t{};
    if (tcgetattr(slave, &t) == 0) {
      t.c_lflag &= ~static_cast<tcflag_t>(ICANON);
      t.c_cc[VMIN] = 0;
      t.c_cc[VTIME] = 0;
      tcsetattr(slave, TCSANOW, &t);
    }
    char buf[4096];
    for (;;) {
      ssize_t got = read(slave, buf, sizeof buf);
      if (got <= 0) break;
      r.tty_pending.append(buf, static_cast<size_t>(got));
    }
    close(slave);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) {
    r.status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.status = 128 + WTERMSIG(status);
  }
  return r;
}

bool Sandbox::git_init(std::string* why) const {
  RunResult r = direct({"/usr/bin/git", "init", "-q", "-b", "main"});
  if (r.status != 0) {
    *why = "git init failed: " + r.describe();
    return false;
  }
  return true;
}

pid_t Sandbox::spawn_host_sleep(const std::string& canary) {
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    set_cloexec_all_above_2();
    if (id_ == Identity::kUser) {
      gid_t g = gid_;
      if (setgroups(1, &g) != 0 || setresgid(gid_, gid_, gid_) != 0 ||
          setresuid(uid_, uid_, uid_) != 0) {
        _exit(120);
      }
    }
    std::string e1 = "MOAT_HOST_SECRET=" + canary, e2 = "MOAT_TEST_TAG=" + tag_;
    char* envp[] = {e1.data(), e2.data(), nullptr};
    char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("300"), nullptr};
    execve(argv[0], argv, envp);
    _exit(127);
  }
  if (pid > 0) spawned_.push_back(pid);
  // Wait until the exec happened (the environ is the new one), so that controls see it.
  for (int i = 0; i < 100; ++i) {
    if (read_file("/proc/" + std::to_string(pid) + "/environ").find(canary) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

bool Sandbox::alive(pid_t pid) {
  // A zombie is dead: the test owns the child, so check its state rather than kill(pid, 0).
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  size_t rp = stat.rfind(')');
  return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] != 'Z' &&
         stat[rp + 2] != 'X';
}

void Sandbox::kill_tagged() const {
  if (tag_.empty()) return;
  // Anything still carrying our tag (in argv, e.g. a path under BASE, or in its environment) is a
  // leftover of this test: a daemon that escaped a broken sandbox, a fork bomb's children...
  for (int round = 0; round < 3; ++round) {
    DIR* d = opendir("/proc");
    if (!d) return;
    bool killed = false;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      pid_t p = atoi(e->d_name);
      if (p == getpid()) continue;
      std::string dir = std::string("/proc/") + e->d_name;
      std::string cmd = read_file(dir + "/cmdline");
      std::string env = read_file(dir + "/environ");
      if (cmd.find(tag_) != std::string::npos || cmd.find(base_) != std::string::npos ||
          env.find("MOAT_TEST_TAG=" + tag_) != std::string::npos) {
        kill(p, SIGKILL);
        killed = true;
      }
    }
    closedir(d);
    if (!killed) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void SandboxTest::SetUp() {
  std::string why;
  Account user;
  if (geteuid() != 0) {
    MOAT_SKIP_OR_FAIL("the integration and escape suites must run as root (they drop to moat-test)");
  }
  if (GetParam() == Identity::kUser) {
    auto acct = ensure_test_user(&why);
    if (!acct) MOAT_SKIP_OR_FAIL(why);
    user = *acct;
  }
  if (access(moat_binary().c_str(), X_OK) != 0) {
    FAIL() << "moat binary not found at " << moat_binary() << " (build target `moat`)";
  }
  sb_ = std::make_unique<Sandbox>(GetParam(), user);
  ASSERT_TRUE(sb_->ready()) << sb_->error();
}

}  // namespace moat::testing
