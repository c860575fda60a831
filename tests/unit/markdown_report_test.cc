// The step summary's markdown: its parts, a clean run, and escaping of what the sandbox chose
// (a path or host that tries to end a table row, open a link or inject HTML renders as text).
#include "sandboxd/report/markdown_report.h"

#include <gtest/gtest.h>

namespace moat::report {
namespace {

Summary sample() {
  Summary s;
  s.sources = {"gate", "watch"};
  s.has_run_end = true;
  s.exit_code = 2;
  s.denials.push_back({"connect 10.77.23.3:4444", "gate", "not in the allowlist", "/usr/bin/curl",
                       Origin{"pip", "evilpkg", "", "build"}, 3});
  s.hosts.push_back({"uploads.test:8080", 1});
  s.written_outside.push_back(
      {"/home/u/.cache/x", "create", "/usr/bin/make", {}, 1, "/home/u/.cache/x/a"});
  s.killed.push_back({42, "/usr/bin/sleep", "sleep 300", {}});
  s.findings.push_back({"python-startup-code", "/v/x.pth",
                        "/v/x.pth runs code at every Python start", 7, "/usr/bin/python3",
                        Origin{"pip", "evilwheel", "", "build"}});
  return s;
}

TEST(MarkdownReport, EveryPart) {
  const std::string md = render_markdown(sample(), {"make test", "ci"});
  EXPECT_EQ(md.rfind("### moat: make test (profile ci), exit 2\n\n", 0), 0u) << md;
  EXPECT_NE(md.find("**Refused (3)**"), std::string::npos) << md;
  EXPECT_NE(md.find("| connect 10.77.23.3:4444 | gate | /usr/bin/curl \\[pip evilpkg build\\] "
                    "| not in the allowlist | 3 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| uploads.test:8080 | 1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("/home/u/.cache/x/a"), std::string::npos) << md;
  EXPECT_NE(md.find("**Still running at exit, killed**: 1"), std::string::npos) << md;
  EXPECT_NE(md.find("- pid 42 sleep 300"), std::string::npos) << md;
  EXPECT_NE(md.find("- **python-startup-code**: /v/x.pth runs code"), std::string::npos) << md;
  EXPECT_NE(md.find("<sub>seen by: gate, watch</sub>"), std::string::npos) << md;
}

TEST(MarkdownReport, CleanRunSaysSo) {
  Summary s;
  s.has_run_end = true;
  const std::string md = render_markdown(s, {"true", "ci"});
  EXPECT_EQ(md, "### moat: true (profile ci), exit 0\n\nNothing was refused.\n\n");
}

TEST(MarkdownReport, SandboxChosenTextCannotEscape) {
  Summary s;
  s.denials.push_back({"write /p/a|b\n| x | <img src=x onerror=alert(1)> [l](http://e.test)`c`",
                       "landlock",
                       "",
                       "/bin/sh",
                       {},
                       1});
  const std::string md = render_markdown(s, {"sh", "ci"});
  const std::string row = md.substr(md.find("| write"));
  const std::string first_line = row.substr(0, row.find('\n'));
  // One row: the newline became a space, every '|' inside the cell is escaped.
  EXPECT_EQ(first_line.find("| x |"), std::string::npos) << first_line;
  EXPECT_NE(first_line.find("a\\|b"), std::string::npos) << first_line;
  EXPECT_EQ(md.find("<img"), std::string::npos) << md;
  EXPECT_NE(md.find("&lt;img"), std::string::npos) << md;
  EXPECT_EQ(md.find("[l]("), std::string::npos) << md;  // no link: the brackets are escaped
  EXPECT_NE(md.find("\\[l\\](http"), std::string::npos) << md;
  EXPECT_EQ(md.find("`c`"), std::string::npos) << md;
}

TEST(MarkdownReport, BidiOverridesAndInvalidBytesAreShown) {
  EXPECT_EQ(markdown_escape("evil\xe2\x80\xaetxt.exe"), "evilU+202Etxt.exe");
  EXPECT_EQ(markdown_escape("a\xff"
                            "b"),
            "a\xef\xbf\xbd"
            "b");
}

// GitHub makes links of bare addresses in text: a refused path named "victim@evil.test", or one
// holding "www.evil.test" or "https://evil.test", would be a link in the job's summary.
TEST(MarkdownReport, BareAddressesAreNotLinks) {
  EXPECT_EQ(markdown_escape("/etc/z victim@evil.test"), "/etc/z victim\\@evil.test");
  EXPECT_EQ(markdown_escape("a www.evil.test b"), "a www\\.evil.test b");
  EXPECT_EQ(markdown_escape("https://evil.test/x"), "https\\://evil.test/x");
  EXPECT_EQ(markdown_escape("Www.evil.test"), "Www\\.evil.test");
  EXPECT_EQ(markdown_escape("registry.test:443"), "registry.test:443");  // a port stays as it is
}

TEST(MarkdownReport, ARunThatNeverStarted) {
  EXPECT_EQ(render_markdown_failure({"make", "ci"}, 127, "cannot find `make` <in PATH>"),
            "### moat: make (profile ci), exit 127\n\n**The command did not run**: cannot find "
            "\\`make\\` &lt;in PATH&gt;\n\n");
}

TEST(MarkdownReport, LongTextIsCut) {
  EXPECT_EQ(markdown_escape(std::string(1000, 'a'), 10), "aaaaaaaaaa...");
  EXPECT_EQ(markdown_escape("a&b"), "a&amp;b");
}

}  // namespace
}  // namespace moat::report
