// `moat install`'s phase 1 keeps project code out while the tokens are readable: the subcommands
// it accepts, where the scripts-off flags go, the project settings it refuses or overrides, the
// -fetch profiles that pin them, and the files the -scripts profiles keep for the next install.
#include <gtest/gtest.h>

#include <map>

#include "config_tree.h"
#include "policy/install_project_code.h"
#include "policy/install_split.h"
#include "policy_test_util.h"

namespace moat::policy {
namespace {

using testing::render;
using testing::test_context;

bool accepted(const std::string& tool, const std::vector<std::string>& command) {
  return check_install_subcommand(tool, command).ok();
}

// Red team: `moat install -p npm -- npm test` ran the project's test script with the tokens
// readable. Only install-like words, spelled exactly, and first.
TEST(InstallSubcommand, NpmTakesOnlyItsInstallCommandsAndAliases) {
  for (const char* w : {"install", "i", "add", "isntall", "ci", "clean-install", "ic",
                        "install-clean", "update", "up", "upgrade", "u"}) {
    EXPECT_TRUE(accepted("npm", {"npm", w, "--no-audit"})) << w;
  }
  for (const char* w : {"test",
                        "t",
                        "install-test",
                        "it",
                        "install-ci-test",
                        "cit",
                        "sit",
                        "clean-install-test",
                        "run",
                        "run-script",
                        "rum",
                        "exec",
                        "x",
                        "start",
                        "restart",
                        "explore",
                        "rebuild",
                        "install-t",
                        "installTest",
                        "Install",
                        "pack",
                        "publish",
                        "help",
                        "edit",
                        "init",
                        "approve-scripts"}) {
    EXPECT_FALSE(accepted("npm", {"npm", w})) << w;
  }
  EXPECT_FALSE(accepted("npm", {"npm"}));
  // An option first may take the next word as its value (`--registry install test` runs test):
  // refused, with a hint to put the subcommand first.
  Status s = check_install_subcommand("npm", {"npm", "--registry", "install", "test"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().hint.find("subcommand first"), std::string::npos) << s.error().hint;
  s = check_install_subcommand("npm", {"npm", "test"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("'npm test'"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().hint.find("moat run -p npm"), std::string::npos) << s.error().hint;
}

TEST(InstallSubcommand, PnpmAndYarnRunAScriptForAnyOtherWord) {
  for (const char* w : {"install", "i", "add", "update", "up", "upgrade"}) {
    EXPECT_TRUE(accepted("pnpm", {"pnpm", w})) << w;
  }
  for (const char* w : {"test", "install-test", "it", "run", "exec", "dlx", "build", "start",
                        "rebuild", "-r", "--filter"}) {
    EXPECT_FALSE(accepted("pnpm", {"pnpm", w, "install"})) << w;
  }
  EXPECT_TRUE(accepted("yarn", {"yarn"}));
  EXPECT_TRUE(accepted("yarn", {"yarn", "install", "--frozen-lockfile"}));
  EXPECT_TRUE(accepted("yarn", {"yarn", "add", "left-pad"}));
  EXPECT_TRUE(accepted("yarn", {"yarn", "--frozen-lockfile", "--immutable"}));
  for (const auto& c : std::vector<std::vector<std::string>>{{"yarn", "test"},
                                                             {"yarn", "run", "x"},
                                                             {"yarn", "dlx", "x"},
                                                             {"yarn", "exec", "x"},
                                                             {"yarn", "--cwd", "sub", "test"},
                                                             {"yarn", "--", "test"},
                                                             {"yarn", "build"}}) {
    EXPECT_FALSE(accepted("yarn", c)) << c[1];
  }
  // The user's bytes, escaped in the message.
  Status s = check_install_subcommand("yarn", {"yarn", "x\x1b]0;t\x07"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.find('\x1b'), std::string::npos);
}

// After a bare `--` npm reads words as package names: an appended --ignore-scripts would be one,
// and the scripts would run in phase 1.
TEST(InstallSubcommand, FetchFlagsGoBeforeABareDashDash) {
  using V = std::vector<std::string>;
  EXPECT_EQ(with_fetch_flags({"npm", "install", "--no-ignore-scripts"}, {"--ignore-scripts"}),
            (V{"npm", "install", "--no-ignore-scripts", "--ignore-scripts"}));
  EXPECT_EQ(with_fetch_flags({"npm", "install", "x", "--", "y"}, {"--ignore-scripts"}),
            (V{"npm", "install", "x", "--ignore-scripts", "--", "y"}));
  EXPECT_EQ(with_fetch_flags({"pnpm", "add", "x"}, {"--ignore-scripts", "--ignore-pnpmfile"}),
            (V{"pnpm", "add", "x", "--ignore-scripts", "--ignore-pnpmfile"}));
  EXPECT_EQ(with_fetch_flags({"yarn"}, {"--mode=skip-build"}), (V{"yarn", "--mode=skip-build"}));
}

using Files = AliceTree;  // config_tree.h

std::map<std::string, ProjectCodeAction> actions(const std::vector<ProjectCodeSetting>& found) {
  std::map<std::string, ProjectCodeAction> out;
  for (const ProjectCodeSetting& s : found) out[s.key] = s.action;
  return out;
}

// Red team: a project .npmrc `git=./tools/git.sh` ran the project's script in phase 1.
TEST(InstallProjectCode, ProjectNpmrcProgramSettings) {
  Files f;
  f.files["/home/alice/proj/package.json"] = "{}";
  f.files["/home/alice/proj/.npmrc"] =
      "registry=http://registry.test:4873/\n"
      "git=./tools/git.sh\n"
      "userconfig=./tools/npmrc\n"
      "globalconfig=./tools/global\n"
      "script-shell=bash\n"
      "node-options=--require ./evil.js\n"
      "shell=./sh\neditor=./ed\nbrowser=./b\nviewer=./v\n"
      "ignore-scripts=false\n";
  // The user's own file may set them: not the project's choice.
  f.files["/home/alice/.npmrc"] = "git=/opt/git/bin/git\n";
  for (const char* tool : {"npm", "pnpm"}) {
    auto found = find_project_code_settings(tool, f.input());
    auto a = actions(found);
    EXPECT_EQ(a.size(), 9u) << tool;
    for (const char* k : {"git", "userconfig", "globalconfig"}) {
      EXPECT_EQ(a[k], ProjectCodeAction::kRefused) << tool << " " << k;
    }
    for (const char* k : {"script-shell", "node-options", "shell", "editor", "browser", "viewer"}) {
      EXPECT_EQ(a[k], ProjectCodeAction::kOverridden) << tool << " " << k;
    }
    for (const ProjectCodeSetting& s : found) {
      EXPECT_EQ(s.file, "/home/alice/proj/.npmrc");
      if (s.key == "git") {
        EXPECT_EQ(s.value, "./tools/git.sh");
      }
    }
  }
  EXPECT_TRUE(find_project_code_settings("yarn", f.input()).empty());
  f.files["/home/alice/proj/.npmrc"] = "registry=http://registry.test:4873/\n";
  EXPECT_TRUE(find_project_code_settings("npm", f.input()).empty());
}

TEST(InstallProjectCode, YarnReleaseAndPluginsOfTheProject) {
  Files f;
  f.files["/home/alice/proj/.yarnrc.yml"] =
      "nodeLinker: node-modules\n"
      "yarnPath: .yarn/releases/yarn-4.1.0.cjs\n"
      "plugins:\n  - path: .yarn/plugins/evil.cjs\n";
  f.files["/home/alice/proj/sub/.yarnrc"] = "yarn-path \"./evil.js\"\n";
  // Above the project: the user's own settings.
  f.files["/home/alice/.yarnrc.yml"] = "yarnPath: /opt/yarn.cjs\n";
  auto found = find_project_code_settings("yarn", f.input());
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].file, "/home/alice/proj/sub/.yarnrc");
  EXPECT_EQ(found[0].key, "yarn-path");
  EXPECT_EQ(found[0].value, "\"./evil.js\"");
  EXPECT_EQ(found[1].file, "/home/alice/proj/.yarnrc.yml");
  EXPECT_EQ(found[1].key, "yarnPath");
  EXPECT_EQ(found[1].value, ".yarn/releases/yarn-4.1.0.cjs");
  EXPECT_EQ(found[2].key, "plugins");
  for (const auto& s : found) EXPECT_EQ(s.action, ProjectCodeAction::kRefusedUntrusted);
  // No plugins loaded, and a nested key of the same name, are not settings.
  f.files["/home/alice/proj/.yarnrc.yml"] = "plugins: []\nnpmScopes:\n  yarnPath: x\n";
  f.files.erase("/home/alice/proj/sub/.yarnrc");
  EXPECT_TRUE(find_project_code_settings("yarn", f.input()).empty());
}

// Spelled any way YAML allows, the setting is the same one yarn reads; a file that does not
// parse cannot be judged and is refused.
TEST(InstallProjectCode, YarnSettingsSpelledAnyWayYamlAllows) {
  Files f;
  for (const char* text : {"yarnPath : .yarn/x.cjs\n", "\"yarn\\x50ath\": .yarn/x.cjs\n",
                           "{yarnPath: .yarn/x.cjs}\n", "? yarnPath\n: .yarn/x.cjs\n"}) {
    f.files["/home/alice/proj/.yarnrc.yml"] = text;
    auto found = find_project_code_settings("yarn", f.input());
    ASSERT_EQ(found.size(), 1u) << text;
    EXPECT_EQ(found[0].key, "yarnPath") << text;
    EXPECT_EQ(found[0].value, ".yarn/x.cjs") << text;
  }
  f.files["/home/alice/proj/.yarnrc.yml"] = "yarnPath: [\n";
  auto found = find_project_code_settings("yarn", f.input());
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].action, ProjectCodeAction::kRefusedUntrusted);
}

std::map<std::string, std::string> env_of(const Plan& plan) {
  std::map<std::string, std::string> env;
  for (const EnvVar& v : plan.env) env[v.name] = v.value;
  return env;
}

// The overrides are the -fetch profiles' environment, whatever the user's environment says:
// npm ranks npm_config_* over every .npmrc.
TEST(InstallProjectCode, FetchProfilesPinEveryProgramSetting) {
  Context ctx = test_context();
  ctx.environ = {"npm_config_git=./tools/git.sh", "npm_config_registry=http://r.test:4873/"};
  ctx.read_file = [](const std::string& path) -> std::optional<std::string> {
    if (path == "/home/alice/proj/package.json") return "{}";
    if (path == "/home/alice/proj/.npmrc") return "userconfig=/home/alice/proj/evil-npmrc\n";
    return std::nullopt;
  };
  for (const char* profile : {"npm-fetch", "pnpm-fetch"}) {
    CompileOutput out = compile_profile(profile, ctx, {});
    ASSERT_TRUE(out.plan) << profile << ": " << render(out.diagnostics);
    auto env = env_of(*out.plan);
    for (const NpmOverride& o : phase1_npm_overrides()) {
      std::string name = std::string("npm_config_") + o.key;
      for (char& c : name) c = c == '-' ? '_' : c;
      EXPECT_EQ(env[name], o.value) << profile << " " << name;
    }
    EXPECT_EQ(env["npm_config_userconfig"], "/home/alice/.npmrc") << profile;
  }
  CompileOutput pnpm = compile_profile("pnpm-fetch", ctx, {});
  ASSERT_TRUE(pnpm.plan);
  EXPECT_EQ(env_of(*pnpm.plan)["npm_config_ignore_pnpmfile"], "true");
}

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
