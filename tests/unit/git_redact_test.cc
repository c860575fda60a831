// redact_git_config: the credentials CI checkouts and developers leave in .git/config go, the rest
// of the file stays byte for byte (git must read the same configuration otherwise).
#include "policy/git_redact.h"

#include <gtest/gtest.h>

namespace moat::policy {
namespace {

TEST(GitRedact, AnOrdinaryConfigIsUnchanged) {
  const std::string config =
      "[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote \"origin\"]\n"
      "\turl = https://host.test/org/repo.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
      "[branch \"main\"]\n\tremote = origin\n# a comment\n";
  EXPECT_EQ(redact_git_config(config), config);
}

TEST(GitRedact, ShellCredentialHelperGoesNamedHelpersStay) {
  EXPECT_EQ(redact_git_config("[credential \"https://h.test\"]\n\thelper = \"!f() { echo "
                              "password=s3cret; }; f\"\n\tusername = u\n"),
            "[credential \"https://h.test\"]\n\tusername = u\n");
  EXPECT_EQ(redact_git_config("[credential]\n\thelper = !echo password=x\n"), "[credential]\n");
  const std::string named = "[credential]\n\thelper = store\n\thelper = cache --timeout=60\n";
  EXPECT_EQ(redact_git_config(named), named);
}

TEST(GitRedact, CheckoutTokenExtraheaderGoes) {
  // What actions/checkout writes with persist-credentials (the default).
  const std::string config =
      "[core]\n\tbare = false\n[http \"https://host.test/\"]\n"
      "\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0\n[gc]\n\tauto = 0\n";
  EXPECT_EQ(redact_git_config(config),
            "[core]\n\tbare = false\n[http \"https://host.test/\"]\n[gc]\n\tauto = 0\n");
  EXPECT_EQ(redact_git_config("[http]\n\tExtraHeader = Authorization: Bearer abc\n"), "[http]\n");
}

TEST(GitRedact, UserinfoIsCutFromValuesAndSectionNames) {
  EXPECT_EQ(
      redact_git_config("[remote \"o\"]\n\turl = https://x-access-token:ghs_secret@host.test/r\n"),
      "[remote \"o\"]\n\turl = https://host.test/r\n");
  EXPECT_EQ(redact_git_config(
                "[url \"https://user:tok@host.test/\"]\n\tinsteadOf = https://host.test/\n"),
            "[url \"https://host.test/\"]\n\tinsteadOf = https://host.test/\n");
  EXPECT_EQ(redact_git_config("[http]\n\tproxy = http://me:pw@proxy.test:3128\n"),
            "[http]\n\tproxy = http://proxy.test:3128\n");
  // An @ after the host is part of the path, not userinfo.
  EXPECT_EQ(redact_git_config("\turl = https://host.test/a@b\n"),
            "\turl = https://host.test/a@b\n");
}

TEST(GitRedact, PasswordTokenAndContinuationLinesGo) {
  EXPECT_EQ(redact_git_config("[sendemail]\n\tsmtpPass = hunter2\n\tsmtpUser = me\n"),
            "[sendemail]\n\tsmtpUser = me\n");
  EXPECT_EQ(redact_git_config("[x]\n\ttoken = abc\\\ndef\n\tkeep = 1\n"), "[x]\n\tkeep = 1\n");
  EXPECT_EQ(redact_git_config("[x] token = abc\n[y]\n"), "[y]\n");
}

}  // namespace
}  // namespace moat::policy
