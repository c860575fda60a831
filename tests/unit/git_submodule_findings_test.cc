// The pure parts of the gitlinked-repository findings: git's index format (versions 2 to 4) and
// which configuration settings run programs.
#include "sandboxd/report/git_submodule_findings.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace moat::report {
namespace {

struct Entry {
  std::string path;
  std::uint32_t mode;
  bool extended = false;  // version 3+: two more flag bytes
};

void put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

// An index file as git writes it: header, entries (padded to 8 bytes in versions 2 and 3, path
// prefix-compressed in version 4), no extensions, a dummy checksum.
std::string index_file(std::uint32_t version, const std::vector<Entry>& entries,
                       std::size_t oid_bytes = 20) {
  std::string out = "DIRC";
  put32(out, version);
  put32(out, static_cast<std::uint32_t>(entries.size()));
  std::string previous;
  for (const Entry& e : entries) {
    const std::size_t start = out.size();
    for (int i = 0; i < 6; ++i) put32(out, 0);  // ctime, mtime, dev, ino
    put32(out, e.mode);
    for (int i = 0; i < 3; ++i) put32(out, 0);  // uid, gid, size
    out.append(oid_bytes, '\x11');
    const std::uint16_t flags = static_cast<std::uint16_t>(
        (e.extended ? 0x4000 : 0) | std::min<std::size_t>(e.path.size(), 0xfff));
    out += static_cast<char>(flags >> 8);
    out += static_cast<char>(flags & 0xff);
    if (e.extended) out.append(2, '\0');
    if (version == 4) {
      std::size_t common = 0;
      while (common < previous.size() && common < e.path.size() &&
             previous[common] == e.path[common]) {
        ++common;
      }
      std::size_t drop = previous.size() - common;
      // git's offset varint: 7 bits per byte, most significant first, each continuation minus one.
      std::string varint(1, static_cast<char>(drop & 0x7f));
      while (drop >>= 7) varint.insert(varint.begin(), static_cast<char>(0x80 | (--drop & 0x7f)));
      out += varint;
      out += e.path.substr(common);
      out += '\0';
    } else {
      out += e.path;
      const std::size_t length = out.size() - start;
      out.append(8 - length % 8, '\0');
    }
    previous = e.path;
  }
  out.append(20, '\0');
  return out;
}

const std::vector<Entry> kEntries = {{"README.md", 0100644},
                                     {"lib/sub", 0160000},
                                     {"lib/subtool.c", 0100755},
                                     {"vendor/a/b/c", 0160000, true},
                                     {"z", 0120000}};

TEST(GitIndexGitlinks, Version2) {
  auto links =
      git_index_gitlinks(index_file(2, {kEntries[0], kEntries[1], kEntries[2], kEntries[4]}), 20);
  ASSERT_TRUE(links.has_value());
  EXPECT_EQ(*links, std::vector<std::string>{"lib/sub"});
}

TEST(GitIndexGitlinks, Version3WithExtendedFlags) {
  auto links = git_index_gitlinks(index_file(3, kEntries), 20);
  ASSERT_TRUE(links.has_value());
  EXPECT_EQ(*links, (std::vector<std::string>{"lib/sub", "vendor/a/b/c"}));
}

TEST(GitIndexGitlinks, Version4PrefixCompressed) {
  std::vector<Entry> many = kEntries;
  // A long shared prefix, so that a drop count needs two varint bytes.
  many.insert(many.begin() + 3, {std::string(200, 'd') + "/x", 0100644});
  many.insert(many.begin() + 4, {"e", 0160000});
  auto links = git_index_gitlinks(index_file(4, many), 20);
  ASSERT_TRUE(links.has_value());
  EXPECT_EQ(*links, (std::vector<std::string>{"lib/sub", "e", "vendor/a/b/c"}));
}

TEST(GitIndexGitlinks, Sha256Repository) {
  auto links = git_index_gitlinks(index_file(3, kEntries, 32), 32);
  ASSERT_TRUE(links.has_value());
  EXPECT_EQ(*links, (std::vector<std::string>{"lib/sub", "vendor/a/b/c"}));
}

TEST(GitIndexGitlinks, NotAnIndexOrCutShort) {
  EXPECT_FALSE(git_index_gitlinks("", 20).has_value());
  EXPECT_FALSE(git_index_gitlinks("PACK\0\0\0\2\0\0\0\0", 20).has_value());
  std::string v5 = index_file(2, kEntries);
  v5[7] = 5;
  EXPECT_FALSE(git_index_gitlinks(v5, 20).has_value());
  const std::string whole = index_file(4, kEntries);
  for (std::size_t cut = 12; cut + 20 < whole.size(); cut += 7) {
    // Never a read past the end; a cut entry is "not an index", never a wrong path.
    auto links = git_index_gitlinks(std::string_view(whole).substr(0, cut), 20);
    if (links) {
      EXPECT_LE(links->size(), 2u);
    }
  }
  std::string bad_drop = index_file(4, {{"a", 0160000}});
  bad_drop[12 + 62] = 9;  // drop 9 bytes of an empty previous path
  EXPECT_FALSE(git_index_gitlinks(bad_drop, 20).has_value());
}

// git skips a UTF-8 byte order mark at the start of a config file; a reader that did not would
// see no settings, and a planted fsmonitor would go unreported.
TEST(GitConfigCommands, AByteOrderMarkDoesNotHideThem) {
  EXPECT_EQ(git_config_commands("\xEF\xBB\xBF[core]\n\tfsmonitor = \"echo pwned\"\n"),
            (std::vector<std::string>{"core.fsmonitor = echo pwned"}));
}

TEST(GitConfigCommands, SettingsThatRunPrograms) {
  const std::string config =
      "[core]\n"
      "\trepositoryformatversion = 0\n"
      "\tfsmonitor = \"touch /tmp/x; false\"\n"
      "\tworktree = ../../../lib\n"
      "\tsshCommand = ssh -i key\n"
      "[core]\n\tfsmonitor = true\n"
      "[alias]\n\tst = status\n\tpwn = \"!sh -c evil\"\n"
      "[filter \"lfs\"]\n\tclean = git-lfs clean -- %f\n\trequired = true\n"
      "[diff \"bin\"]\n\ttextconv = hexdump\n"
      "[remote \"origin\"]\n\turl = https://example.test/x\n\tuploadpack = evil\n"
      "[includeIf \"gitdir:/x/\"]\n\tpath = ../evil.cfg\n"
      "[submodule \"a\"]\n\tupdate = !evil\n[submodule \"b\"]\n\tupdate = rebase\n"
      "[credential]\n\thelper = store\n"
      "[user]\n\tname = Someone\n";
  EXPECT_EQ(git_config_commands(config),
            (std::vector<std::string>{
                "core.fsmonitor = touch /tmp/x; false", "core.sshcommand = ssh -i key",
                "alias.pwn = !sh -c evil", "filter.lfs.clean = git-lfs clean -- %f",
                "diff.bin.textconv = hexdump", "remote.origin.uploadpack = evil",
                "includeif.gitdir:/x/.path = ../evil.cfg", "submodule.a.update = !evil",
                "credential.helper = store"}));
  EXPECT_TRUE(git_config_commands("[user]\n\temail = a@b\n[core]\n\tbare = false\n").empty());
}

}  // namespace
}  // namespace moat::report
