// Finding the project settings that name a program or code the client would run in phase 1 of
// `moat install` (see install_project_code.h); pure, through the injected reader.
#include "policy/install_project_code.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include "policy/text_lines.h"
#include "policy/tools/common.h"
#include "policy/tools/npmrc.h"
#include "policy/variables.h"

namespace moat::policy {
namespace {

// npm 9-11 settings whose value is a program npm starts or a file it loads. Phase 1 pins each in
// the -fetch profiles' environment (npm ranks npm_config_* over every .npmrc), so a project
// file, or a config file it redirects npm to, cannot choose them. Values: npm's own defaults
// ("null" is nopt's null, which npm reads as "unset"; an empty variable would be skipped).
// Not listed: `onload-script` (gone since npm 7: npm 9-11 ignore it with a warning),
// `init-module` and `call` (read only by `npm init` and `npm exec`, which moat install refuses),
// and `node-gyp` (run only for install scripts, which phase 1 does not run).
const std::vector<NpmOverride> kOverrides = {
    {"git", "git"},            // git dependencies: `git ls-remote`, `git clone`
    {"script-shell", "null"},  // the shell of any script npm runs
    {"node-options", "null"},  // NODE_OPTIONS for them: --require runs a file first
    {"shell", "/bin/sh"},      // npm exec / explore
    {"editor", "vi"},          // npm edit, npm config edit
    {"browser", "false"},      // npm docs, web login: print the URL instead
    {"viewer", "man"},         // npm help
};

// Settings a project has no business setting for phase 1: each only redirects it. `git`: the
// program npm runs for a git dependency (`git=./tools/git.sh` ran the project's script with the
// tokens readable). `userconfig`/`globalconfig`: which files npm reads next (the project's
// file comes before them and may name them), so a setting moat never saw.
const std::vector<std::string> kRefusedNpmKeys = {"git", "userconfig", "globalconfig"};

std::string npm_why(const std::string& key) {
  if (key == "git") return "the program npm runs for git dependencies";
  if (key == "userconfig") return "the user file npm reads (and takes the tokens from)";
  if (key == "globalconfig") return "the global file npm reads, a configuration moat never saw";
  if (key == "node-options") return "NODE_OPTIONS of the scripts npm runs";
  if (key == "script-shell") return "the shell npm runs scripts with";
  return "a program npm starts";
}

void npm_settings(const std::string& tool, const ToolConfigInput& in,
                  std::vector<ProjectCodeSetting>& out) {
  // A file that does not parse is the profile's error to report, with its line.
  auto cfg = tools::load_npm_config(
      in, tool == "pnpm" ? std::vector<std::string>{"npm_config_", "pnpm_config_"}
                         : std::vector<std::string>{"npm_config_"});
  if (!cfg) return;
  for (const tools::NpmLayer& layer : cfg->layers) {
    if (!layer.project) continue;
    for (const auto& [name, value] : layer.values) {
      const std::string& key = name;  // a structured binding cannot be captured (clang, C++20)
      const bool refused =
          std::find(kRefusedNpmKeys.begin(), kRefusedNpmKeys.end(), key) != kRefusedNpmKeys.end();
      const bool overridden = std::any_of(kOverrides.begin(), kOverrides.end(),
                                          [&](const NpmOverride& o) { return key == o.key; });
      if (!refused && !overridden) continue;
      out.push_back({layer.source, key, value,
                     refused ? ProjectCodeAction::kRefused : ProjectCodeAction::kOverridden,
                     npm_why(key)});
    }
  }
}

std::string parent(const std::string& dir) {
  const std::size_t slash = dir.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

// The top-level `key` of a YAML or yarn-lockfile-form text: a line that starts with it (bare or
// quoted) followed by `separator`. Returns the rest of the line, trimmed; nullopt when absent.
std::optional<std::string> top_level(const std::string& text, const std::string& key,
                                     char separator) {
  for (std::string_view line : split_lines(text)) {
    for (const std::string& spelled : {key, "\"" + key + "\"", "'" + key + "'"}) {
      if (!line.starts_with(spelled)) continue;
      const std::string_view rest = line.substr(spelled.size());
      if (rest.empty() || (rest[0] != separator && !(separator == ' ' && rest[0] == '\t'))) {
        continue;
      }
      return tools::trim(rest.substr(1));
    }
  }
  return std::nullopt;
}

struct YarnrcCode {
  bool parsed = true;
  std::optional<std::string> yarn_path, plugins;  // as found; plugins only when non-empty
};

// yaml-cpp's exceptions stop here (the library boundary).
YarnrcCode yarnrc_code(const std::string& text) {
  YarnrcCode code;
  try {
    const YAML::Node doc = YAML::Load(text);
    if (!doc || doc.IsNull()) return code;
    if (!doc.IsMap()) {
      code.parsed = false;
      return code;
    }
    if (const YAML::Node v = doc["yarnPath"]; v && !v.IsNull()) {
      code.yarn_path = v.IsScalar() ? v.Scalar() : YAML::Dump(v);
    }
    if (const YAML::Node v = doc["plugins"];
        v && !v.IsNull() && !(v.IsSequence() && v.size() == 0)) {
      code.plugins = v.IsScalar() ? v.Scalar() : YAML::Dump(v);
    }
  } catch (const YAML::Exception&) {
    code.parsed = false;
  }
  return code;
}

void yarn_settings(const ToolConfigInput& in, std::vector<ProjectCodeSetting>& out) {
  const std::string project = normalize_path(in.project);
  std::string dir = normalize_path(in.cwd);
  if (dir != project && !dir.starts_with(project == "/" ? "/" : project + "/")) dir = project;
  for (;; dir = parent(dir)) {
    const std::string base = dir == "/" ? "" : dir;
    if (auto yml = in.read_file(base + "/.yarnrc.yml")) {
      // Parsed as YAML, as yarn does: `yarnPath : x`, a quoted or escaped key, a flow mapping
      // all name the same setting; a file that does not parse is refused (yarn reads it its own
      // way, and what it would run is unknown).
      const YarnrcCode code = yarnrc_code(*yml);
      const std::string file = base + "/.yarnrc.yml";
      if (!code.parsed) {
        out.push_back({file, "(the file)", "does not parse as YAML",
                       ProjectCodeAction::kRefusedUntrusted,
                       "what yarn would run from it cannot be told"});
      }
      if (code.yarn_path) {
        out.push_back({file, "yarnPath", *code.yarn_path, ProjectCodeAction::kRefusedUntrusted,
                       "the yarn release that runs instead of yours: the project's own code"});
      }
      if (code.plugins) {
        out.push_back({file, "plugins", *code.plugins, ProjectCodeAction::kRefusedUntrusted,
                       "yarn plugins: the project's code, loaded into yarn"});
      }
    }
    // yarn classic's own form (`yarn-path "./x.js"`); 1.22 also obeys yarnPath above.
    if (auto rc = in.read_file(base + "/.yarnrc")) {
      if (auto v = top_level(*rc, "yarn-path", ' ')) {
        out.push_back({base + "/.yarnrc", "yarn-path", *v, ProjectCodeAction::kRefusedUntrusted,
                       "the yarn release that runs instead of yours: the project's own code"});
      }
    }
    if (dir == project || dir == "/") break;
  }
}

}  // namespace

const std::vector<NpmOverride>& phase1_npm_overrides() { return kOverrides; }

std::vector<ProjectCodeSetting> find_project_code_settings(const std::string& tool,
                                                           const ToolConfigInput& in) {
  std::vector<ProjectCodeSetting> out;
  // yarn classic reads the project's .npmrc too, but none of these settings.
  if (tool == "npm" || tool == "pnpm") npm_settings(tool, in, out);
  if (tool == "yarn") yarn_settings(in, out);
  return out;
}

}  // namespace moat::policy
