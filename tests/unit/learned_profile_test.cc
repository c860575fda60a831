// `moat learn`'s profile from sample event lists: only write-type operations become grants, never
// a system tree, the home itself, an ancestor of a protected path or a directory on PATH; `$`
// survives the loader.
#include "sandboxd/report/learned_profile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "policy/compile.h"
#include "policy_test_util.h"
#include "sandboxd/report/event_log.h"

namespace moat::report {
namespace {

const std::string kHome = "/home/alice";
const std::string kProject = "/home/alice/proj";

Event event(std::string kind, nlohmann::json detail, std::string verdict = "",
            std::string exe = "/bin/sh") {
  Event e;
  e.kind = std::move(kind);
  e.pid = 7;
  e.ppid = 1;
  e.exe = std::move(exe);
  e.verdict = std::move(verdict);
  e.layer = verdict.empty() ? "" : "landlock";
  e.detail = std::move(detail);
  return e;
}

// A refused attempt, as the watch (convert.cc) and the supervisor (file_notifier.cc) report it.
Event refused(const std::string& op, const std::string& path, std::string exe = "/bin/sh") {
  return event("deny", {{"op", op}, {"path", path}, {"error", "EACCES"}}, "refused",
               std::move(exe));
}

Event run_event() {
  return event("run", {{"usual_write_roots", {kProject, "/tmp", kHome + "/.cache"}}});
}

LearnInput input() {
  LearnInput in;
  in.extends = "base";
  in.command = "sh -c x";
  in.date = "2026-11-23";
  in.home = kHome;
  in.project = kProject;
  in.protected_paths = {
      kHome + "/.bashrc", kHome + "/.config/autostart", kHome + "/.local/share/systemd/user",
      kHome + "/.ssh",    kProject + "/.git/hooks",     kProject + "/.git/modules/*/hooks"};
  return in;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// The write grants the profile gives once loaded, expanded as `moat run -p` would see them.
std::vector<std::string> loaded_write_grants(const std::string& yaml) {
  char dir[] = "/tmp/moat-learned-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return {"<mkdtemp failed>"};
  const std::string file = std::string(dir) + "/learned.yaml";
  policy::testing::write_text(file, yaml);
  policy::Context ctx = policy::testing::test_context();
  policy::CompileOutput out = policy::check_profile_file(file, ctx);
  ::unlink(file.c_str());
  ::rmdir(dir);
  if (!out.plan) return {"<does not load: " + policy::testing::render(out.diagnostics) + ">"};
  // What base itself grants is not the learned profile's doing.
  std::string base_file = policy::testing::builtin_dir() + "/base.yaml";
  policy::CompileOutput base = policy::check_profile_file(base_file, ctx);
  std::vector<std::string> grants;
  for (const policy::PathRule& r : out.plan->paths) {
    if ((r.access & policy::kAccessWrite) == 0) continue;
    const bool from_base =
        base.plan && std::any_of(base.plan->paths.begin(), base.plan->paths.end(),
                                 [&](const policy::PathRule& b) {
                                   return b.path == r.path && (b.access & policy::kAccessWrite);
                                 });
    if (!from_base) grants.push_back(r.path);
  }
  return grants;
}

// The red team's repro: refused writes into system directories as root, `chmod 755 /`, and a
// refused read of a mode-000 file in /etc were all learned as write grants.
TEST(LearnedProfile, SystemDirectoriesAndRefusedReadsAreNeverGranted) {
  std::vector<Event> events = {
      run_event(),
      refused("create", "/usr/local/bin/s"),
      refused("create", "/etc/cron.d/p"),
      refused("chmod", "/"),
      refused("read", "/etc/secret.conf", "/usr/bin/cat"),
      refused("write", "/var/lib/dpkg/status"),
      refused("create", "/root/.profile"),
      refused("create", "/opt/tool/bin/x"),
      event("create", {{"path", "/boot/x"}}),
  };
  LearnedProfile p = learn_profile(events, input());
  EXPECT_TRUE(p.write_paths.empty()) << p.yaml;
  EXPECT_FALSE(has(p.yaml, "write:")) << p.yaml;
  EXPECT_TRUE(loaded_write_grants(p.yaml).empty()) << p.yaml;
  for (const char* shown : {"/usr/local/bin", "/etc/cron.d", "\n# not learned: / ", "/var/lib/dpkg",
                            "/root", "/opt/tool/bin", "/boot"}) {
    EXPECT_TRUE(has(p.yaml, shown)) << shown << " is not listed as not learned:\n" << p.yaml;
  }
  // A read is no write: neither granted nor listed as a refused write.
  EXPECT_FALSE(has(p.yaml, "/etc/secret.conf")) << p.yaml;
  EXPECT_FALSE(has(p.yaml, "cat")) << p.yaml;
}

// Nor anything in the home a later shell or command would run from or through.
TEST(LearnedProfile, TheHomeAncestorsOfProtectedPathsAndPathDirectoriesAreNeverGranted) {
  std::vector<Event> events = {
      run_event(),
      refused("chmod", kHome),
      event("create", {{"path", kHome + "/.config"}, {"dir", true}}),
      event("create", {{"path", kHome + "/.local/share/systemd"}, {"dir", true}}),
      refused("create", kHome + "/.config/autostart/evil.desktop"),
      refused("create", kProject + "/.git/modules/sub/hooks/post-checkout"),
      refused("chmod", "/home"),
      event("create", {{"path", kHome + "/.local/bin/git"}}),
  };
  LearnInput in = input();
  in.command_dirs = {kHome + "/.local/bin", "/usr/bin"};
  LearnedProfile p = learn_profile(events, in);
  EXPECT_TRUE(p.write_paths.empty()) << p.yaml;
  EXPECT_TRUE(loaded_write_grants(p.yaml).empty()) << p.yaml;
  for (const std::string& shown :
       {kHome + " ", kHome + "/.config ", kHome + "/.local/share/systemd ",
        kHome + "/.config/autostart", kProject + "/.git/modules/sub/hooks", std::string("/home "),
        kHome + "/.local/bin (on PATH"}) {
    EXPECT_TRUE(has(p.yaml, "# not learned: " + shown)) << shown << ":\n" << p.yaml;
  }
}

// What learn is for still works: writes (refused or not) below the home and in /var/tmp.
TEST(LearnedProfile, WritesBelowTheHomeAndTemporaryDirectoriesAreLearned) {
  std::vector<Event> events = {
      run_event(),
      refused("create", kHome + "/.myapp/state"),
      event("write", {{"path", kHome + "/.config/app/settings.json"}}),
      event("rename", {{"path", "/var/tmp/build/a.tmp"}, {"to", "/var/tmp/build/a"}}),
  };
  LearnedProfile p = learn_profile(events, input());
  EXPECT_EQ(p.write_paths,
            (std::vector<std::string>{"${HOME}/.config/app", "${HOME}/.myapp", "/var/tmp/build"}))
      << p.yaml;
  EXPECT_EQ(loaded_write_grants(p.yaml),
            (std::vector<std::string>{kHome + "/.config/app", kHome + "/.myapp", "/var/tmp/build"}))
      << p.yaml;
}

// `mkdir '/${HOME}'` was learned as "/${HOME}", which the loader expands to the real home.
TEST(LearnedProfile, DollarSignsAreEscapedForTheLoader) {
  std::vector<Event> events = {
      run_event(),
      event("create", {{"path", "/${HOME}"}, {"dir", true}}),
      event("create", {{"path", kHome + "/${HOME}/x"}}),
      event("create", {{"path", kHome + "/$$HOME"}}),
      event("create", {{"path", "/var/tmp/${PROJECT}/x"}}),
  };
  LearnedProfile p = learn_profile(events, input());
  EXPECT_FALSE(has(p.yaml, "\"/${HOME}\"")) << p.yaml;
  const std::vector<std::string> grants = loaded_write_grants(p.yaml);
  EXPECT_EQ(grants, (std::vector<std::string>{kHome + "/$$HOME", kHome + "/${HOME}",
                                              "/var/tmp/${PROJECT}"}))
      << p.yaml;
  EXPECT_TRUE(std::none_of(grants.begin(), grants.end(), [](const std::string& g) {
    return g == kHome || g == kProject;
  })) << p.yaml;
}

}  // namespace
}  // namespace moat::report
