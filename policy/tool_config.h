// Tool resolvers: profile variables whose values come from a tool's own configuration, such as
// ${npm.registries} (every registry npm is configured with, default and scoped) or
// ${pip.index-hosts}. They let a profile say "the registry npm uses" without moat's source naming
// any registry, and they give users with mirrors the right answer.
//
// Each tool is implemented once, in its own file (policy/tools/<tool>.cc), as pure functions of a
// ToolConfigInput: the files are read through an injected reader, so unit tests feed sample
// configuration trees and the plan cache learns every file a plan depends on.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"

namespace moat::policy {

struct ToolConfigInput {
  std::vector<std::string> environ;  // the caller's environment, "NAME=value"
  std::string home, project, cwd;    // absolute
  // Returns the file's content, or nullopt if it does not exist or cannot be read. Every call is
  // a dependency of the compiled plan (the cache records the path, present or not).
  std::function<std::optional<std::string>(const std::string& path)> read_file;
  // The wrapped command, argv[0] first (empty for `moat check`, or `moat explain` without one):
  // options the user gives the tool on its command line count over its environment and files.
  std::vector<std::string> argv;
};

// A variable's values; a variable with several values expands an entry into several entries.
using ToolValues = std::vector<std::string>;

// A resolver: one variable of one tool. Errors (a configuration that does not parse) are values
// with ErrorCode::kInvalidArgument and a message naming the file and line.
using ToolResolver = Result<ToolValues> (*)(const ToolConfigInput& input);

// The variable named `name` ("npm.registries"), or nullptr if no tool defines it.
ToolResolver find_tool_resolver(std::string_view name);

// What the resolvers read from a wrapped command: the tool it runs (one the resolvers know) and
// the option tokens of the tool's own arguments (each token starting with '-' and the token after
// it), not its package list. Empty for any other command. The plan cache keys on this.
std::vector<std::string> tool_command_key(const std::vector<std::string>& argv);

// Every variable a tool defines, for `moat explain` and "did you mean" hints.
std::vector<std::string_view> tool_variable_names();

}  // namespace moat::policy
