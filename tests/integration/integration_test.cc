// Integration suite: ordinary work must keep working inside `moat run` (compilers, git, shells,
// interpreters, exit codes, profiles, --allow-write), as root and as the moat-test user.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "sandbox_harness.h"

namespace moat::testing {
namespace {

class Integration : public SandboxTest {};

TEST_P(Integration, EchoHello) {
  RunResult r = sb().moat({"/bin/echo", "hi"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "hi\n") << r.describe();
}

TEST_P(Integration, RunsAsInvokingUser) {
  RunResult r = sb().moat(Sandbox::probe({"id"}));
  EXPECT_NE(r.out.find("OK uid=" + std::to_string(sb().uid()) + " euid=" + std::to_string(sb().uid())),
            std::string::npos)
      << r.describe();
  EXPECT_NE(r.out.find(" gid=" + std::to_string(sb().gid())), std::string::npos) << r.describe();
}

TEST_P(Integration, ExitCodes) {
  EXPECT_EQ(sb().moat({"/bin/sh", "-c", "exit 0"}).status, 0);
  RunResult three = sb().moat({"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(three.status, 3) << three.describe();
  RunResult missing = sb().moat({"/nonexistent/moat-no-such-command"});
  EXPECT_EQ(missing.status, 127) << missing.describe();
  RunResult missing_path = sb().moat({"moat-no-such-command-in-path"});
  EXPECT_EQ(missing_path.status, 127) << missing_path.describe();
  sb().write_file(sb().in_project("not-executable.sh"), "#!/bin/sh\necho ran\n", 0644);
  RunResult noexec = sb().moat({"./not-executable.sh"});
  EXPECT_EQ(noexec.status, 126) << noexec.describe();
  EXPECT_EQ(noexec.out.find("ran"), std::string::npos);
  RunResult term = sb().moat({"/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(term.status, 128 + SIGTERM) << term.describe();
  RunResult killed = sb().moat({"/bin/sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(killed.status, 128 + SIGKILL) << killed.describe();
}

TEST_P(Integration, BadProfileIsSetupErrorAndStartsNothing) {
  std::string marker = sb().in_project("started");
  std::string bad = sb().base() + "/bad.yaml";
  sb().write_file(bad, "version: 1\nfilesystem:\n  wirte: [/tmp]\n");
  RunResult r = sb().moat({"/bin/touch", marker}, {"-p", bad});
  EXPECT_EQ(r.status, 125) << r.describe();
  EXPECT_FALSE(exists(marker)) << "the command ran despite a bad profile";
  EXPECT_NE(r.err.find("wirte"), std::string::npos) << "the diagnostic should name the bad key\n"
                                                      << r.describe();
  RunResult unknown = sb().moat({"/bin/touch", marker}, {"--profile", "no-such-profile-" + sb().tag()});
  EXPECT_EQ(unknown.status, 125) << unknown.describe();
  EXPECT_FALSE(exists(marker));
  RunResult bad_flag = sb().moat({"/bin/touch", marker}, {"--net", "sideways"});
  EXPECT_EQ(bad_flag.status, 125) << bad_flag.describe();
  EXPECT_FALSE(exists(marker));
}

TEST_P(Integration, CompilerHelloWorld) {
  sb().write_file(sb().in_project("hello.c"),
                  "#include <stdio.h>\nint main(void){puts(\"hello from moat\");return 0;}\n");
  RunResult r = sb().moat({"/bin/sh", "-c", "cc -O1 -o hello hello.c && ./hello"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "hello from moat\n") << r.describe();
  EXPECT_TRUE(exists(sb().in_project("hello"))) << "the binary was not written to the host project";
}

// `.git/hooks` and `.git/config` are protected even before they exist, so a repository is created
// outside the sandbox; inside it, add and commit work.
TEST_P(Integration, GitInitAddCommit) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  sb().write_file(sb().in_project("README"), "hello\n");
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "set -e; git add README; "
                           "git -c user.name=t -c user.email=t@example.com commit -qm init; "
                           "git log --oneline | wc -l"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(r.out.find("1"), std::string::npos) << r.describe();
  EXPECT_TRUE(exists(sb().in_project(".git/HEAD")));
}

// Without a repository, `git init` inside cannot write the protected .git/config; it fails, and
// the placeholder that protected it is gone afterwards.
TEST_P(Integration, GitInitInsideIsRefusedAndLeavesNothing) {
  RunResult r = sb().moat({"/bin/sh", "-c", "git init -q"});
  EXPECT_NE(r.status, 0) << r.describe();
  EXPECT_FALSE(exists(sb().in_project(".git"))) << r.describe();
}

// An agent's `git add -A && git commit` inside: the placeholders that pin protected paths the
// project lacks (.gitmodules, .vscode) are empty files in the work tree, and were committed with
// the agent's work. The sandbox's view of .git/info/exclude lists them; the host's is unchanged,
// and nothing but the agent's file is in the commit.
TEST_P(Integration, GitAddAllCommitsNoPlaceholders) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  const std::string exclude = sb().in_project(".git/info/exclude");
  ASSERT_TRUE(exists(exclude)) << "git init made no .git/info/exclude";
  const std::string exclude_before = read_file(exclude);
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "set -e; echo work > work.txt; git add -A; "
                           "git -c user.name=t -c user.email=t@example.com commit -qm work; "
                           "git status --porcelain"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "") << "untracked inside after `git add -A`: " << r.describe();
  RunResult files = sb().direct({"/usr/bin/git", "show", "--name-only", "--format=", "HEAD"});
  EXPECT_NE(files.out.find("work.txt\n"), std::string::npos) << files.describe();
  for (const char* placeholder : {".gitmodules", ".vscode"}) {
    EXPECT_EQ(files.out.find(placeholder), std::string::npos) << files.describe();
  }
  RunResult host = sb().direct({"/usr/bin/git", "status", "--porcelain"});
  EXPECT_EQ(host.out, "") << host.describe();
  EXPECT_EQ(read_file(exclude), exclude_before);
}

TEST_P(Integration, GitCommitInExistingRepoWithProtectedHooks) {
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  sb().write_file(sb().in_project("a.txt"), "a\n");
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "set -e; git add a.txt; "
                           "git -c user.name=t -c user.email=t@example.com commit -qm one; "
                           "echo b > b.txt; git add b.txt; "
                           "git -c user.name=t -c user.email=t@example.com commit -qm two; "
                           "git status --porcelain; git log --oneline | wc -l"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(r.out.find("2"), std::string::npos) << r.describe();
  // The commits are visible from the host.
  RunResult host = sb().direct({"/usr/bin/git", "log", "--oneline"});
  EXPECT_EQ(std::count(host.out.begin(), host.out.end(), '\n'), 2) << host.describe();
  // ...while the hooks stayed read-only.
  RunResult hook = sb().moat(Sandbox::probe({"write", ".git/hooks/pre-commit", "#!/bin/sh\n"}));
  EXPECT_FALSE(exists(sb().in_project(".git/hooks/pre-commit"))) << hook.describe();
}

// moat's stderr is a pipe nobody reads any more (`moat run ... 2>&1 | head`): its trace lines
// during the run fail with EPIPE instead of killing it halfway, so the placeholders it pinned in
// the project (.git, .gitmodules, .vscode: an empty `.git` file breaks git there) are removed
// as usual and moat exits with the command's status; the command starts with the caller's
// signal mask (SIGPIPE not blocked).
// Root (`sudo moat run`) in a project whose .git belongs to another user with mode 0700: the
// setup still protects the hooks and config inside it (root in the sandbox's user namespace
// maps every id, so it reaches what root reaches), and the command still cannot write them.
TEST_P(Integration, ProtectionsInsideAnotherUsersPrivateGitDirectory) {
  if (GetParam() != Identity::kRoot) return;  // a user cannot give its files to another
  std::string why;
  ASSERT_TRUE(sb().git_init(&why)) << why;
  auto other = ensure_test_user(&why);
  ASSERT_TRUE(other.has_value()) << why;
  const std::string git = sb().in_project(".git");
  ASSERT_EQ(sb().direct({"/bin/chown", "-R", other->name, git}).status, 0);
  ASSERT_EQ(::chmod(git.c_str(), 0700), 0);
  RunResult r = sb().moat(Sandbox::probe({"write", ".git/hooks/pre-commit", "#!/bin/sh\n"}));
  EXPECT_NE(r.probe_line(), "") << "the sandbox did not start: " << r.describe();
  EXPECT_FALSE(exists(sb().in_project(".git/hooks/pre-commit"))) << r.describe();
}

TEST_P(Integration, ClosedStderrLeavesNoPlaceholders) {
  const std::string script =
      "MOAT_TRACE_SETUP=1 \"$0\" run -- /bin/sh -c "
      "'grep SigBlk /proc/self/status > sigblk.txt; exit 3' 2>&1 | true; "
      "echo \"moat=${PIPESTATUS[0]}\"";
  RunResult r = sb().direct({"/bin/bash", "-c", script, moat_binary()});
  EXPECT_NE(r.out.find("moat=3"), std::string::npos) << r.describe();
  for (const char* placeholder : {".git", ".gitmodules", ".vscode"}) {
    EXPECT_FALSE(exists(sb().in_project(placeholder))) << placeholder << " was left behind\n"
                                                       << r.describe();
  }
  EXPECT_EQ(read_file(sb().in_project("sigblk.txt")), "SigBlk:\t0000000000000000\n");
}

// SIGTERM at every moment of moat's start (after its exec, spread over the first few hundred
// microseconds): it never leaves the placeholders it pins in the project behind (before, a
// signal between pinning them and taking over the signals killed moat there, with no journal
// to clean up after it: half of these runs left .git, .gitmodules and .vscode), and it is never
// lost (before, one that reached the sandbox's pid 1 during its setup was dropped, and the
// command ran to its end): every run ends with 143.
TEST_P(Integration, SignalDuringStartupLeavesNoPlaceholders) {
  const std::string script = R"sh(
    moat=$(readlink -f "$0"); leaks=0; statuses=""
    for i in $(seq 80); do
      "$moat" run -- /bin/sleep 5 >/dev/null 2>&1 & pid=$!
      while [ "$(readlink /proc/$pid/exe 2>/dev/null)" != "$moat" ]; do
        kill -0 $pid 2>/dev/null || break
      done
      for ((j = 0; j < i % 40; j++)); do :; done
      kill -TERM $pid; wait $pid; status=$?
      [ $status = 143 ] || statuses="$statuses $i:$status"
      if [ -e .git ] || [ -e .gitmodules ] || [ -e .vscode ]; then
        leaks=$((leaks + 1)); rm -rf .git .gitmodules .vscode
      fi
    done
    echo "leaks=$leaks other-statuses=[$statuses]")sh";
  RunSpec spec;
  spec.timeout_s = 120;
  RunResult r = sb().direct({"/bin/bash", "-c", script, moat_binary()}, spec);
  EXPECT_NE(r.out.find("leaks=0 other-statuses=[]"), std::string::npos) << r.describe();
}

// `protect: DIR/*` (phase 2 of `moat install`): every entry DIR holds when the run starts stays
// as it is (no write, delete or rename), except a write grant's (out/ here, node_modules there);
// new entries may be created. Checked from outside.
TEST_P(Integration, ProtectedContentsStayAsTheyWere) {
  const std::string profile = sb().base() + "/contents.yaml";
  sb().write_file(profile,
                  "version: 1\nextends: base\nfilesystem:\n  protect: [\"${PROJECT}/*\"]\n"
                  "  write: [\"${PROJECT}/out\"]\n");
  sb().write_file(sb().in_project("a.txt"), "mine\n");
  ASSERT_EQ(::mkdir(sb().in_project("src").c_str(), 0755), 0);
  sb().write_file(sb().in_project("src/app.js"), "module.exports = 42;\n");
  ASSERT_EQ(::mkdir(sb().in_project("out").c_str(), 0755), 0);
  if (sb().uid() != 0) {
    for (const char* p : {"a.txt", "src", "src/app.js", "out"}) {
      ASSERT_EQ(::chown(sb().in_project(p).c_str(), sb().uid(), sb().gid()), 0);
    }
  }
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "echo evil >> a.txt; echo evil > src/app.js; echo evil > src/new.js; "
                           "rm -f a.txt; mv src src2; "
                           "echo built > out/x && echo new > new.txt && echo ran"},
                          {"-p", profile});
  EXPECT_NE(r.out.find("ran"), std::string::npos) << r.describe();
  EXPECT_EQ(read_file(sb().in_project("a.txt")), "mine\n");
  EXPECT_EQ(read_file(sb().in_project("src/app.js")), "module.exports = 42;\n");
  EXPECT_FALSE(exists(sb().in_project("src/new.js")));
  EXPECT_FALSE(exists(sb().in_project("src2")));
  EXPECT_EQ(read_file(sb().in_project("out/x")), "built\n");
  EXPECT_EQ(read_file(sb().in_project("new.txt")), "new\n");
  EXPECT_FALSE(exists(sb().in_project("*"))) << "a placeholder named '*'";
}

TEST_P(Integration, ShellPipeline) {
  RunResult r = sb().moat({"/bin/sh", "-c", "printf 'b\\na\\nc\\n' | sort | tr a-z A-Z | head -n 2"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "A\nB\n") << r.describe();
}

TEST_P(Integration, StdinPassesThrough) {
  RunSpec spec;
  spec.stdin_data = "from stdin\n";
  RunResult r = sb().moat({"/bin/cat"}, {}, spec);
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "from stdin\n") << r.describe();
}

TEST_P(Integration, NodeEval) {
  if (access("/usr/bin/node", X_OK) != 0) MOAT_SKIP_OR_FAIL("/usr/bin/node is not installed");
  RunResult r = sb().moat({"/usr/bin/node", "-e", "console.log(6*7)"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "42\n") << r.describe();
}

TEST_P(Integration, Python3) {
  if (access("/usr/bin/python3", X_OK) != 0) MOAT_SKIP_OR_FAIL("/usr/bin/python3 is not installed");
  RunResult r = sb().moat({"/usr/bin/python3", "-c",
                           "import tempfile,os; f=tempfile.NamedTemporaryFile(); print(6*7)"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "42\n") << r.describe();
}

TEST_P(Integration, ProjectWritableTmpPrivate) {
  std::string host_tmp = "/tmp/moat-int-" + sb().tag();
  sb().remove_at_exit(host_tmp);
  RunResult r = sb().moat({"/bin/sh", "-c",
                           "echo made > out.txt && echo t > /tmp/moat-int-" + sb().tag() +
                               " && cat /tmp/moat-int-" + sb().tag() + " && echo \"TMPDIR=$TMPDIR\" && "
                               "ls -A /tmp | wc -l"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(read_file(sb().in_project("out.txt")), "made\n");
  EXPECT_NE(r.out.find("TMPDIR=/tmp"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("t\n"), std::string::npos) << r.describe();
  EXPECT_FALSE(exists(host_tmp)) << "/tmp inside is the host's /tmp";
}

TEST_P(Integration, HomeIsPrivateWithReadOnlyGitconfig) {
  RunResult r = sb().moat({"/bin/sh", "-c", "cat \"$HOME/.gitconfig\"; git config user.name"});
  EXPECT_NE(r.out.find(sb().canary("gitconfig")), std::string::npos)
      << "~/.gitconfig should be readable inside\n" << r.describe();
  std::string before = file_sha(sb().in_home(".gitconfig"));
  sb().moat({"/bin/sh", "-c", "echo '[alias] x = !evil' >> \"$HOME/.gitconfig\""});
  sb().moat(Sandbox::probe({"append", sb().in_home(".gitconfig"), "[alias] x = !evil"}));
  EXPECT_EQ(file_sha(sb().in_home(".gitconfig")), before);
}

TEST_P(Integration, AllowWriteExtraDir) {
  std::string extra = sb().base() + "/extra";
  sb().make_dir(extra);
  std::string target = extra + "/file";
  RunResult denied = sb().moat(Sandbox::probe({"write", target, "nope"}));
  EXPECT_FALSE(exists(target)) << denied.describe();
  RunResult allowed = sb().moat(Sandbox::probe({"write", target, "yes"}), {"--allow-write", extra});
  EXPECT_TRUE(allowed.probe_ok()) << allowed.describe();
  EXPECT_EQ(read_file(target), "yes");
}

TEST_P(Integration, AllowReadExtraDir) {
  std::string extra = sb().base() + "/extra-ro";
  sb().make_dir(extra);
  sb().write_file(extra + "/data", "readable-" + sb().tag());
  RunResult allowed = sb().moat(Sandbox::probe({"read", extra + "/data"}), {"--allow-read", extra});
  EXPECT_NE(allowed.out.find("readable-" + sb().tag()), std::string::npos) << allowed.describe();
  RunResult write = sb().moat(Sandbox::probe({"write", extra + "/data", "x"}), {"--allow-read", extra});
  EXPECT_EQ(read_file(extra + "/data"), "readable-" + sb().tag()) << write.describe();
}

TEST_P(Integration, KeepEnv) {
  RunSpec spec;
  spec.env = {{"NPM_TOKEN", "kept-" + sb().tag()}};
  RunResult r = sb().moat({"/usr/bin/env"}, {"--keep-env", "NPM_TOKEN"}, spec);
  EXPECT_NE(r.out.find("NPM_TOKEN=kept-" + sb().tag()), std::string::npos) << r.describe();
}

TEST_P(Integration, LoopbackInsideWorks) {
  // Inside --net none there is a loopback of its own: a local server and client can talk.
  if (access("/usr/bin/python3", X_OK) != 0) MOAT_SKIP_OR_FAIL("/usr/bin/python3 is not installed");
  RunResult r = sb().moat(
      {"/usr/bin/python3", "-c",
       "import socket;s=socket.socket();s.bind(('127.0.0.1',0));s.listen();"
       "c=socket.create_connection(s.getsockname());a,_=s.accept();c.send(b'pong');print(a.recv(4).decode())"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "pong\n") << r.describe();
}

INSTANTIATE_TEST_SUITE_P(Identities, Integration,
                         ::testing::Values(Identity::kRoot, Identity::kUser), IdentityName());

}  // namespace
}  // namespace moat::testing
