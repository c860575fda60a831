// Mandatory protections: always present, not loosened by grants (only a warning), lifted only by
// `unprotect: [name]`; base.yaml itself compiles cleanly with the expected shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "policy/mandatory.h"
#include "tests/unit/policy_test_util.h"

namespace moat::policy {
namespace {

using namespace testing;

bool protects(const Plan& p, const std::string& path, const std::string& group) {
  return std::any_of(p.protect.begin(), p.protect.end(), [&](const ProtectRule& r) {
    return r.path == path && r.protection == group;
  });
}
bool denies(const Plan& p, const std::string& path) {
  return std::any_of(p.deny.begin(), p.deny.end(),
                     [&](const DenyRule& r) { return r.path == path; });
}

CompileOutput compile_text(const std::string& name, const std::string& text) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("moat-mandatory-" + name + ".yaml")).string();
  write_text(path, text);
  CompileOutput out = check_profile_file(path, test_context());
  std::filesystem::remove(path);
  return out;
}

TEST(Mandatory, EveryGroupIsAppliedToAnEmptyProfile) {
  CompileOutput out = compile_text("empty", "version: 1\n");
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  const Plan& p = *out.plan;
  EXPECT_TRUE(protects(p, "/home/alice/.bashrc", "shell-rc"));
  EXPECT_TRUE(protects(p, "/home/alice/.config/autostart", "autostart"));
  EXPECT_TRUE(protects(p, "/home/alice/proj/.git/hooks", "git-hooks"));
  EXPECT_TRUE(protects(p, "/home/alice/proj/.git/config", "git-config"));
  EXPECT_TRUE(protects(p, "/home/alice/proj/.vscode/tasks.json", "editor-tasks"));
  EXPECT_TRUE(denies(p, "/home/alice/.ssh"));
  EXPECT_TRUE(denies(p, "/home/alice/.aws"));
  EXPECT_TRUE(denies(p, "/home/alice/.npmrc"));
  EXPECT_TRUE(p.unprotected.empty());
  for (const DenyRule& d : p.deny) EXPECT_EQ(d.origin.file, "built-in");
  // Directory placeholders are marked as such.
  for (const ProtectRule& r : p.protect) {
    if (r.path == "/home/alice/proj/.git/hooks") {
      EXPECT_TRUE(r.directory);
    }
    if (r.path == "/home/alice/proj/.git/config") {
      EXPECT_FALSE(r.directory);
    }
  }
  EXPECT_TRUE(std::is_sorted(p.protect.begin(), p.protect.end(),
                             [](auto& a, auto& b) { return a.path < b.path; }));
}

TEST(Mandatory, GrantsDoNotLiftProtectionsButWarn) {
  CompileOutput out = check_profile_file(data_dir() + "/good/grants-protected.yaml",
                                         test_context());
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  EXPECT_TRUE(protects(*out.plan, "/home/alice/.bashrc", "shell-rc"));
  EXPECT_TRUE(protects(*out.plan, "/home/alice/proj/.git/hooks", "git-hooks"));
  EXPECT_TRUE(denies(*out.plan, "/home/alice/.ssh"));
  ASSERT_EQ(out.diagnostics.size(), 3u);
  for (const Diagnostic& d : out.diagnostics) {
    EXPECT_FALSE(d.is_error);
    EXPECT_EQ(d.code, "mandatory-protection");
  }
  EXPECT_NE(out.diagnostics[0].hint.find("unprotect: [shell-rc]"), std::string::npos);
}

TEST(Mandatory, UnprotectLiftsOnlyTheNamedGroup) {
  CompileOutput out = compile_text(
      "lift", "version: 1\nunprotect: [git-hooks, secret-stores]\n"
              "filesystem: {write: [\"${PROJECT}/.git/hooks\"], read: [\"~/.ssh/known_hosts\"]}\n");
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  EXPECT_TRUE(out.diagnostics.empty()) << render(out.diagnostics);
  EXPECT_FALSE(protects(*out.plan, "/home/alice/proj/.git/hooks", "git-hooks"));
  EXPECT_FALSE(denies(*out.plan, "/home/alice/.ssh"));
  EXPECT_TRUE(protects(*out.plan, "/home/alice/proj/.git/config", "git-config"));
  EXPECT_EQ(out.plan->unprotected, (std::vector<std::string>{"git-hooks", "secret-stores"}));
}

TEST(Mandatory, ExtendsCannotRemoveAProtection) {
  // A child has no way to drop a parent's deny, and mandatory ones come back regardless.
  CompileOutput out = compile_profile(data_dir() + "/good/child.yaml", test_context(), {});
  ASSERT_TRUE(out.plan);
  EXPECT_TRUE(denies(*out.plan, "/etc/shadow"));
  EXPECT_TRUE(denies(*out.plan, "/home/alice/.gnupg"));
}

TEST(Mandatory, GroupNamesAreKnown) {
  EXPECT_EQ(mandatory_group_names(),
            (std::vector<std::string>{"shell-rc", "autostart", "git-hooks", "git-config",
                                      "moat-state", "editor-tasks", "secret-stores",
                                      "service-credentials", "shell-history", "browser-profiles",
                                      "codex-sign-in", "claude-sign-in"}));
}

TEST(BaseProfile, CompilesWithTheIntendedShape) {
  Context ctx = test_context();
  ctx.environ = {"PATH=/usr/bin", "LC_ALL=C", "GITHUB_TOKEN=x", "SSH_AUTH_SOCK=/run/ssh",
                 "LC_SECRET=x"};
  CompileOutput out = compile_profile("base", ctx, {});
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  EXPECT_TRUE(out.diagnostics.empty()) << render(out.diagnostics);
  const Plan& p = *out.plan;
  auto access = [&](const std::string& path) -> unsigned {
    for (const PathRule& r : p.paths) {
      if (r.path == path) return r.access;
    }
    return 0;
  };
  EXPECT_EQ(access("/usr"), kAccessRead | kAccessExec);
  EXPECT_EQ(access("/etc"), unsigned{kAccessRead});
  EXPECT_EQ(access("/home/alice/proj"), kAccessRead | kAccessWrite | kAccessExec);
  EXPECT_EQ(access("/tmp"), kAccessRead | kAccessWrite | kAccessExec);
  EXPECT_EQ(access("/home/alice"), 0u);
  EXPECT_TRUE(denies(p, "/etc/shadow"));
  EXPECT_TRUE(denies(p, "/etc/ssh"));
  EXPECT_EQ(p.network, NetworkMode::kNone);
  EXPECT_EQ(p.min_tier, Tier::kFull);
  EXPECT_EQ(p.limits.time_ms, std::nullopt);
  EXPECT_EQ(p.limits.open_files, 65536u);
  EXPECT_EQ(p.dropped_env, std::vector<std::string>{"LC_SECRET"});
  EXPECT_TRUE(std::is_sorted(p.paths.begin(), p.paths.end(),
                             [](auto& a, auto& b) { return a.path < b.path; }));
}

}  // namespace
}  // namespace moat::policy
