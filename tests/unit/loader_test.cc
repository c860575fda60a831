// The loader: positions (1-based line:col, quotes, key vs value), lengths, and bounded input.
#include <gtest/gtest.h>

#include "policy/raw_node.h"

namespace moat::policy {
namespace {

TEST(Loader, PositionsOfKeysValuesAndQuotedScalars) {
  DiagnosticSink sink;
  std::optional<RawNode> root = load_raw_text(
      "f.yaml", "version: 1\nfilesystem:\n  read: [\"${HOME}/x\", '/y', /z]\n  write:\n", sink);
  ASSERT_TRUE(root);
  EXPECT_FALSE(sink.has_errors());
  ASSERT_EQ(root->kind, RawNode::Kind::kMap);
  ASSERT_EQ(root->entries.size(), 2u);
  const auto& [vkey, vval] = root->entries[0];
  EXPECT_EQ(vkey.at.line, 1);
  EXPECT_EQ(vkey.at.col, 1);
  EXPECT_EQ(vkey.length, 7);
  EXPECT_EQ(vval.at.col, 10);
  const RawNode& fs = root->entries[1].value;
  ASSERT_EQ(fs.kind, RawNode::Kind::kMap);
  const RawNode& read = fs.entries[0].value;
  ASSERT_EQ(read.kind, RawNode::Kind::kSequence);
  ASSERT_EQ(read.items.size(), 3u);
  EXPECT_EQ(read.items[0].text, "${HOME}/x");
  EXPECT_EQ(read.items[0].at.line, 3);
  EXPECT_EQ(read.items[0].at.col, 10);     // the opening quote
  EXPECT_EQ(read.items[0].value_col, 11);  // the '$'
  EXPECT_EQ(read.items[0].length, 11);     // including both quotes
  EXPECT_EQ(read.items[1].at.col, 23);
  EXPECT_EQ(read.items[1].length, 4);
  EXPECT_EQ(read.items[2].at.col, 29);
  EXPECT_EQ(read.items[2].length, 2);
  // An empty value has no position of its own in yaml-cpp: it takes its key's.
  const auto& [wkey, wval] = fs.entries[1];
  EXPECT_EQ(wval.kind, RawNode::Kind::kNull);
  EXPECT_EQ(wval.at.line, wkey.at.line);
  EXPECT_EQ(wval.at.col, wkey.at.col);
}

TEST(Loader, SyntaxErrorHasAPosition) {
  DiagnosticSink sink;
  EXPECT_FALSE(load_raw_text("f.yaml", "a: [b\nc: d\n", sink));
  ASSERT_EQ(sink.diagnostics().size(), 1u);
  EXPECT_EQ(sink.diagnostics()[0].code, "yaml-syntax");
  EXPECT_GT(sink.diagnostics()[0].line, 0);
}

TEST(Loader, AliasBombIsBounded) {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    const char prev = static_cast<char>(c - 1);
    text += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + "]\n";
  }
  DiagnosticSink sink;
  EXPECT_FALSE(load_raw_text("f.yaml", text, sink));
  ASSERT_FALSE(sink.diagnostics().empty());
  EXPECT_EQ(sink.diagnostics()[0].code, "too-complex");
}

TEST(Loader, DeepNestingIsBounded) {
  DiagnosticSink sink;
  EXPECT_FALSE(load_raw_text("f.yaml", std::string(500, '[') + std::string(500, ']'), sink));
  EXPECT_TRUE(sink.has_errors());
}

TEST(Loader, NulByteAndUnreadableFile) {
  DiagnosticSink sink;
  EXPECT_FALSE(load_raw_text("f.yaml", std::string("version: 1\0", 11), sink));
  EXPECT_FALSE(load_raw_file("/nonexistent/moat.yaml", SourceRef{"x", 1, 1}, 1, sink));
  ASSERT_EQ(sink.diagnostics().size(), 2u);
  EXPECT_EQ(sink.diagnostics()[1].code, "unreadable");
  EXPECT_EQ(sink.diagnostics()[1].message,
            "cannot read profile '/nonexistent/moat.yaml': No such file or directory");
}

}  // namespace
}  // namespace moat::policy

namespace moat::policy {
namespace {

// fuzz_profile found that yaml-cpp 0.7's LoadAll never returns on this input.
TEST(Loader, FuzzRegressionLoadAllHang) {
  DiagnosticSink sink;
  std::optional<RawNode> root = load_raw_text("f.yaml", ",-\r\nvee\n", sink);
  EXPECT_TRUE(!root || root->kind != RawNode::Kind::kMap);
}

}  // namespace
}  // namespace moat::policy
