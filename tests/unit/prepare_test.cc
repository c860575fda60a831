// Unit tests for the parent-side preparation: mount table order, protections, masks, Landlock
// rights and the seccomp program. Uses a scratch directory on the host; creates no sandbox.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "policy/syscall_rules.h"
#include "sandboxd/launcher/placeholder_journal.h"
#include "sandboxd/launcher/prepare.h"
#include "sandboxd/launcher/seccomp_filter.h"
#include "sandboxd/sys/landlock.h"

namespace moat::launcher {
namespace {
namespace fs = std::filesystem;
namespace ll = sys::landlock;

class PrepareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moat-prepare-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    project_ = root_ + "/project";
    fs::create_directories(project_ + "/.git/objects");
    std::ofstream(project_ + "/.git/config") << "[core]\n";
    std::ofstream(project_ + "/secret.env") << "TOKEN=1\n";
  }
  void TearDown() override { fs::remove_all(root_); }

  policy::Plan plan() const {
    policy::Plan p;
    p.home = root_ + "/home";
    p.project = project_;
    p.cwd = project_;
    p.tmpdir = "/tmp";
    p.paths.push_back({"/usr", policy::kAccessRead | policy::kAccessExec, {}});
    p.paths.push_back({project_, policy::kAccessRead | policy::kAccessWrite | policy::kAccessExec,
                       {}});
    p.deny.push_back({project_ + "/secret.env", {}});
    p.protect.push_back({project_ + "/.git/hooks", "git-hooks", true, {}, ""});
    p.protect.push_back({project_ + "/.git/config", "git-config", false, {}, ""});
    p.protect.push_back({project_ + "/.git/commondir", "git-config", false, {}, ".\n"});
    p.env.push_back({"PATH", "/usr/bin"});
    return p;
  }

  static const MountOp* find(const ChildSpec& spec, MountKind kind, const std::string& target) {
    for (const MountOp& op : spec.mounts) {
      if (op.kind == kind && op.target == target) return &op;
    }
    return nullptr;
  }

  std::string root_, project_;
};

TEST_F(PrepareTest, ParentsAreMountedBeforeChildren) {
  PrepareOptions options;
  options.landlock_abi = 7;
  auto prepared = setup_child_spec(plan(), {"/bin/true"}, options);
  ASSERT_TRUE(prepared.ok()) << prepared.error().to_string();
  const auto& mounts = prepared->spec.mounts;
  for (size_t i = 0; i < mounts.size(); ++i) {
    for (size_t j = i + 1; j < mounts.size(); ++j) {
      const std::string& later = mounts[j].target;
      const std::string& earlier = mounts[i].target;
      bool later_is_parent = earlier.size() > later.size() &&
                             earlier.compare(0, later.size(), later) == 0 &&
                             earlier[later.size()] == '/';
      EXPECT_FALSE(later_is_parent) << later << " is mounted after its child " << earlier;
    }
  }
  prepared->placeholder_locks.clear();
  remove_placeholders(prepared->placeholders);
}

TEST_F(PrepareTest, ProtectedPathsAreReadOnlyAndTheirAncestorsPinned) {
  PrepareOptions options;
  options.landlock_abi = 7;
  auto prepared = setup_child_spec(plan(), {"/bin/true"}, options);
  ASSERT_TRUE(prepared.ok());
  const ChildSpec& spec = prepared->spec;
  const MountOp* git = find(spec, MountKind::kSelfBind, project_ + "/.git");
  ASSERT_NE(git, nullptr) << ".git must be a mount point so it cannot be renamed away";
  EXPECT_FALSE(git->read_only);
  const MountOp* config = find(spec, MountKind::kSelfBind, project_ + "/.git/config");
  ASSERT_NE(config, nullptr);
  EXPECT_TRUE(config->read_only);
  const MountOp* hooks = find(spec, MountKind::kSelfBind, project_ + "/.git/hooks");
  ASSERT_NE(hooks, nullptr);
  EXPECT_TRUE(hooks->read_only);
  // The missing hooks directory and commondir got placeholders on the host (an empty file for
  // the directory: cheaper to remove than a directory, and nothing can be created under it;
  // commondir with content git accepts), and they go away afterwards.
  ASSERT_EQ(prepared->placeholders.size(), 2u);
  EXPECT_EQ(prepared->placeholders[0].path, project_ + "/.git/hooks");
  EXPECT_TRUE(fs::is_regular_file(project_ + "/.git/hooks"));
  EXPECT_EQ(fs::file_size(project_ + "/.git/hooks"), 0u);
  EXPECT_FALSE(hooks->is_dir);
  std::ifstream commondir(project_ + "/.git/commondir");
  std::string content((std::istreambuf_iterator<char>(commondir)), {});
  EXPECT_EQ(content, ".\n");
  prepared->placeholder_locks.clear();
  remove_placeholders(prepared->placeholders);
  EXPECT_FALSE(fs::exists(project_ + "/.git/hooks"));
  EXPECT_FALSE(fs::exists(project_ + "/.git/commondir"));
}

// A hostile run on the same project swaps .git for a link to somewhere else before the cleanup:
// moat must not remove anything through that link.
TEST_F(PrepareTest, PlaceholderCleanupNeverFollowsASwappedInLink) {
  PrepareOptions options;
  options.landlock_abi = 7;
  auto prepared = setup_child_spec(plan(), {"/bin/true"}, options);
  ASSERT_TRUE(prepared.ok());
  ASSERT_TRUE(fs::is_regular_file(project_ + "/.git/hooks"));
  fs::create_directories(root_ + "/victim");
  std::ofstream(root_ + "/victim/hooks").flush();  // empty, like the placeholder
  fs::rename(project_ + "/.git", project_ + "/.git-real");
  fs::create_directory_symlink(root_ + "/victim", project_ + "/.git");
  prepared->placeholder_locks.clear();
  remove_placeholders(prepared->placeholders);
  EXPECT_TRUE(fs::exists(root_ + "/victim/hooks")) << "cleanup followed the link";
}

// A run killed before its cleanup: the next run removes what it left, from the journal; a live
// run's journal is left alone.
TEST_F(PrepareTest, StalePlaceholdersOfAKilledRunAreRemoved) {
  PrepareOptions options;
  options.landlock_abi = 7;
  auto prepared = setup_child_spec(plan(), {"/bin/true"}, options);
  ASSERT_TRUE(prepared.ok());
  ASSERT_TRUE(fs::is_regular_file(project_ + "/.git/hooks"));
  pid_t dead = ::fork();
  if (dead == 0) _exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string dir = root_ + "/journal";
  ASSERT_NE(write_placeholder_journal(dir, ::getpid(), prepared->placeholders), "");
  clean_stale_placeholders(dir);  // our own journal: we are alive
  EXPECT_TRUE(fs::is_regular_file(project_ + "/.git/hooks"));
  fs::rename(dir + "/" + std::to_string(::getpid()) + ".json",
             dir + "/" + std::to_string(dead) + ".json");
  // A killed run's shared locks die with it; while held, no cleanup may take its placeholders.
  clean_stale_placeholders(dir);
  EXPECT_TRUE(fs::is_regular_file(project_ + "/.git/hooks")) << "removed while a run holds it";
  ASSERT_NE(write_placeholder_journal(dir, dead, prepared->placeholders), "");
  prepared->placeholder_locks.clear();
  clean_stale_placeholders(dir);
  EXPECT_FALSE(fs::exists(project_ + "/.git/hooks")) << "the killed run's placeholder stayed";
  EXPECT_FALSE(fs::exists(project_ + "/.git/commondir"));
  EXPECT_TRUE(fs::exists(project_ + "/.git/config")) << "the user's file must stay";
  EXPECT_FALSE(fs::exists(dir + "/" + std::to_string(dead) + ".json"));
}

TEST_F(PrepareTest, DeniedFileInsideAGrantIsMasked) {
  PrepareOptions options;
  options.landlock_abi = 7;
  auto prepared = setup_child_spec(plan(), {"/bin/true"}, options);
  ASSERT_TRUE(prepared.ok());
  EXPECT_NE(find(prepared->spec, MountKind::kMaskFile, project_ + "/secret.env"), nullptr);
  prepared->placeholder_locks.clear();
  remove_placeholders(prepared->placeholders);
}

TEST_F(PrepareTest, HomeIsAPrivateTmpfs) {
  PrepareOptions options;
  options.landlock_abi = 7;
  auto prepared = setup_child_spec(plan(), {"/bin/true"}, options);
  ASSERT_TRUE(prepared.ok());
  const MountOp* home = find(prepared->spec, MountKind::kTmpfs, root_ + "/home");
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(home->fs_options, "mode=0700");
  prepared->placeholder_locks.clear();
  remove_placeholders(prepared->placeholders);
}

// moat learn: the real home shows through, read-only below a private layer; secrets that exist
// stay masked on top of it.
TEST_F(PrepareTest, LearningHomeIsAnOverlayWithSecretsMasked) {
  fs::create_directories(root_ + "/home/.ssh");
  std::ofstream(root_ + "/home/.ssh/id_rsa") << "key";
  policy::Plan learning = plan();
  learning.learning = true;
  learning.deny.push_back({root_ + "/home/.ssh", {}});
  PrepareOptions options;
  options.landlock_abi = 7;
  auto prepared = setup_child_spec(learning, {"/bin/true"}, options);
  ASSERT_TRUE(prepared.ok());
  EXPECT_EQ(find(prepared->spec, MountKind::kTmpfs, root_ + "/home"), nullptr);
  const MountOp* home = find(prepared->spec, MountKind::kOverlay, root_ + "/home");
  ASSERT_NE(home, nullptr);
  EXPECT_NE(home->fs_options.find("lowerdir=/oldroot" + root_ + "/home,"), std::string::npos)
      << home->fs_options;
  EXPECT_NE(home->fs_options.find("userxattr"), std::string::npos);
  EXPECT_NE(find(prepared->spec, MountKind::kMaskDir, root_ + "/home/.ssh"), nullptr);
  prepared->placeholder_locks.clear();
  remove_placeholders(prepared->placeholders);
}

TEST_F(PrepareTest, LandlockTierSplitsGrantsAroundProtectedPaths) {
  PrepareOptions options;
  options.namespaces = false;
  options.landlock_abi = 7;
  options.private_tmpdir = root_;
  auto prepared = setup_child_spec(plan(), {"/bin/true"}, options);
  ASSERT_TRUE(prepared.ok());
  EXPECT_TRUE(prepared->spec.mounts.empty());
  std::uint64_t project_rights = 0, objects_rights = 0;
  bool secret_granted = false;
  for (const LandlockPath& p : prepared->spec.landlock_paths) {
    if (p.path == project_) project_rights = p.rights;
    if (p.path == project_ + "/.git/objects") objects_rights = p.rights;
    if (p.path == project_ + "/secret.env") secret_granted = true;
  }
  EXPECT_EQ(project_rights & ll::kMakeReg, 0u) << "the project root itself must not be writable";
  EXPECT_EQ(project_rights & ll::kReadFile, 0u) << "a denied file lies below: no recursive read";
  EXPECT_NE(objects_rights & ll::kMakeReg, 0u) << "siblings of protected paths stay writable";
  EXPECT_FALSE(secret_granted);
  EXPECT_NE(std::find(prepared->narrowed.begin(), prepared->narrowed.end(), project_),
            prepared->narrowed.end());
}

TEST(LandlockRights, FilesGetOnlyFileRights) {
  std::uint64_t file = landlock_rights(policy::kAccessRead | policy::kAccessWrite, false, 7);
  EXPECT_EQ(file & ll::kMakeReg, 0u);
  EXPECT_EQ(file & ll::kReadDir, 0u);
  EXPECT_NE(file & ll::kWriteFile, 0u);
  std::uint64_t dir = landlock_rights(policy::kAccessRead, true, 7);
  EXPECT_EQ(dir, ll::kReadFile | ll::kReadDir);
  std::uint64_t exec = landlock_rights(policy::kAccessRead | policy::kAccessExec, true, 1);
  EXPECT_EQ(exec, ll::kReadFile | ll::kReadDir | ll::kExecute);
  EXPECT_EQ(landlock_rights(policy::kAccessWrite, true, 1) & ll::kTruncate, 0u)
      << "ABI 1 does not know TRUNCATE";
}

TEST(SeccompFilter, DefaultRulesCompile) {
  auto program = compile_seccomp_filter(policy::default_syscall_rules());
  ASSERT_TRUE(program.ok()) << program.error().to_string();
  EXPECT_GT(program->size(), 50u);
}

TEST(SeccompFilter, PrebuiltProgramIsWhatLibseccompCompilesNow) {
  auto rules = policy::default_syscall_rules();
  auto prebuilt = seccomp_program_for(rules);
  auto now = compile_seccomp_filter(rules);
  ASSERT_TRUE(prebuilt.ok() && now.ok());
  ASSERT_EQ(prebuilt->size(), now->size());
  EXPECT_EQ(std::memcmp(prebuilt->data(), now->data(), now->size() * sizeof(sock_filter)), 0);
  // A different rule list is compiled at run time, not served from the prebuilt one.
  rules.pop_back();
  auto other = seccomp_program_for(rules);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->size(), now->size());
}

TEST(SeccompFilter, UnknownSyscallIsAnError) {
  policy::SyscallRule rule;
  rule.name = "no_such_syscall";
  rule.err = 1;
  auto program = compile_seccomp_filter({rule});
  ASSERT_FALSE(program.ok());
  EXPECT_EQ(program.error().code, ErrorCode::kInternal);
}

TEST(SyscallRules, CoverTheEscapeClasses) {
  std::vector<std::string> names;
  for (const auto& r : policy::default_syscall_rules()) names.push_back(r.name);
  for (const char* must : {"ptrace", "process_vm_readv", "mount", "bpf", "perf_event_open",
                           "keyctl", "userfaultfd", "io_uring_setup", "unshare", "setns", "ioctl",
                           "chmod", "fchmodat", "setxattr", "open_by_handle_at"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), must), names.end()) << must;
  }
}

}  // namespace
}  // namespace moat::launcher
