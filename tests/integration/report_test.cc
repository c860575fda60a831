// The account of a run, checked end to end: processes left running are named (with the package
// they worked for) before they are killed, `moat report` rebuilds the summary from the audit file
// alone, and the HTML page renders in a real browser (headless Chromium) with its sections.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "sandbox_harness.h"

namespace moat::testing {
namespace {

class Report : public SandboxTest {
 protected:
  std::string read(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }
  std::string audit_path() { return sb().in_outside("audit.jsonl"); }
  // The lines of moat's own summary in stderr (they start with "moat: " or two spaces).
  static std::string summary_lines(const std::string& err) {
    std::string out, line;
    std::istringstream in(err);
    bool in_block = false;
    while (std::getline(in, line)) {
      bool head = line.rfind("moat: ", 0) == 0 && line.find("WARNING") == std::string::npos;
      if (head || (in_block && line.rfind("  ", 0) == 0)) {
        out += line + "\n";
        in_block = true;
      } else {
        in_block = false;
      }
    }
    return out;
  }
  RunResult run_daemon_install() {
    // ASAN_OPTIONS: in a sanitizer build the probe is instrumented too, and LeakSanitizer's
    // exit-time check needs ptrace, which the sandbox refuses.
    std::vector<std::string> cmd = {"env", "ASAN_OPTIONS=detect_leaks=0",
                                    "npm_package_name=evil-pkg", "npm_package_version=1.0.0",
                                    "npm_lifecycle_event=postinstall"};
    for (const std::string& part : Sandbox::probe({"daemon", sb().in_project("beat"), sb().tag()})) {
      cmd.push_back(part);
    }
    return sb().moat(cmd, {"--audit", audit_path()});
  }
};

TEST_P(Report, LeftoverProcessIsNamedWithItsOriginThenKilled) {
  RunResult r = run_daemon_install();
  ASSERT_EQ(r.status, 0) << r.describe();
  std::string audit = read(audit_path());
  bool found = false;
  std::istringstream lines(audit);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"kind\":\"kill-at-exit\"") == std::string::npos) continue;
    found = true;
    EXPECT_NE(line.find("\"package\":\"evil-pkg\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"script\":\"postinstall\""), std::string::npos) << line;
    EXPECT_NE(line.find("moat-probe"), std::string::npos) << line;
  }
  EXPECT_TRUE(found) << "no kill-at-exit event:\n" << audit << r.describe();
  EXPECT_NE(r.err.find("still running at exit, killed"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("npm evil-pkg@1.0.0 postinstall"), std::string::npos) << r.describe();
  // And it is really gone: its heartbeat stops.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto size = [&] {
    struct stat st {};
    return ::stat(sb().in_project("beat").c_str(), &st) == 0 ? st.st_size : -1;
  };
  auto s1 = size();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(s1, size()) << "the daemon survived moat";
}

TEST_P(Report, ReportRebuildsTheSummaryFromTheAuditFile) {
  RunResult r = run_daemon_install();
  ASSERT_EQ(r.status, 0) << r.describe();
  RunSpec spec;
  spec.argv = {moat_binary(), "report", audit_path()};
  RunResult again = sb().run(spec);
  ASSERT_EQ(again.status, 0) << again.describe();
  EXPECT_EQ(again.out, summary_lines(r.err)) << r.describe() << again.describe();

  spec.argv = {moat_binary(), "report", audit_path(), "--format", "json"};
  RunResult json = sb().run(spec);
  ASSERT_EQ(json.status, 0) << json.describe();
  EXPECT_NE(json.out.find("\"killed\""), std::string::npos) << json.describe();
  EXPECT_NE(json.out.find("evil-pkg"), std::string::npos) << json.describe();
}

TEST_P(Report, BadAuditLineIsAnErrorWithItsLineNumber) {
  sb().write_file(sb().in_outside("bad.jsonl"), "{\"v\":1,\"kind\":\"run\"}\nnot json\n");
  RunSpec spec;
  spec.argv = {moat_binary(), "report", sb().in_outside("bad.jsonl")};
  RunResult r = sb().run(spec);
  EXPECT_EQ(r.status, 125) << r.describe();
  EXPECT_NE(r.err.find("bad.jsonl:2:"), std::string::npos) << r.describe();
}

// Chromium loads the page with no network and no scripts (the page has none; its CSP forbids
// them): the DOM it builds must hold every section, and the screenshot must not be blank.
TEST_P(Report, HtmlRendersInHeadlessChromium) {
  RunResult r = run_daemon_install();
  ASSERT_EQ(r.status, 0) << r.describe();
  std::string html = sb().in_outside("report.html");
  RunSpec spec;
  spec.argv = {moat_binary(), "report", audit_path(), "--html", html};
  RunResult made = sb().run(spec);
  ASSERT_EQ(made.status, 0) << made.describe();
  std::string page = read(html);
  for (const char* id : {"summary", "findings", "denials", "hosts", "written", "killed", "tree",
                         "timeline"}) {
    EXPECT_NE(page.find(std::string("<section id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_EQ(page.find("<script"), std::string::npos);
  const char* chromium = "/usr/bin/chromium";
  if (::access(chromium, X_OK) != 0) {
    MOAT_SKIP_OR_FAIL("headless Chromium is not installed (scripts/install-deps.sh installs it)");
  }
  std::string shot = sb().in_outside("report.png");
  std::string profile_dir = sb().in_outside("chromium-profile");
  std::vector<std::string> common = {chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                     "--user-data-dir=" + profile_dir, "--window-size=1200,1600"};
  RunSpec dump;
  dump.argv = common;
  dump.argv.insert(dump.argv.end(), {"--dump-dom", "file://" + html});
  dump.timeout_s = 90;
  RunResult dom = sb().run(dump);
  ASSERT_EQ(dom.status, 0) << dom.describe();
  EXPECT_NE(dom.out.find("id=\"killed\""), std::string::npos) << dom.describe();
  EXPECT_NE(dom.out.find("evil-pkg"), std::string::npos) << dom.describe();
  RunSpec screenshot;
  screenshot.argv = common;
  screenshot.argv.insert(screenshot.argv.end(), {"--screenshot=" + shot, "file://" + html});
  screenshot.timeout_s = 90;
  RunResult png = sb().run(screenshot);
  ASSERT_EQ(png.status, 0) << png.describe();
  std::string bytes = read(shot);
  ASSERT_GT(bytes.size(), 2000u) << "the screenshot is empty or trivial";
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
}

// A malicious script names its files and its package with terminal escape sequences: printed raw,
// the summary would clear the line that names it, print a forged all-clear, set the window title
// or write the clipboard (OSC 52), and a right-to-left override would disguise a path. Checked
// from outside: moat's own lines (its stderr, the command's silenced) and `moat report` carry no
// control byte and no override, and still name what happened, escaped.
TEST_P(Report, TextFromTheSandboxCannotDriveTheTerminal) {
  const std::string esc_name = "moat-esc-" + sb().tag();
  sb().remove_at_exit("/etc/" + esc_name);
  const std::string script =
      "n=\"$(printf '" + esc_name +
      "\\033]0;PWNED\\007\\033[2K\\rmoat: all clear')\"; "
      "touch \"/etc/$n\" 2>/dev/null; "
      "echo x > \"$HOME/$(printf 'evil\\342\\200\\256txt.exe\\033]52;c;cHduZWQ=\\007')\"; true";
  RunResult r = sb().moat({"env", "npm_package_name=$(printf x)\x1b[2Kforged",
                           "npm_lifecycle_event=postinstall", "sh", "-c", script},
                          {"--audit", audit_path()});
  ASSERT_EQ(r.status, 0) << r.describe();
  RunSpec spec;
  spec.argv = {moat_binary(), "report", audit_path()};
  RunResult again = sb().run(spec);
  ASSERT_EQ(again.status, 0) << again.describe();
  for (const std::string* text : {&r.err, &again.out}) {
    for (char c : std::string("\x1b\x07\r")) {
      EXPECT_EQ(text->find(c), std::string::npos)
          << "control byte " << static_cast<int>(c) << " reached the terminal:\n"
          << *text;
    }
    EXPECT_EQ(text->find("\xe2\x80\xae"), std::string::npos) << *text;
    EXPECT_NE(text->find(esc_name + "\\e]0;PWNED\\x07\\e[2K\\rmoat: all clear"), std::string::npos)
        << *text;
    EXPECT_NE(text->find("evil\\u{202e}txt.exe\\e]52;c;cHduZWQ=\\x07"), std::string::npos) << *text;
    EXPECT_NE(text->find("\\e[2Kforged"), std::string::npos) << *text;
  }
}

// A command that makes events as fast as it can loop must not grow moat without bound (moat runs
// outside the sandbox's memory limit): past the bound (lowered here by MOAT_MAX_KEPT_EVENTS) the
// account says it is incomplete, and the audit file still has every event.
TEST_P(Report, AFloodOfEventsIsBoundedInMemoryAndKeptInTheAuditFile) {
  // 600 refused writes, each an event.
  const std::vector<std::string> flood = {
      "sh", "-c",
      "i=0; while [ $i -lt 600 ]; do echo x > /etc/moat-flood 2>/dev/null; i=$((i+1)); done; true"};
  RunSpec spec;
  spec.env = {{"MOAT_MAX_KEPT_EVENTS", "200"}};
  RunResult r = sb().moat(flood, {"--audit", audit_path()}, spec);
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(r.err.find("events past moat's memory bound were not kept for this account"),
            std::string::npos)
      << r.describe();
  const std::string audit = read(audit_path());
  std::size_t refusals = 0;
  for (std::size_t at = audit.find("moat-flood"); at != std::string::npos;
       at = audit.find("moat-flood", at + 1)) {
    ++refusals;
  }
  EXPECT_GE(refusals, 600u) << "the audit file lacks refusals";
  EXPECT_NE(audit.find("\"not_kept_events\":"), std::string::npos);

  // And the file: past its bound (lowered by MOAT_MAX_AUDIT_BYTES) events are counted.
  spec.env.push_back({"MOAT_MAX_AUDIT_BYTES", "20000"});
  r = sb().moat(flood, {"--audit", audit_path()}, spec);
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(r.err.find("events past the audit file's size bound were not written"),
            std::string::npos)
      << r.describe();
  const std::string bounded = read(audit_path());
  EXPECT_LT(bounded.size(), 40000u) << "the audit file grew past its bound";
  EXPECT_NE(bounded.find("\"kind\":\"end\""), std::string::npos) << "the end event is missing";
}

INSTANTIATE_TEST_SUITE_P(Identities, Report, ::testing::Values(Identity::kRoot, Identity::kUser),
                         IdentityName());

}  // namespace
}  // namespace moat::testing

namespace moat::testing {
namespace {

// Without root there is no eBPF watch: the supervisor still reports the command's attempts to
// change files outside the project (seccomp notifications on write-intent calls only), with the
// package it worked for. As root the watch reports the same (kind, path).
TEST_P(Report, FileChangesOutsideTheProjectAreReported) {
  // In /etc: visible inside (read-only), so the attempt meets a refusal rather than ENOENT.
  std::string outside = "/etc/moat-report-" + sb().tag();
  sb().remove_at_exit(outside);
  RunResult r = sb().moat(
      {"env", "npm_package_name=evil-pkg", "npm_lifecycle_event=postinstall", "sh", "-c",
       "echo x > " + outside + " 2>/dev/null; echo y > $HOME/.bashrc; echo z > in-project.txt; "
       "cat /etc/hostname > /dev/null; true"},
      {"--audit", audit_path()});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_FALSE(std::filesystem::exists(outside)) << "the write outside landed";
  std::string audit = read(audit_path());
  auto line_with = [&](const std::string& a, const std::string& b) {
    std::istringstream lines(audit);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("\"kind\":\"run\"") != std::string::npos) continue;  // it quotes the argv
      if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return line;
    }
    return std::string();
  };
  std::string refused = line_with("\"kind\":\"deny\"", outside);
  EXPECT_FALSE(refused.empty()) << "no deny event for " << outside << "\n" << audit;
  EXPECT_NE(refused.find("\"package\":\"evil-pkg\""), std::string::npos) << refused;
  std::string home = line_with("\"kind\":\"create\"", "/.bashrc");
  EXPECT_FALSE(home.empty()) << "no create event for ~/.bashrc\n" << audit;
  EXPECT_NE(r.err.find(outside), std::string::npos) << "the summary does not name it\n" << r.describe();
  EXPECT_NE(r.err.find("evil-pkg"), std::string::npos) << r.describe();
  if (GetParam() == Identity::kUser) {
    // Reads and writes inside the project never reach the supervisor.
    EXPECT_TRUE(line_with("\"path\"", "in-project.txt").empty()) << audit;
    EXPECT_TRUE(line_with("\"path\"", "/etc/hostname").empty()) << audit;
    EXPECT_NE(r.err.find("file-notify"), std::string::npos) << r.describe();
  }
}

}  // namespace
}  // namespace moat::testing

namespace moat::testing {
namespace {

// A file name is bytes, not UTF-8: a sandboxed process naming a file "\xff" must not abort
// moat (JSON output replaces the byte; the run, its exit status and its account go on).
TEST_P(Report, InvalidUtf8FileNamesDoNotBreakTheAccount) {
  RunResult r = sb().moat({"sh", "-c", "printf x > \"$HOME/$(printf 'bad\\377name')\"; exit 7"},
                          {"--audit", audit_path()});
  EXPECT_EQ(r.status, 7) << r.describe();
  std::string audit = read(audit_path());
  EXPECT_NE(audit.find("\"kind\":\"end\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("bad\xEF\xBF\xBDname"), std::string::npos) << "the name is not reported\n"
                                                                  << audit;
  RunSpec spec;
  spec.argv = {moat_binary(), "report", audit_path(), "--format", "json"};
  RunResult again = sb().run(spec);
  EXPECT_EQ(again.status, 0) << again.describe();
}

}  // namespace
}  // namespace moat::testing

namespace moat::testing {
namespace {

// An install that drops a .pth with code (Python runs it at every start) is a finding, as root
// (the watch) and without root (the supervisor's notifications report such files even inside the
// project); a .pth that only adds a path is not.
TEST_P(Report, PthWithCodeIsAFinding) {
  const char* make_wheel = R"PY(
import base64, hashlib, sys, zipfile
name, pth = sys.argv[1], sys.argv[2]
files = {name + ".pth": pth,
         name + "-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % name,
         name + "-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
def digest(b): return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
record = "".join("%s,%s,%d\n" % (n, digest(t.encode()), len(t.encode())) for n, t in files.items())
with zipfile.ZipFile(name + "-1.0-py3-none-any.whl", "w") as z:
    for n, t in files.items(): z.writestr(n, t)
    z.writestr(name + "-1.0.dist-info/RECORD", record + name + "-1.0.dist-info/RECORD,,\n")
)PY";
  sb().write_file(sb().in_project("make_wheel.py"), make_wheel);
  std::string script =
      "python3 make_wheel.py evil \"import os; os.system('true')\n\" && "
      "python3 make_wheel.py honest \"/opt/extra\n\" && "
      "python3 -m pip install -q --no-index --no-deps --target site ./evil-1.0-py3-none-any.whl "
      "./honest-1.0-py3-none-any.whl";
  RunResult r = sb().moat({"sh", "-c", script}, {"--audit", audit_path()});
  ASSERT_EQ(r.status, 0) << r.describe();
  ASSERT_TRUE(std::filesystem::exists(sb().in_project("site/evil.pth"))) << r.describe();
  EXPECT_NE(r.err.find("python-startup-code"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("site/evil.pth"), std::string::npos) << r.describe();
  EXPECT_EQ(r.err.find("site/honest.pth runs code"), std::string::npos) << r.describe();
}

}  // namespace
}  // namespace moat::testing
