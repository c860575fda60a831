// format_diagnostic: the exact layout of positioned, unpositioned and tab-indented diagnostics.
#include <gtest/gtest.h>

#include "policy/diagnostic.h"
#include "policy/suggest.h"

namespace moat::policy {
namespace {

TEST(Diagnostic, FormatsPositionSourceCaretsAndHint) {
  Diagnostic d{"profiles/npm.yaml", 12, 5, 5, true, "unknown-key",
               "'wirte' is not a filesystem key (did you mean 'write'?)", "    wirte: [a]",
               "valid keys: 'read' or 'write'"};
  EXPECT_EQ(format_diagnostic(d),
            "profiles/npm.yaml:12:5: error[unknown-key]: 'wirte' is not a filesystem key (did you "
            "mean 'write'?)\n"
            "  12 |     wirte: [a]\n"
            "     |     ^^^^^\n"
            "  hint: valid keys: 'read' or 'write'");
}

TEST(Diagnostic, WarningWithoutPositionOrHint) {
  Diagnostic d;
  d.file = "command line";
  d.is_error = false;
  d.code = "x";
  d.message = "m";
  EXPECT_EQ(format_diagnostic(d), "command line: warning[x]: m");
}

TEST(Diagnostic, CaretsFollowTabs) {
  Diagnostic d{"f", 1, 3, 2, true, "c", "m", "\t\tab", ""};
  EXPECT_EQ(format_diagnostic(d), "f:1:3: error[c]: m\n  1 | \t\tab\n    | \t\t^^");
}

// A value read from a cloned project's .npmrc ends up in the message: it is shown, not sent.
TEST(Diagnostic, ValuesFromFilesCannotDriveTheTerminal) {
  Diagnostic d{"p.yaml",
               2,
               1,
               3,
               true,
               "bad-network-rule",
               "bad host name 'reg\x1b]0;pwn\x07istry.test'",
               "x: \x1b[2Kforged",
               "write a name\x1b[31m"};
  const std::string text = format_diagnostic(d);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
  EXPECT_EQ(text,
            "p.yaml:2:1: error[bad-network-rule]: bad host name 'reg\\e]0;pwn\\x07istry.test'\n"
            "  2 | x: \\e[2Kforged\n"
            "    | ^^^\n"
            "  hint: write a name\\e[31m");
}

TEST(Suggest, TranspositionAndCaseAreOneEdit) {
  EXPECT_EQ(edit_distance("wirte", "write"), 1u);
  EXPECT_EQ(edit_distance("Write", "write"), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_match("wirte", {"read", "write", "exec"}), "write");
  EXPECT_EQ(closest_match("zzzzzz", {"read", "write", "exec"}), "");
  EXPECT_EQ(did_you_mean("hots", {"none", "host"}), " (did you mean 'host'?)");
  EXPECT_EQ(one_of({"a", "b", "c"}), "'a', 'b' or 'c'");
}

}  // namespace
}  // namespace moat::policy
