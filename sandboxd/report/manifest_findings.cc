// See manifest_findings.h.
#include "sandboxd/report/manifest_findings.h"

#include <map>

#include "sandboxd/report/findings.h"

namespace moat::report {
namespace {

constexpr const char* kHookRunnerKeys[] = {"husky", "lint-staged", "simple-git-hooks", "pre-commit",
                                           "gitHooks"};

}  // namespace

ManifestSnapshot snapshot_package_json(const std::string& path,
                                       const std::optional<std::string>& content) {
  ManifestSnapshot out{path, std::nullopt};
  if (!content) return out;
  nlohmann::json doc = nlohmann::json::parse(*content, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return out;
  std::vector<std::pair<std::string, std::string>> entries;
  if (auto scripts = doc.find("scripts"); scripts != doc.end() && scripts->is_object()) {
    for (const auto& [name, value] : scripts->items()) {
      entries.emplace_back("scripts." + name,
                           value.is_string() ? value.get<std::string>() : json_text(value));
    }
  }
  for (const char* key : kHookRunnerKeys) {
    if (auto it = doc.find(key); it != doc.end()) entries.emplace_back(key, json_text(*it));
  }
  out.entries = std::move(entries);
  return out;
}

std::vector<Event> manifest_findings(const ManifestSnapshot& before, const ManifestSnapshot& after,
                                     const std::vector<Event>& events) {
  std::vector<Event> out;
  if (!after.entries) return out;
  std::map<std::string, std::string> old;
  if (before.entries) old.insert(before.entries->begin(), before.entries->end());
  const Event* writer = last_writer(events, after.path);
  for (const auto& [key, value] : *after.entries) {
    auto it = old.find(key);
    if (it != old.end() && it->second == value) continue;
    std::string message = after.path + " " + key +
                          (it == old.end() ? " was added during the run: \"" + one_line(value) + "\""
                                           : " changed during the run: \"" + one_line(it->second) +
                                                 "\" -> \"" + one_line(value) + "\"") +
                          (key.rfind("scripts.", 0) == 0
                               ? " (npm run and npm test run it later, outside any sandbox)"
                               : " (it configures what git hooks run, outside any sandbox)");
    out.push_back(
        attributed_finding("manifest-commands-changed", after.path + " " + key, message, writer));
  }
  return out;
}

}  // namespace moat::report
