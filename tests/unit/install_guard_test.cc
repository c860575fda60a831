// `moat install`'s phases keep project code out while the tokens are readable: the files the
// -scripts profiles keep for the next install.
#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace moat::policy {
namespace {

using testing::render;
using testing::test_context;

// What phase 2's scripts could plant for the next install or the developer's tools to run:
// read-only in every -scripts profile, even before it exists (a placeholder pins the name).
TEST(InstallProjectCode, ScriptsProfilesKeepWhatTheNextRunRuns) {
  Context ctx = test_context();
  ctx.environ = {"npm_config_registry=http://r.test:4873/"};
  ctx.read_file = [](const std::string& path) -> std::optional<std::string> {
    if (path == "/home/alice/.yarnrc.yml") return "npmRegistryServer: \"http://r.test:4873/\"\n";
    return std::nullopt;
  };
  for (const char* profile : {"npm-scripts", "pnpm-scripts", "yarn-scripts"}) {
    CompileOutput out = compile_profile(profile, ctx, {});
    ASSERT_TRUE(out.plan) << profile << ": " << render(out.diagnostics);
    for (const char* p : {".npmrc", ".pnpmfile.cjs", ".pnpmfile.mjs", ".yarnrc.yml", ".yarnrc",
                          ".yarn/plugins", ".yarn/releases", ".envrc", ".husky"}) {
      const std::string path = std::string("/home/alice/proj/") + p;
      bool kept = false;
      for (const ProtectRule& r : out.plan->protect) kept = kept || r.path == path;
      EXPECT_TRUE(kept) << profile << " does not protect " << path;
    }
  }
}

}  // namespace
}  // namespace moat::policy
