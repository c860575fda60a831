// yarn under moat: the credential-free copy of an .npmrc (what is kept, what never is), the
// profile key that shows it (filesystem.redact).
#include <gtest/gtest.h>

#include <map>

#include "policy/tools/npmrc_redact.h"
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

}  // namespace
}  // namespace moat::policy
