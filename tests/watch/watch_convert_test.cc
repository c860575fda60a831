// Unit tests of the watch's pure parts: decoding ring-buffer records, the process table, path
// resolution, errno -> layer, and record -> event rules (label `unit`; no kernel needed).
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bpf/watch_event.h"
#include "sandboxd/watch/convert.h"
#include "sandboxd/watch/process_table.h"
#include "sandboxd/watch/records.h"

namespace moat::watch {
namespace {

class FakeProc : public ProcLookup {
 public:
  std::map<std::pair<pid_t, int>, std::string> fds;
  std::map<pid_t, std::string> cwds;
  std::map<std::string, std::string> links;  // host /proc path -> its target
  std::optional<std::string> fd_path(pid_t pid, int fd) const override {
    auto it = fds.find({pid, fd});
    return it == fds.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  std::optional<std::string> cwd(pid_t pid) const override {
    auto it = cwds.find(pid);
    return it == cwds.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  std::optional<std::string> link(const std::string& proc_path) const override {
    auto it = links.find(proc_path);
    return it == links.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
};

// A file record as the BPF program sends it: the fixed part and only the path bytes used.
std::vector<char> raw_file(std::uint32_t op, std::uint32_t flags, const std::string& path,
                           const std::string& path2, std::int64_t ret) {
  moat_watch_file f{};
  f.hdr.kind = MOAT_WATCH_FILE;
  f.hdr.pid = 42;
  f.hdr.tid = 43;
  f.hdr.time_ns = 7;
  f.op = op;
  f.flags = flags;
  f.mode = 0644;
  f.dirfd = MOAT_WATCH_AT_FDCWD;
  f.dirfd2 = MOAT_WATCH_AT_FDCWD;
  f.ret = ret;
  std::memcpy(f.paths, path.c_str(), path.size() + 1);
  f.path_len = static_cast<__u16>(path.size() + 1);
  std::memcpy(f.paths + f.path_len, path2.c_str(), path2.empty() ? 0 : path2.size() + 1);
  f.path2_len = static_cast<__u16>(path2.empty() ? 0 : path2.size() + 1);
  size_t size = offsetof(moat_watch_file, paths) + f.path_len + f.path2_len;
  std::vector<char> out(size);
  std::memcpy(out.data(), &f, size);
  return out;
}

FileRecord decode_file(const std::vector<char>& raw) {
  auto r = decode_record(raw.data(), raw.size());
  EXPECT_TRUE(r.has_value());
  return std::get<FileRecord>(*r);
}

Process commanded(std::string cwd = "/proj") {
  Process p;
  p.ppid = 1;
  p.exe = "/usr/bin/sh";
  p.cwd = std::move(cwd);
  return p;
}

TEST(WatchRecords, CwdWalkIsReversed) {
  EXPECT_EQ(cwd_from_walk("proj/home/"), "/home/proj");
  EXPECT_EQ(cwd_from_walk(""), "/");
  EXPECT_EQ(cwd_from_walk("c/b/a/"), "/a/b/c");
}

TEST(WatchRecords, SplitNulKeepsACutLastEntry) {
  EXPECT_EQ(split_nul(std::string_view("sh\0-c\0true", 10)),
            (std::vector<std::string>{"sh", "-c", "true"}));
  EXPECT_TRUE(split_nul("").empty());
}

TEST(WatchRecords, DecodesFileRecordWithTwoPaths) {
  FileRecord r = decode_file(raw_file(MOAT_OP_RENAMEAT2, 0, "a", "dir/b", 0));
  EXPECT_EQ(r.op, Op::kRenameat2);
  EXPECT_EQ(r.path, "a");
  EXPECT_EQ(r.path2, "dir/b");
  EXPECT_EQ(r.h.pid, 42);
  EXPECT_EQ(r.h.boot_ns, 7u);
  EXPECT_FALSE(r.path_truncated);
}

TEST(WatchRecords, RejectsShortAndUnknownRecords) {
  auto raw = raw_file(MOAT_OP_OPENAT, O_WRONLY, "/x", "", 0);
  EXPECT_FALSE(decode_record(raw.data(), raw.size() - 1).has_value());  // path cut off
  EXPECT_FALSE(decode_record(raw.data(), 10).has_value());
  moat_watch_header h{};
  h.kind = 99;
  EXPECT_FALSE(decode_record(&h, sizeof h).has_value());
}

TEST(WatchRecords, DecodesExecWithOnlyTheUsedEnvironment) {
  auto e = std::make_unique<moat_watch_exec>();
  std::memset(e.get(), 0, sizeof *e);
  e->hdr.kind = MOAT_WATCH_EXEC;
  e->hdr.pid = 10;
  e->hdr.ppid = 9;
  const char argv[] = "sh\0-c\0true";  // with the final NUL: 11 bytes
  std::memcpy(e->argv, argv, sizeof argv);
  e->argv_len = e->argv_total = sizeof argv;
  const char env[] = "A=1\0npm_package_name=evil";
  std::memcpy(e->env, env, sizeof env);
  e->env_len = e->env_total = sizeof env;
  std::strcpy(e->filename, "./run");
  e->filename_len = 6;
  std::strcpy(e->cwd, "proj/");
  e->cwd_len = 5;
  size_t size = offsetof(moat_watch_exec, env) + e->env_len;
  auto r = decode_record(e.get(), size);
  ASSERT_TRUE(r.has_value());
  const ExecRecord& x = std::get<ExecRecord>(*r);
  EXPECT_EQ(x.argv, (std::vector<std::string>{"sh", "-c", "true"}));
  EXPECT_FALSE(x.argv_truncated);
  EXPECT_EQ(x.cwd, "/proj");
  EXPECT_EQ(x.environment.size(), sizeof env);
  EXPECT_EQ(exe_path(x), "/proj/run");
  ExecRecord abs = x;
  abs.filename = "/usr/./bin//../bin/sh";
  EXPECT_EQ(exe_path(abs), "/usr/bin/sh") << "absolute paths are normalised too";
}

TEST(WatchProcessTable, ChildInheritsAndExecResolvesOrigin) {
  ProcessTable t;
  t.fork(1, 0, 10);  // pid 1 of the sandbox never execs: its child has no exe yet
  ASSERT_NE(t.find(10), nullptr);
  EXPECT_TRUE(t.find(10)->exe.empty());
  // sizeof - 1: every embedded NUL is kept, the literal's own terminator is not.
  static constexpr char kEnv[] =
      "npm_package_name=evil\0npm_package_version=1.0.0\0npm_lifecycle_event=postinstall\0";
  std::string env(kEnv, sizeof(kEnv) - 1);
  const Process& p = t.exec(10, 1, "/usr/bin/sh", "/proj", env);
  EXPECT_EQ(p.origin.package, "evil");
  EXPECT_EQ(p.origin.script, "postinstall");
  t.fork(10, 1, 11);
  t.exec(11, 10, "/usr/bin/cat", "/proj", std::string_view("PATH=/bin\0", 10));
  EXPECT_EQ(t.find(11)->origin.package, "evil") << "children keep the parent's origin";
  EXPECT_EQ(t.find(11)->ppid, 10);
  t.chdir(11, "/tmp");
  EXPECT_EQ(t.find(11)->cwd, "/tmp");
  t.exit(11);
  EXPECT_EQ(t.find(11), nullptr);
}

TEST(WatchPaths, ResolvesAgainstKnownCwdThenProc) {
  FakeProc proc;
  proc.cwds[5] = "/live";
  proc.fds[{5, 7}] = "/dir";
  EXPECT_EQ(resolve_path("/a/./b/../c", AT_FDCWD, 5, "", proc).path, "/a/c");
  EXPECT_EQ(resolve_path("x", AT_FDCWD, 5, "/known", proc).path, "/known/x");
  EXPECT_EQ(resolve_path("x", AT_FDCWD, 5, "", proc).path, "/live/x");
  EXPECT_EQ(resolve_path("../y", 7, 5, "/known", proc).path, "/y");
  ResolvedPath gone = resolve_path("x", 9, 5, "/known", proc);
  EXPECT_TRUE(gone.relative);
  EXPECT_EQ(gone.path, "x");
  EXPECT_EQ(resolve_path("", 7, 5, "", proc).path, "/dir");  // fchmod(fd)
  EXPECT_EQ(resolve_path("../../../x", AT_FDCWD, 5, "/a", proc).path, "/x");
  EXPECT_EQ(resolve_path("/..", AT_FDCWD, 5, "", proc).path, "/");
  EXPECT_EQ(resolve_path("./a//b/", AT_FDCWD, 5, "/known", proc).path, "/known/a/b");
  // ftruncate on a memfd (browsers size their shared memory so) names no file to report.
  proc.fds[{5, 8}] = "/memfd:shm (deleted)";
  EXPECT_TRUE(resolve_path("", 8, 5, "", proc).not_a_file);
  EXPECT_FALSE(resolve_path("", 7, 5, "", proc).not_a_file);
}

TEST(WatchPaths, NoiseIsOnlyTerminalsNullAndSelf) {
  EXPECT_TRUE(is_noise("/dev/null"));
  EXPECT_TRUE(is_noise("/dev/tty"));
  EXPECT_TRUE(is_noise("/dev/pts/3"));
  EXPECT_TRUE(is_noise("/proc/self/fd/1"));
  EXPECT_FALSE(is_noise("/dev/sda"));
  EXPECT_FALSE(is_noise("/proj/dev/null"));
}

// /proc/self/fd/N and its kin name another file: the host's /proc link of the same process (and
// thread) says which. Pids in the path are the sandbox's: read through the process's root.
TEST(WatchPaths, ProcLinksNameTheFileTheyPointAt) {
  FakeProc proc;
  proc.links["/proc/42/fd/3"] = "/proj/src/index.js";
  proc.links["/proc/42/task/43/fd/4"] = "/proj/src/a.js";
  proc.links["/proc/42/root/proc/7/fd/5"] = "/proj/src/b.js";
  proc.links["/proc/42/root/proc/9/fd/5"] = "/proj/src/t.js";
  proc.links["/proc/42/root/proc/7/task/9/fd/5"] = "/proj/src/t.js";
  proc.links["/proc/42/cwd"] = "/proj";
  proc.links["/proc/42/fd/6"] = "pipe:[1234]";
  auto at = [&](const std::string& path) {
    auto r = resolve_proc_link(path, 42, 43, proc);
    return r ? r->path : "<none>";
  };
  EXPECT_EQ(at("/proc/self/fd/3"), "/proj/src/index.js");
  EXPECT_EQ(at("/proc/thread-self/fd/4"), "/proj/src/a.js");
  EXPECT_EQ(at("/proc/7/fd/5"), "/proj/src/b.js");
  EXPECT_EQ(at("/proc/self/task/9/fd/5"), "/proj/src/t.js");
  EXPECT_EQ(at("/proc/7/task/9/fd/5"), "/proj/src/t.js");
  EXPECT_EQ(at("/proc/self/cwd/src/x.js"), "/proj/src/x.js");
  EXPECT_EQ(at("/proc/self/comm"), "<none>");
  EXPECT_EQ(at("/proc/sys/kernel/core_pattern"), "<none>");
  EXPECT_EQ(at("/proj/x"), "<none>");
  auto gone = resolve_proc_link("/proc/self/fd/8", 42, 43, proc);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->unresolved);
  EXPECT_EQ(gone->path, "/proc/self/fd/8");
  auto pipe = resolve_proc_link("/proc/self/fd/6", 42, 43, proc);
  ASSERT_TRUE(pipe);
  EXPECT_TRUE(pipe->not_a_file);
}

TEST(WatchEvents, WritesThroughProcLinksAreTheFilesOrAsGiven) {
  FakeProc proc;
  proc.links["/proc/42/fd/3"] = "/proj/src/index.js";
  proc.links["/proc/42/fd/4"] = "/dev/null";
  proc.links["/proc/42/fd/6"] = "pipe:[1234]";
  auto write = [&](const std::string& path) {
    return file_event(decode_file(raw_file(MOAT_OP_OPENAT, O_WRONLY | O_TRUNC, path, "", 5)),
                      commanded(), proc);
  };
  auto named = write("/proc/self/fd/3");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->kind, "write");
  EXPECT_EQ(named->detail["path"], "/proj/src/index.js");
  auto relative =
      file_event(decode_file(raw_file(MOAT_OP_OPENAT, O_WRONLY, "../proc/self/fd/3", "", 5)),
                 commanded("/proj"), proc);
  ASSERT_TRUE(relative);
  EXPECT_EQ(relative->detail["path"], "/proj/src/index.js");
  auto gone = write("/proc/self/fd/9");
  ASSERT_TRUE(gone) << "an unreadable link is reported as given, never dropped";
  EXPECT_EQ(gone->detail["path"], "/proc/self/fd/9");
  EXPECT_EQ(gone->detail["path_unresolved"], true);
  EXPECT_FALSE(write("/proc/self/fd/4")) << "/dev/null stays noise";
  EXPECT_FALSE(write("/proc/self/fd/6")) << "a pipe is no file";
  EXPECT_FALSE(write("/proc/self/oom_score_adj"));
}

TEST(WatchEvents, TruncateIsAWriteAndALinkACreateOfTheNewName) {
  FakeProc proc;
  proc.fds[{42, 7}] = "/proj/src/f.js";
  proc.links["/proc/42/fd/7"] = "/proj/#123 (deleted)";
  auto truncate =
      file_event(decode_file(raw_file(MOAT_OP_TRUNCATE, 0, "src/t.js", "", 0)), commanded(), proc);
  ASSERT_TRUE(truncate);
  EXPECT_EQ(truncate->kind, "write");
  EXPECT_EQ(truncate->detail["path"], "/proj/src/t.js");
  EXPECT_EQ(truncate->detail["syscall"], "truncate");
  auto raw = raw_file(MOAT_OP_FTRUNCATE, 0, "", "", 0);
  reinterpret_cast<moat_watch_file*>(raw.data())->dirfd = 7;
  auto ftruncate = file_event(decode_file(raw), commanded(), proc);
  ASSERT_TRUE(ftruncate);
  EXPECT_EQ(ftruncate->kind, "write");
  EXPECT_EQ(ftruncate->detail["path"], "/proj/src/f.js");
  EXPECT_EQ(ftruncate->detail["fd"], 7);
  EXPECT_EQ(ftruncate->detail["syscall"], "ftruncate");
  auto link = file_event(decode_file(raw_file(MOAT_OP_LINK, 0, "src/index.js", "x.pth", 0)),
                         commanded(), proc);
  ASSERT_TRUE(link);
  EXPECT_EQ(link->kind, "create");
  EXPECT_EQ(link->detail["path"], "/proj/x.pth");
  EXPECT_EQ(link->detail["from"], "/proj/src/index.js");
  EXPECT_EQ(link->detail["syscall"], "link");
  auto tmpfile = file_event(decode_file(raw_file(MOAT_OP_LINKAT, 0x400 /* AT_SYMLINK_FOLLOW */,
                                                 "/proc/self/fd/7", "src/x.js", 0)),
                            commanded(), proc);
  ASSERT_TRUE(tmpfile);
  EXPECT_EQ(tmpfile->detail["path"], "/proj/src/x.js");
  EXPECT_EQ(tmpfile->detail["from"], "/proj/#123 (deleted)");
  EXPECT_EQ(tmpfile->detail["syscall"], "linkat");
  raw = raw_file(MOAT_OP_LINKAT, 0x1000 /* AT_EMPTY_PATH */, "", "src/y.js", 0);
  reinterpret_cast<moat_watch_file*>(raw.data())->dirfd = 7;
  auto empty = file_event(decode_file(raw), commanded(), proc);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->detail["path"], "/proj/src/y.js");
  EXPECT_EQ(empty->detail["from"], "/proj/src/f.js");
  auto refused = file_event(decode_file(raw_file(MOAT_OP_LINKAT, 0, "a", "/etc/x", -EROFS)),
                            commanded(), proc);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->kind, "deny");
  EXPECT_EQ(refused->detail["op"], "create");
  EXPECT_EQ(refused->detail["path"], "/etc/x");
}

// pthread_exit of the leader is not the process's end (the BPF side reports only the last
// thread's), and an exec keeps the process's sticky dependency origin whatever it sets.
TEST(WatchProcessTable, ExecKeepsTheDependencyOrigin) {
  ProcessTable t;
  t.fork(1, 0, 10);
  static constexpr char kEnv[] =
      "npm_package_name=evil\0npm_package_version=1.0.0\0npm_lifecycle_event=postinstall\0";
  t.exec(10, 1, "/usr/bin/sh", "/proj/node_modules/evil", std::string(kEnv, sizeof(kEnv) - 1));
  ASSERT_TRUE(t.find(10)->origin.dependency);
  static constexpr char kOther[] = "npm_package_name=app\0npm_lifecycle_event=build\0";
  const Process& p =
      t.exec(10, 1, "/usr/bin/env", "/proj", std::string(kOther, sizeof(kOther) - 1));
  EXPECT_EQ(p.origin.package, "evil");
  EXPECT_TRUE(p.origin.dependency);
}

TEST(WatchErrno, LayerIsGuessedFromTheErrno) {
  EXPECT_EQ(deny_layer(EACCES), "landlock");
  EXPECT_EQ(deny_layer(EROFS), "mount");
  EXPECT_EQ(deny_layer(EPERM), "seccomp");
  EXPECT_EQ(deny_layer(ENOENT), "");
  EXPECT_EQ(deny_layer(EEXIST), "");
  EXPECT_EQ(errno_name(EACCES), "EACCES");
  EXPECT_EQ(errno_name(100000), "E100000");
}

TEST(WatchEvents, OpenForWritingIsCreateOrWrite) {
  FakeProc proc;
  auto create = file_event(decode_file(raw_file(MOAT_OP_OPENAT, O_WRONLY | O_CREAT, "f", "", 3)),
                           commanded(), proc);
  ASSERT_TRUE(create);
  EXPECT_EQ(create->kind, "create");
  EXPECT_EQ(create->detail["path"], "/proj/f");
  EXPECT_EQ(create->exe, "/usr/bin/sh");
  EXPECT_EQ(create->pid, 42);
  EXPECT_EQ(create->ppid, 1);
  auto write =
      file_event(decode_file(raw_file(MOAT_OP_OPENAT, O_RDWR, "/etc/x", "", 3)), commanded(), proc);
  ASSERT_TRUE(write);
  EXPECT_EQ(write->kind, "write");
  EXPECT_FALSE(file_event(decode_file(raw_file(MOAT_OP_OPENAT, O_RDONLY, "/etc/x", "", 3)),
                          commanded(), proc));
  EXPECT_FALSE(file_event(decode_file(raw_file(MOAT_OP_OPENAT, O_WRONLY, "/dev/null", "", 3)),
                          commanded(), proc));
}

TEST(WatchEvents, RefusalsBecomeDenyAndOtherFailuresNothing) {
  FakeProc proc;
  auto deny = file_event(
      decode_file(raw_file(MOAT_OP_OPENAT, O_WRONLY | O_CREAT, "/home/u/.bashrc", "", -EACCES)),
      commanded(), proc);
  ASSERT_TRUE(deny);
  EXPECT_EQ(deny->kind, "deny");
  EXPECT_EQ(deny->verdict, "refused");
  EXPECT_EQ(deny->layer, "landlock");
  EXPECT_EQ(deny->detail["op"], "create");
  EXPECT_EQ(deny->detail["error"], "EACCES");
  EXPECT_EQ(deny->detail["path"], "/home/u/.bashrc");
  EXPECT_FALSE(
      file_event(decode_file(raw_file(MOAT_OP_UNLINK, 0, "gone", "", -ENOENT)), commanded(), proc));
}

TEST(WatchEvents, DirectoryOpsRenameChmodAndSetup) {
  FakeProc proc;
  auto mkdir = file_event(decode_file(raw_file(MOAT_OP_MKDIRAT, 0, "d", "", 0)), commanded(), proc);
  ASSERT_TRUE(mkdir);
  EXPECT_EQ(mkdir->kind, "create");
  EXPECT_EQ(mkdir->detail["dir"], true);
  auto rmdir = file_event(decode_file(raw_file(MOAT_OP_UNLINKAT, AT_REMOVEDIR, "d", "", 0)),
                          commanded(), proc);
  ASSERT_TRUE(rmdir);
  EXPECT_EQ(rmdir->kind, "delete");
  EXPECT_EQ(rmdir->detail["dir"], true);
  auto mv = file_event(decode_file(raw_file(MOAT_OP_RENAME, 0, "a", "/b", 0)), commanded(), proc);
  ASSERT_TRUE(mv);
  EXPECT_EQ(mv->detail["path"], "/proj/a");
  EXPECT_EQ(mv->detail["to"], "/b");
  auto chmod = file_event(decode_file(raw_file(MOAT_OP_CHMOD, 0, "x", "", 0)), commanded(), proc);
  ASSERT_TRUE(chmod);
  EXPECT_EQ(chmod->kind, "chmod");
  EXPECT_EQ(chmod->detail["mode"], "0644");
  Process setup;  // the sandbox's pid 1 before the command: not reported
  EXPECT_FALSE(file_event(decode_file(raw_file(MOAT_OP_MKDIR, 0, "/x", "", 0)), setup, proc));
}

TEST(WatchEvents, ExecAndExit) {
  ExecRecord x;
  x.h.pid = 10;
  x.h.ppid = 9;
  x.argv = {"sh", "-c", "true"};
  x.cwd = "/proj";
  Process p = commanded();
  auto e = exec_event(x, p);
  EXPECT_EQ(e.kind, "exec");
  EXPECT_EQ(e.ppid, 9);
  EXPECT_EQ(e.detail["argv"], nlohmann::json::array({"sh", "-c", "true"}));
  ExitRecord r;
  r.h.pid = 10;
  r.exit_code = 3 << 8;
  EXPECT_EQ(exit_event(r, p).detail["status"], 3);
  r.exit_code = 9;  // SIGKILL
  EXPECT_EQ(exit_event(r, p).detail["signal"], 9);
  EXPECT_EQ(exit_event(r, p).detail["status"], 137);
}

}  // namespace
}  // namespace moat::watch
