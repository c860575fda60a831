// yarn under moat: the credential-free copy of an .npmrc (what is kept, what never is), the
// profile key that shows it (filesystem.redact), and telling yarn classic from berry for the
// two-phase install.
#include <gtest/gtest.h>

#include <map>

#include "config_tree.h"
#include "policy/tools/npmrc_redact.h"
#include "policy/yarn_generation.h"
#include "policy_test_util.h"

namespace moat::policy {
namespace {

using testing::has_code;
using testing::render;
using testing::test_context;
using tools::redact_npmrc;

TEST(NpmrcRedact, KeepsRegistriesAndDropsEveryCredential) {
  const std::string in =
      "registry=https://registry.example.test/\n"
      "@corp:registry = https://npm.corp.test/\n"
      "strict-ssl=false\n"
      "ignore-scripts=true\n"
      "//registry.example.test/:_authToken=TOKEN-1\n"
      "//npm.corp.test/:_auth=TOKEN-2\n"
      "//npm.corp.test/:username=alice\n"
      "//npm.corp.test/:_password=TOKEN-3\n"
      "_authToken=TOKEN-4\n"
      "_auth = TOKEN-5\n"
      "email=alice@example.test\n"
      "always-auth=true\n"
      "@corp:_authToken=TOKEN-6\n"
      "key=\"-----BEGIN PRIVATE KEY----- TOKEN-7\"\n"
      "cert=TOKEN-8\n"
      "https-proxy=http://alice:TOKEN-9@proxy.test:3128/\n"
      "# //registry.example.test/:_authToken=TOKEN-10\n"
      "; _authToken=TOKEN-11\n"
      "${TOKEN_NAME}=TOKEN-12\n"
      "  _AuthToken  =  TOKEN-13  \n"
      "\"_authToken\"=TOKEN-14\n"
      "otp=TOKEN-15\n"
      "[section]\n"
      "registry=TOKEN-16\n";
  const std::string out = redact_npmrc(in);
  EXPECT_EQ(out,
            "registry=https://registry.example.test/\n"
            "@corp:registry=https://npm.corp.test/\n"
            "strict-ssl=false\n"
            "ignore-scripts=true\n");
  EXPECT_EQ(out.find("TOKEN"), std::string::npos);
}

TEST(NpmrcRedact, CutsTheUserOutOfRegistryUrls) {
  EXPECT_EQ(redact_npmrc("registry=https://alice:TOKEN@npm.corp.test/path/\n"),
            "registry=https://npm.corp.test/path/\n");
  EXPECT_EQ(redact_npmrc("@a:registry=http://TOKEN@h.test:8080\n"),
            "@a:registry=http://h.test:8080\n");
  // An '@' after the host is part of the path, not a user.
  EXPECT_EQ(redact_npmrc("registry=https://h.test/@scope/\n"), "registry=https://h.test/@scope/\n");
  EXPECT_EQ(redact_npmrc("registry\n"), "registry\n");
  EXPECT_EQ(redact_npmrc(""), "");
  EXPECT_EQ(redact_npmrc("registry=https://h.test/\r\n"), "registry=https://h.test/\n");
}

// The yarn profile: a copy of ~/.npmrc without its token, the real file denied, the plan
// depending on it.
TEST(NpmrcRedact, YarnProfileShowsTheCopyAndDeniesTheFile) {
  Context ctx = test_context();
  ctx.read_file = [](const std::string& path) -> std::optional<std::string> {
    if (path == "/home/alice/.npmrc") {
      return "registry=https://registry.example.test/\n//registry.example.test/"
             ":_authToken=SECRET\n";
    }
    return std::nullopt;
  };
  CompileOutput out = compile_profile("yarn", ctx, {});
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  ASSERT_EQ(out.plan->redacted.size(), 1u);
  EXPECT_EQ(out.plan->redacted[0].path, "/home/alice/.npmrc");
  EXPECT_EQ(out.plan->redacted[0].content, "registry=https://registry.example.test/\n");
  bool denied = false;
  for (const DenyRule& d : out.plan->deny) denied = denied || d.path == "/home/alice/.npmrc";
  EXPECT_TRUE(denied);
  for (const EnvVar& v : out.plan->env) EXPECT_NE(v.name, "npm_config_userconfig");
  const auto& files = out.plan->tool_files;
  EXPECT_NE(std::find(files.begin(), files.end(), "/home/alice/.npmrc"), files.end());
}

TEST(NpmrcRedact, NoFileNoCopy) {
  Context ctx = test_context();
  ctx.read_file = [](const std::string& path) -> std::optional<std::string> {
    if (path == "/home/alice/.yarnrc") return "registry \"https://registry.example.test/\"\n";
    return std::nullopt;
  };
  CompileOutput out = compile_profile("yarn", ctx, {});
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  EXPECT_TRUE(out.plan->redacted.empty());
}

TEST(NpmrcRedact, GrantedAndRedactedIsAContradiction) {
  Context ctx = test_context();
  ctx.search_path = {};
  const std::string dir = ::testing::TempDir();
  const std::string file = dir + "/redact-and-read.yaml";
  testing::write_text(
      file, "version: 1\nfilesystem:\n  read: [\"~/.npmrc\"]\n  redact: [\"~/.npmrc\"]\n");
  CompileOutput out = check_profile_file(file, ctx);
  EXPECT_FALSE(out.plan);
  EXPECT_TRUE(has_code(out.diagnostics, "contradiction")) << render(out.diagnostics);
}

using Files = AliceTree;  // config_tree.h

const char kClassicBin[] = "/opt/tools/lib/node_modules/yarn/bin/yarn.js";

TEST(YarnGeneration, TheBinaryDecidesWithoutProjectSettings) {
  Files f;
  f.files["/opt/tools/lib/node_modules/yarn/package.json"] =
      "{\n  \"name\": \"yarn\",\n  \"version\": \"1.22.22\"\n}";
  YarnDetection d = detect_yarn_generation(f.input(), kClassicBin);
  EXPECT_EQ(d.generation, YarnGeneration::kClassic);
  EXPECT_EQ(d.why, "/opt/tools/lib/node_modules/yarn/package.json: yarn 1.22.22");
  f.files["/opt/tools/lib/node_modules/yarn/package.json"] =
      "{\"name\":\"@yarnpkg/cli-dist\",\"version\":\"4.5.0\"}";
  EXPECT_EQ(detect_yarn_generation(f.input(), kClassicBin).generation, YarnGeneration::kBerry);
}

TEST(YarnGeneration, ProjectSettingsWinOverTheBinary) {
  Files f;
  f.files["/opt/tools/lib/node_modules/yarn/package.json"] =
      "{\"name\":\"yarn\",\"version\":\"1.22.22\"}";
  f.files["/home/alice/proj/package.json"] =
      "{\"name\":\"p\",\"packageManager\": \"yarn@4.1.0+sha224.abc\"}";
  YarnDetection d = detect_yarn_generation(f.input(), kClassicBin);
  EXPECT_EQ(d.generation, YarnGeneration::kBerry);
  EXPECT_EQ(d.why, "/home/alice/proj/package.json: \"packageManager\": \"yarn@4.1.0+sha224.abc\"");
  // The nearest package.json counts: one in the working directory says classic.
  f.files["/home/alice/proj/sub/package.json"] = "{\"packageManager\":\"yarn@1.22.19\"}";
  EXPECT_EQ(detect_yarn_generation(f.input(), kClassicBin).generation, YarnGeneration::kClassic);
  // yarnPath anywhere above hands over to that yarn (classic 1.22 does too).
  f.files["/home/alice/proj/.yarnrc.yml"] =
      "nodeLinker: pnp\nyarnPath: .yarn/releases/yarn-4.1.0.cjs\n";
  d = detect_yarn_generation(f.input(), kClassicBin);
  EXPECT_EQ(d.generation, YarnGeneration::kBerry);
  EXPECT_EQ(d.why, "/home/alice/proj/.yarnrc.yml sets yarnPath");
}

// `npm install -g @yarnpkg/cli-dist` (how the e2e tools install berry): PREFIX/bin/yarn links to
// the bundle in bin/, beside the package.json of the published package.
TEST(YarnGeneration, TheBerryBundleNpmInstalls) {
  Files f;
  f.files["/opt/tools/berry/lib/node_modules/@yarnpkg/cli-dist/package.json"] =
      "{\n  \"name\": \"@yarnpkg/cli-dist\",\n  \"version\": \"4.18.1\",\n  \"bin\": {\n"
      "    \"yarn\": \"bin/yarn.js\"\n  }\n}";
  YarnDetection d = detect_yarn_generation(
      f.input(), "/opt/tools/berry/lib/node_modules/@yarnpkg/cli-dist/bin/yarn.js");
  EXPECT_EQ(d.generation, YarnGeneration::kBerry);
  EXPECT_EQ(d.why,
            "/opt/tools/berry/lib/node_modules/@yarnpkg/cli-dist/package.json: "
            "@yarnpkg/cli-dist 4.18.1");
}

TEST(YarnGeneration, NothingKnownIsClassic) {
  Files f;
  f.files["/home/alice/proj/package.json"] = "{\"packageManager\":\"pnpm@9.0.0\"}";
  f.files["/usr/lib/node_modules/corepack/package.json"] =
      "{\"name\":\"corepack\",\"version\":\"0.29.0\"}";
  EXPECT_EQ(
      detect_yarn_generation(f.input(), "/usr/lib/node_modules/corepack/dist/yarn.js").generation,
      YarnGeneration::kClassic);
  EXPECT_EQ(detect_yarn_generation(f.input(), "").generation, YarnGeneration::kClassic);
}

// Every yarn profile turns berry's telemetry off (it would only be refused inside), and phase 1
// tells both generations to run no script.
TEST(YarnProfiles, BerryTelemetryOffAndPhaseOneScriptsOff) {
  Context ctx = test_context();
  ctx.read_file = [](const std::string& path) -> std::optional<std::string> {
    if (path == "/home/alice/.yarnrc.yml") return "npmRegistryServer: \"http://r.test:4873/\"\n";
    return std::nullopt;
  };
  auto env_of = [](const Plan& plan) {
    std::map<std::string, std::string> env;
    for (const EnvVar& v : plan.env) env[v.name] = v.value;
    return env;
  };
  for (const char* profile : {"yarn", "yarn-fetch", "yarn-scripts"}) {
    CompileOutput out = compile_profile(profile, ctx, {});
    ASSERT_TRUE(out.plan) << profile << ": " << render(out.diagnostics);
    EXPECT_EQ(env_of(*out.plan)["YARN_ENABLE_TELEMETRY"], "0") << profile;
  }
  CompileOutput fetch = compile_profile("yarn-fetch", ctx, {});
  ASSERT_TRUE(fetch.plan);
  EXPECT_EQ(env_of(*fetch.plan)["YARN_ENABLE_SCRIPTS"], "false");
  EXPECT_EQ(env_of(*fetch.plan)["YARN_IGNORE_SCRIPTS"], "true");
}

}  // namespace
}  // namespace moat::policy
