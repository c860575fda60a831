// `extends`: merge rules (lists concatenate, child wins for scalars and per limit), relative
// paths, names on the search path, diamonds, cycles, and profile_files order.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/unit/policy_test_util.h"

namespace moat::policy {
namespace {

using namespace testing;
namespace fs = std::filesystem;

const PathRule* find_path(const Plan& plan, const std::string& path) {
  for (const PathRule& r : plan.paths) {
    if (r.path == path) return &r;
  }
  return nullptr;
}

TEST(Extends, ChildOverridesParentAndListsConcatenate) {
  Context ctx = test_context();
  ctx.environ = {"PATH=/bin", "LANG=C", "TERM=x"};
  CompileOutput out = compile_profile(data_dir() + "/good/child.yaml", ctx, {});
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  const Plan& p = *out.plan;
  EXPECT_EQ(p.profile_name, "child");
  EXPECT_EQ(p.profile_files, (std::vector<std::string>{data_dir() + "/good/parent.yaml",
                                                       data_dir() + "/good/child.yaml"}));
  ASSERT_NE(find_path(p, "/usr"), nullptr);
  EXPECT_EQ(find_path(p, "/usr")->access, kAccessRead | kAccessWrite);  // union of both files
  EXPECT_EQ(find_path(p, "/usr")->origin.file, data_dir() + "/good/parent.yaml");
  EXPECT_NE(find_path(p, "/opt"), nullptr);
  EXPECT_NE(find_path(p, "/etc"), nullptr);
  bool shadow = false, gshadow = false;
  for (const DenyRule& d : p.deny) {
    shadow |= d.path == "/etc/shadow";
    gshadow |= d.path == "/etc/gshadow";
  }
  EXPECT_TRUE(shadow && gshadow);  // deny accumulates
  EXPECT_EQ(p.network, NetworkMode::kHost);           // inherited
  EXPECT_EQ(p.limits.memory_bytes, 2ull << 30);       // child wins
  EXPECT_EQ(p.limits.processes, 10u);                 // inherited per key
  EXPECT_EQ(p.limits.time_ms, std::nullopt);          // `none` clears the parent's value
  std::vector<std::string> env;
  for (const EnvVar& v : p.env) env.push_back(v.name + "=" + v.value);
  EXPECT_EQ(env, (std::vector<std::string>{"A=parent", "B=child", "HOME=/home/alice", "LANG=C",
                                           "PATH=/bin", "TMPDIR=/tmp"}));
}

class ExtendsDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moat-extends-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sys");
    fs::create_directories(dir_ / "user");
    fs::create_directories(dir_ / "proj");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void put(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    write_text((dir_ / rel).string(), text);
  }
  Context ctx() const {
    Context c = test_context();
    c.search_path = {(dir_ / "sys").string(), (dir_ / "user").string()};
    c.cwd = (dir_ / "proj").string();
    return c;
  }
  fs::path dir_;
};

TEST_F(ExtendsDir, DiamondLoadsEachFileOnce) {
  put("sys/root.yaml", "version: 1\nfilesystem: {read: [/r]}\n");
  put("sys/left.yaml", "version: 1\nextends: root\n");
  put("sys/right.yaml", "version: 1\nextends: root\n");
  put("user/top.yaml", "version: 1\nextends: [left, right]\n");
  CompileOutput out = compile_profile("top", ctx(), {});
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  EXPECT_EQ(out.plan->profile_name, "top");
  ASSERT_EQ(out.plan->profile_files.size(), 4u);
  EXPECT_EQ(out.plan->profile_files[0], (dir_ / "sys/root.yaml").string());
  EXPECT_EQ(out.plan->profile_files[3], (dir_ / "user/top.yaml").string());
}

TEST_F(ExtendsDir, CycleNamesTheChain) {
  put("sys/a.yaml", "version: 1\nextends: b\n");
  put("sys/b.yaml", "version: 1\nextends: [c]\n");
  put("sys/c.yaml", "version: 1\nextends: a\n");
  CompileOutput out = compile_profile("a", ctx(), {});
  EXPECT_FALSE(out.plan);
  ASSERT_EQ(out.diagnostics.size(), 1u);
  const std::string s = (dir_ / "sys").string();
  EXPECT_EQ(out.diagnostics[0].code, "extends-cycle");
  EXPECT_EQ(out.diagnostics[0].message, "'extends' makes a cycle: " + s + "/a.yaml -> " + s +
                                            "/b.yaml -> " + s + "/c.yaml -> " + s + "/a.yaml");
  EXPECT_EQ(out.diagnostics[0].file, s + "/c.yaml");
  EXPECT_EQ(out.diagnostics[0].line, 2);
  EXPECT_EQ(out.diagnostics[0].col, 10);
}

TEST_F(ExtendsDir, SelfExtensionIsACycle) {
  put("proj/me.yaml", "version: 1\nextends: ./me.yaml\n");
  CompileOutput out = compile_profile("me.yaml", ctx(), {});  // relative to cwd
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_EQ(out.diagnostics[0].code, "extends-cycle");
}

TEST_F(ExtendsDir, UserProfileCanExtendTheOneItShadows) {
  put("sys/base.yaml", "version: 1\nfilesystem: {read: [/sys]}\n");
  put("user/base.yaml", "version: 1\nextends: base\nfilesystem: {read: [/user]}\n");
  CompileOutput out = compile_profile("base", ctx(), {});
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  ASSERT_EQ(out.plan->paths.size(), 2u);
  EXPECT_EQ(out.plan->paths[0].path, "/sys");
  EXPECT_EQ(out.plan->paths[1].path, "/user");
}

TEST_F(ExtendsDir, RelativePathsResolveAgainstTheExtendingFile) {
  put("sys/lib/parent.yaml", "version: 1\nfilesystem: {read: [/from-parent]}\n");
  put("sys/lib/child.yaml", "version: 1\nextends: parent.yaml\n");
  CompileOutput out = compile_profile((dir_ / "sys/lib/child.yaml").string(), ctx(), {});
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  ASSERT_EQ(out.plan->paths.size(), 1u);
  EXPECT_EQ(out.plan->paths[0].path, "/from-parent");
}

TEST_F(ExtendsDir, ProfileInTheProjectIsNotFoundByName) {
  put("proj/sneaky.yaml", "version: 1\n");
  CompileOutput out = compile_profile("sneaky", ctx(), {});
  EXPECT_FALSE(out.plan);
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_EQ(out.diagnostics[0].code, "profile-not-found");
  EXPECT_EQ(out.diagnostics[0].file, "command line");
}

TEST(Compile, OverridesApplyWithCommandLineOrigin) {
  Context ctx = test_context();
  Overrides ov;
  ov.allow_write = {"~/.cache/x", "rel"};
  ov.allow_read = {"${PROJECT}/../shared"};
  ov.network = NetworkMode::kHost;
  ov.time_ms = 5000;
  CompileOutput out = compile_profile("base", ctx, ov);
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  const Plan& p = *out.plan;
  EXPECT_EQ(p.profile_name, "base");
  ASSERT_NE(find_path(p, "/home/alice/.cache/x"), nullptr);
  EXPECT_EQ(find_path(p, "/home/alice/.cache/x")->access, kAccessRead | kAccessWrite);
  EXPECT_EQ(find_path(p, "/home/alice/.cache/x")->origin.file, "command line");
  EXPECT_NE(find_path(p, "/home/alice/proj/sub/rel"), nullptr);  // relative to cwd
  EXPECT_NE(find_path(p, "/home/alice/shared"), nullptr);
  EXPECT_EQ(p.network, NetworkMode::kHost);
  EXPECT_EQ(p.limits.time_ms, 5000u);
}

TEST(Compile, OverrideErrorsAreReportedAgainstTheCommandLine) {
  Overrides ov;
  ov.allow_read = {"${NOPE}/x"};
  CompileOutput out = compile_profile("base", test_context(), ov);
  EXPECT_FALSE(out.plan);
  EXPECT_EQ(render(out.diagnostics),
            "command line: error[unknown-variable]: --allow-read ${NOPE}/x: unknown variable "
            "'${NOPE}'\n  hint: known variables: ${CWD}, ${HOME}, ${PROJECT}, ${TMPDIR}, "
            "${USER}\n");
}

TEST(Compile, BadContextIsAnError) {
  Context ctx = test_context();
  ctx.project = "";
  CompileOutput out = compile_profile("base", ctx, {});
  EXPECT_FALSE(out.plan);
  EXPECT_TRUE(has_code(out.diagnostics, "bad-context"));
}

}  // namespace
}  // namespace moat::policy
