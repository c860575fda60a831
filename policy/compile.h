// The policy layer's entry points: a profile name or file -> diagnostics and, when there is no
// error, the compiled Plan the launcher executes. Pure: reads profile files and nothing else.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/diagnostic.h"
#include "policy/plan.h"
#include "policy/search_path.h"

namespace moat::policy {

// Everything from the outside world, gathered by the CLI.
struct Context {
  std::string home, project, cwd, user;  // home, project and cwd must be absolute
  std::string tmpdir = "/tmp";  // the sandbox's private temp dir (a fresh tmpfs inside it)
  std::vector<std::string> environ;      // the caller's environment, "NAME=value"
  std::vector<std::string> search_path;  // lowest priority first: see default_search_path()
  // The wrapped command (argv[0] first), empty when there is none: tool resolvers read the
  // options the user gives the tool (`pip install -i URL`) as the tool would.
  std::vector<std::string> argv;
  // How tool resolvers (${npm.registries}, ...) read the tools' configuration files: the content,
  // or nullopt if absent or unreadable. Unset: every file is absent. Each path asked for is
  // recorded in Plan::tool_files (a dependency of the plan).
  std::function<std::optional<std::string>(const std::string& path)> read_file;
};

// From the command line, applied on top of the profile with origin "command line".
struct Overrides {
  std::vector<std::string> allow_read, allow_write, allow_exec;  // paths; variables allowed
  std::optional<NetworkMode> network;
  std::optional<std::uint64_t> time_ms;
  std::vector<std::string> keep_env;  // exact names passed through, even secret-looking ones
  std::vector<std::string> allow_hosts;  // --allow-host RULE: network rules (imply allowlist)
  std::vector<std::string> add_hosts;    // --add-host NAME=ADDRESS
  bool learn_network = false;            // `moat learn`: every host allowed and recorded
};

struct CompileOutput {
  std::optional<Plan> plan;  // set iff no diagnostic is an error
  std::vector<Diagnostic> diagnostics;
};

// `name_or_path`: anything containing '/' or ending in .yaml/.yml is a file (relative to
// ctx.cwd); otherwise a name looked up on ctx.search_path, last directory first (user profiles
// override /etc, which overrides the built-in ones). Never loads a profile from the project
// implicitly.
CompileOutput compile_profile(const std::string& name_or_path, const Context& ctx,
                              const Overrides& ov);

// `moat check FILE`: the same checks for one file (always a path, relative to ctx.cwd).
CompileOutput check_profile_file(const std::string& path, const Context& ctx);

}  // namespace moat::policy
