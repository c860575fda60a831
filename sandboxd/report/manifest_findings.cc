// See manifest_findings.h.
#include "sandboxd/report/manifest_findings.h"

#include <map>

#include "sandboxd/report/findings.h"

namespace moat::report {
namespace {

constexpr const char* kHookRunnerKeys[] = {"husky", "lint-staged", "simple-git-hooks", "pre-commit",
                                           "gitHooks"};

// A value for a one-line message: control characters shown as '?', long ones cut.
std::string shown(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (text.size() > 120) text = text.substr(0, 117) + "...";
  return text;
}

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
  // Who wrote the file last (the watch or the file notifier saw it), for the attribution.
  const Event* writer = nullptr;
  for (const Event& e : events) {
    if ((e.kind == "write" || e.kind == "create") && detail_text(e, "path") == after.path) {
      writer = &e;
    } else if (e.kind == "rename" && detail_text(e, "to") == after.path) {
      writer = &e;
    }
  }
  for (const auto& [key, value] : *after.entries) {
    auto it = old.find(key);
    if (it != old.end() && it->second == value) continue;
    std::string message = after.path + " " + key +
                          (it == old.end() ? " was added during the run: \"" + shown(value) + "\""
                                           : " changed during the run: \"" + shown(it->second) +
                                                 "\" -> \"" + shown(value) + "\"") +
                          (key.rfind("scripts.", 0) == 0
                               ? " (npm run and npm test run it later, outside any sandbox)"
                               : " (it configures what git hooks run, outside any sandbox)");
    if (writer != nullptr) {
      message += "; written by " + (writer->origin.empty()
                                        ? (writer->exe.empty() ? std::string("?") : writer->exe)
                                        : writer->origin.describe());
    }
    out.push_back(finding_event({"manifest-commands-changed", after.path + " " + key, message,
                                 writer != nullptr ? writer->pid : 0,
                                 writer != nullptr ? writer->exe : std::string(),
                                 writer != nullptr ? writer->origin : Origin{}}));
  }
  return out;
}

}  // namespace moat::report
