// Environment filtering: keep patterns, secrets dropped, exact keep wins, pattern keep does not.
#include <gtest/gtest.h>

#include "policy/env_filter.h"
#include "tests/unit/policy_test_util.h"

namespace moat::policy {
namespace {

TEST(EnvFilter, Glob) {
  EXPECT_TRUE(glob_match("LC_*", "LC_ALL"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*_TOKEN*", "NPM_TOKEN"));
  EXPECT_TRUE(glob_match("*_TOKEN*", "X_TOKEN_FILE"));
  EXPECT_FALSE(glob_match("LC_*", "LANG"));
  EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
  EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
  EXPECT_FALSE(glob_match("PATH", "PATHS"));
}

TEST(EnvFilter, SecretNames) {
  for (const char* n : {"GITHUB_TOKEN", "NPM_TOKEN", "MY_TOKEN", "TOKEN", "AWS_PROFILE",
                        "AZURE_CLIENT_ID", "DB_PASSWORD", "OPENAI_API_KEY", "SIGNING_KEY",
                        "SSH_AUTH_SOCK", "DBUS_SESSION_BUS_ADDRESS", "GPG_AGENT_INFO",
                        "CLIENT_SECRET", "GOOGLE_APPLICATION_CREDENTIALS", "github_token",
                        "PYPI_API_TOKEN", "MYSQL_PASSWD", "X_KEY_ID"}) {
    EXPECT_TRUE(looks_secret(n)) << n;
  }
  for (const char* n : {"PATH", "HOME", "LANG", "LC_ALL", "TERM", "KEYBOARD", "EDITOR", "CI"}) {
    EXPECT_FALSE(looks_secret(n)) << n;
  }
}

TEST(EnvFilter, KeepsOnlyMatchesAndDropsSecretsKeptByPattern) {
  const std::vector<std::string> environ = {"PATH=/usr/bin", "LC_ALL=C", "EDITOR=vi",
                                            "NPM_TOKEN=s3cret", "GH_TOKEN=x", "MY_API_KEY=k",
                                            "PATH=/second", "BROKEN", "=x"};
  EnvFilterResult r = filter_environ(environ, {"PATH", "LC_*", "*TOKEN", "MY_*"}, {"GH_TOKEN"});
  ASSERT_EQ(r.env.size(), 3u);
  EXPECT_EQ(r.env[0].name, "PATH");
  EXPECT_EQ(r.env[0].value, "/usr/bin");  // the first of duplicates, like getenv
  EXPECT_EQ(r.env[1].name, "LC_ALL");
  EXPECT_EQ(r.env[2].name, "GH_TOKEN");  // exact name from the command line wins
  EXPECT_EQ(r.dropped, (std::vector<std::string>{"MY_API_KEY", "NPM_TOKEN"}));
}

TEST(EnvFilter, ExactProfileKeepPassesASecret) {
  EnvFilterResult r = filter_environ({"NPM_TOKEN=s", "NODE_AUTH_TOKEN=t"}, {"NPM_TOKEN", "NODE_*"},
                                     {});
  ASSERT_EQ(r.env.size(), 1u);
  EXPECT_EQ(r.env[0].name, "NPM_TOKEN");
  EXPECT_EQ(r.dropped, std::vector<std::string>{"NODE_AUTH_TOKEN"});
}

TEST(EnvFilter, PlanEnvironmentIsSortedWithHomeAndTmpdirForced) {
  using namespace testing;
  Context ctx = test_context();
  ctx.environ = {"TERM=xterm", "PATH=/bin", "HOME=/wrong", "AWS_SECRET_ACCESS_KEY=x", "LANG=C",
                 "OTHER=1", "TMPDIR=/host/tmp"};
  Overrides ov;
  CompileOutput out = compile_profile(data_dir() + "/good/every-key.yaml", ctx, ov);
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  std::vector<std::string> got;
  for (const EnvVar& v : out.plan->env) got.push_back(v.name + "=" + v.value);
  EXPECT_EQ(got, (std::vector<std::string>{"CACHE=/tmp/cache", "CI=1", "HOME=/home/alice",
                                           "LANG=C", "PATH=/bin", "PRICE=$5", "TERM=xterm",
                                           "TMPDIR=/tmp"}));
  EXPECT_TRUE(out.plan->dropped_env.empty());  // AWS_* was never kept, so not "dropped"

  ctx.environ.push_back("CI_JOB_TOKEN=x");
  ov.keep_env = {"AWS_SECRET_ACCESS_KEY"};
  CompileOutput out2 = compile_profile(data_dir() + "/good/every-key.yaml", ctx, ov);
  ASSERT_TRUE(out2.plan);
  bool has_aws = false;
  for (const EnvVar& v : out2.plan->env) has_aws |= v.name == "AWS_SECRET_ACCESS_KEY";
  EXPECT_TRUE(has_aws);
}

}  // namespace
}  // namespace moat::policy
