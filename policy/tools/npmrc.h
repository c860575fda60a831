// Internal: the configuration npm (and pnpm, and yarn classic) builds from .npmrc files and
// npm_config_* variables, layered the way npm layers it. Shared by the npm-family resolvers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/result.h"
#include "policy/tool_config.h"
#include "policy/tools/common.h"

namespace moat::policy::tools {

// One configuration file in ini form (npm's .npmrc, yarn classic's .yarnrc uses its own form).
// ${VAR} in keys and values is replaced from the environment; an undefined variable is an error
// naming the file and line, as npm itself refuses such a file. A file the project wrote
// (`from_project`) gets no secret-looking variable (env_filter.h): moat reads it with the
// caller's whole environment, and what it resolves (a registry URL) is passed into the sandbox
// and contacted, so `registry=https://host/${GITHUB_TOKEN}/` would carry the token out. Such a
// reference stays as written, as npm inside (whose environment lacks it) would see it.
Result<std::map<std::string, std::string>> parse_npmrc(const std::string& text,
                                                       const std::string& file,
                                                       const ToolConfigInput& in,
                                                       bool from_project = false);

// The layers npm reads, lowest priority first, each with the file it came from ("environment"
// for npm_config_*): builtin, global, user, project, environment.
struct NpmLayer {
  std::string source;
  std::map<std::string, std::string> values;
  bool project = false;  // the project's .npmrc: written by the project, maybe by the attacker
};
struct NpmConfig {
  std::vector<NpmLayer> layers;
  std::string userconfig;  // the user file's path, whether it exists or not
  std::string globalconfig;
  std::string local_prefix;  // the project npm works in (nearest package.json upwards)

  // The highest-priority value of `key`.
  std::optional<std::string> get(const std::string& key) const;
  // The same, ignoring the project's file: for settings that become write grants (a project, or
  // an install script of an earlier run, must not choose a writable directory such as
  // ~/.local/bin by naming it npm's cache). Profiles pass the result back to npm in the
  // environment, which wins over the project file.
  std::optional<std::string> get_outside_project(const std::string& key) const;
  // Every "@scope:registry" key, highest priority per scope.
  std::map<std::string, std::string> scoped_registries() const;
};

// Reads every layer. `env_prefixes` are the environment prefixes that set keys
// (case-insensitive): npm reads npm_config_; pnpm also pnpm_config_. `tool_files` are the
// tool's own global files (pnpm's rc), read between the global and the user file. `command`:
// when the wrapped command is this tool, its registry options are the highest layer ("the
// command line", over the environment): see command_line_registries.
Result<NpmConfig> load_npm_config(const ToolConfigInput& in,
                                  const std::vector<std::string>& env_prefixes,
                                  const std::vector<std::string>& tool_files = {},
                                  const ToolCommand* command = nullptr);

// The registries given in `args` as npm's parser (nopt) reads them: "--registry URL",
// "--registry=URL", npm's shorthand "-reg URL" / "--reg URL" (`npm_shorthand`), the last one
// winning; and "--@scope:registry=URL" (only with '=': nopt has no type for a scope's key, so
// "--@scope:registry URL" is a flag followed by a package to install). Keys as in .npmrc.
std::map<std::string, std::string> command_line_registries(const std::vector<std::string>& args,
                                                           const ToolCommand& tool,
                                                           bool npm_shorthand);

// "TOOL has no registry configured", with how to write the default down.
Error no_registry(const std::string& tool);

// The host:port rules of every registry in `cfg`: the default one (required) and each scope's.
Result<ToolValues> registry_rules(const NpmConfig& cfg, const std::string& tool);

}  // namespace moat::policy::tools
