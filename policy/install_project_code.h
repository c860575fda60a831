// Project settings that would have npm, pnpm or yarn run a program or code the project chose in
// phase 1 of `moat install`, where the registry tokens are readable: found before anything runs.
#pragma once

#include <string>
#include <vector>

#include "policy/tool_config.h"

namespace moat::policy {

enum class ProjectCodeAction {
  // `moat install` stops: the setting only redirects phase 1 (the program npm runs as git, the
  // file the tokens come from), and no project needs that from its own files.
  kRefused,
  // It stops unless the user says they trust the project's own yarn (--trust-project-yarn):
  // a committed yarn release and its plugins are common, and yarn runs nothing else.
  kRefusedUntrusted,
  // Phase 1 replaces the value (npm-fetch and pnpm-fetch set npm_config_KEY, which npm ranks
  // over every .npmrc); phase 2, where scripts run without tokens, still honours it. Warned.
  kOverridden,
};

struct ProjectCodeSetting {
  std::string file;   // the project file that sets it
  std::string key;    // as written in the file
  std::string value;  // as written (from the project: escape before printing)
  ProjectCodeAction action;
  std::string why;  // what the client would do with it
};

// The npm settings phase 1 overrides (kOverridden), with the value the -fetch profiles set.
struct NpmOverride {
  const char* key;
  const char* value;
};
const std::vector<NpmOverride>& phase1_npm_overrides();

// Every such setting `tool` (npm, pnpm or yarn) would read from the project: the project's
// .npmrc (npm's local prefix: the nearest package.json upwards), and for yarn every .yarnrc.yml
// (`yarnPath`, `plugins`) and .yarnrc (`yarn-path`) from the working directory up to the
// project. Files above the project are the user's own and not looked at.
std::vector<ProjectCodeSetting> find_project_code_settings(const std::string& tool,
                                                           const ToolConfigInput& in);

}  // namespace moat::policy
