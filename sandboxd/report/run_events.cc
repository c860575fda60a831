// `run` and `end` events; see run_events.h.
#include "sandboxd/report/run_events.h"

#include "policy/variables.h"

#include <algorithm>
#include <cctype>

namespace moat::report {

std::vector<std::string> usual_write_roots(const policy::Plan& plan) {
  std::vector<std::string> roots;
  auto add = [&](const std::string& path) {
    if (!path.empty() && std::find(roots.begin(), roots.end(), path) == roots.end()) {
      roots.push_back(path);
    }
  };
  add(plan.project);
  add(plan.tmpdir);
  add("/tmp");
  add("/dev");
  if (!plan.home.empty()) add(plan.home + "/.cache");
  for (const std::string& dir : plan.tool_caches) add(dir);  // ${npm.cache}: ~/.npm
  for (const policy::PathRule& rule : plan.paths) {
    if ((rule.access & policy::kAccessWrite) == 0) continue;
    std::string lower = rule.path;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.find("cache") != std::string::npos) add(rule.path);
  }
  return roots;
}

bool is_within(const std::string& path, const std::string& root) {
  return !root.empty() && policy::path_within(path, root);
}

std::string symlink_target_path(const std::string& link, const std::string& target) {
  if (!target.empty() && target[0] == '/') return policy::normalize_path(target);
  return policy::normalize_path(link.substr(0, link.rfind('/') + 1) + target);
}

bool is_usual_write(const std::string& path, const std::vector<std::string>& usual_roots,
                    const std::string& home) {
  return std::any_of(usual_roots.begin(), usual_roots.end(), [&](const std::string& root) {
    return is_within(path, root) && (!is_within(path, home) || is_within(root, home));
  });
}

Event run_event(const policy::Plan& plan, const std::vector<std::string>& argv,
                const std::vector<std::string>& sources, const std::string& tier) {
  Event e;
  e.kind = "run";
  e.layer = "supervisor";
  e.detail = {{"argv", argv},
              {"profile", plan.profile_name},
              {"project", plan.project},
              {"cwd", plan.cwd},
              {"tier", tier},
              {"sources", sources},
              {"usual_write_roots", usual_write_roots(plan)},
              {"home", plan.home}};
  nlohmann::json masked = nlohmann::json::array();
  for (const policy::DenyRule& rule : plan.deny) masked.push_back(rule.path);
  e.detail["masked"] = std::move(masked);
  // Files the sandbox reads as a copy without credentials (they are in `masked` too).
  nlohmann::json redacted = nlohmann::json::array();
  for (const policy::RedactedFile& r : plan.redacted) redacted.push_back(r.path);
  e.detail["redacted"] = std::move(redacted);
  // Persistence points (shell start-up files, autostart, git hooks and config, editor tasks): a
  // change there is a finding even where it landed in the private home and vanished.
  nlohmann::json protected_paths = nlohmann::json::array();
  for (const policy::ProtectRule& rule : plan.protect) {
    protected_paths.push_back({{"path", rule.path}, {"protection", rule.protection}});
  }
  e.detail["protected"] = std::move(protected_paths);
  return e;
}

Event end_event(const RunEnd& end) {
  Event e;
  e.kind = "end";
  e.layer = "supervisor";
  e.detail = {{"exit_code", end.exit_code},
              {"timed_out", end.timed_out},
              {"oom_killed", end.oom_killed},
              {"leftovers", end.leftovers},
              {"lost_events", end.lost_events},
              {"kernel_refusals", end.kernel_refusals},
              {"not_kept_events", end.not_kept_events},
              {"not_written_events", end.not_written_events}};
  return e;
}

}  // namespace moat::report
