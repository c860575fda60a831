// Variable expansion (known, unknown with offset, `~`, `$$`) and lexical normalisation.
#include <gtest/gtest.h>

#include "policy/variables.h"

namespace moat::policy {
namespace {

const Variables kVars = {{"HOME", "/home/a"}, {"PROJECT", "/p"}, {"CWD", "/p/s"},
                         {"TMPDIR", "/tmp"}, {"USER", "a"}};

TEST(Variables, ExpandsKnownVariablesAndTilde) {
  EXPECT_EQ(expand_variables("${HOME}/.gitconfig", kVars, true).value, "/home/a/.gitconfig");
  EXPECT_EQ(expand_variables("${PROJECT}/${USER}", kVars, true).value, "/p/a");
  EXPECT_EQ(expand_variables("~", kVars, true).value, "/home/a");
  EXPECT_EQ(expand_variables("~/x", kVars, true).value, "/home/a/x");
  EXPECT_EQ(expand_variables("~/x", kVars, false).value, "~/x");
  EXPECT_EQ(expand_variables("~bob/x", kVars, true).value, "~bob/x");  // not ours to resolve
  EXPECT_EQ(expand_variables("/a/~/b", kVars, true).value, "/a/~/b");
  EXPECT_EQ(expand_variables("cost $$5", kVars, false).value, "cost $5");
}

TEST(Variables, UnknownVariablePointsAtTheDollar) {
  Expansion x = expand_variables("${PROJECT}/${NOPE}/x", kVars, true);
  ASSERT_FALSE(x.ok);
  EXPECT_EQ(x.code, "unknown-variable");
  EXPECT_EQ(x.error_offset, 11u);
  EXPECT_EQ(x.error_length, 7u);
  EXPECT_EQ(x.message, "unknown variable '${NOPE}'");
  Expansion typo = expand_variables("${HOEM}", kVars, true);
  EXPECT_EQ(typo.message, "unknown variable '${HOEM}' (did you mean 'HOME'?)");
}

TEST(Variables, ShellStyleAndUnclosedAreErrors) {
  Expansion x = expand_variables("$HOME/x", kVars, true);
  ASSERT_FALSE(x.ok);
  EXPECT_EQ(x.code, "bad-variable");
  EXPECT_EQ(x.error_length, 5u);
  EXPECT_EQ(x.hint, "write ${HOME}, or $$ for a literal '$'");
  EXPECT_FALSE(expand_variables("${HOME", kVars, true).ok);
  EXPECT_FALSE(expand_variables("a$", kVars, true).ok);
}

TEST(Variables, NormalisesLexically) {
  EXPECT_EQ(normalize_path("/usr//lib/./x/../y/"), "/usr/lib/y");
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("//"), "/");
  EXPECT_EQ(normalize_path("/../../etc"), "/etc");
  EXPECT_EQ(normalize_path("/a/b/../../.."), "/");
  EXPECT_EQ(normalize_path("a/../../b"), "../b");
  EXPECT_EQ(normalize_path("/home/a/proj/."), "/home/a/proj");
}

TEST(Variables, PathWithin) {
  EXPECT_TRUE(path_within("/a/b", "/a"));
  EXPECT_TRUE(path_within("/a", "/a"));
  EXPECT_FALSE(path_within("/ab", "/a"));
  EXPECT_TRUE(path_within("/x", "/"));
}

}  // namespace
}  // namespace moat::policy
