// Internal: the small helpers every tool resolver needs (npm, pnpm, yarn, pip, pipx, uv, the
// agents), in one place so that each tool reads the environment and URLs the same way.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"
#include "policy/tool_config.h"

namespace moat::policy::tools {

// The value of NAME in "NAME=value" entries, or nullopt.
std::optional<std::string> env_value(const ToolConfigInput& in, std::string_view name);

// "~/x" -> home + "/x"; a relative path is taken relative to `base`; the result is normalised.
std::string config_path(const std::string& value, const std::string& home,
                        const std::string& base);

// ASCII lower case.
std::string lower(std::string s);

// `s` without leading and trailing white space.
std::string trim(std::string_view s);

// Appends `value` to `out` unless it is empty or already there.
void add_unique(ToolValues& out, const std::string& value);

// "https://user@host/path" -> "host:443"; "http://h:8080/" -> "h:8080"; "[::1]:81" kept in
// brackets. Error for anything else (another scheme, no host, a bad port), naming `source`.
Result<std::string> registry_rule(const std::string& url, const std::string& source);

// "https://user:pass@host/path" -> "https://host/path"; anything else unchanged. A registry URL
// handed into a sandbox, or printed, goes without the credentials it may carry.
std::string url_without_userinfo(const std::string& url);

// The same rule, "" when `url` is not one registry_rule accepts (for lists where a local entry
// simply needs no network).
std::string url_host_rule(const std::string& url);

// --- The wrapped command's own options -------------------------------------------------------
// How a tool's command line is read (pip uses optparse, uv clap, npm nopt: they agree on these).
struct ToolCommand {
  std::string_view name;   // "pip": also pip3, pip3.11 (a version right after the name)
  std::string_view alias;  // another program name of the same tool ("uvx", "yarnpkg"), or ""
  // Its short options that take a value, so that a cluster of short flags ("-qi URL", "-Ur f")
  // is read as the tool reads it: the value starts after the first of these.
  std::string_view short_with_value;
  bool python_module = false;  // `python3 -m NAME ...` runs it too
};

extern const ToolCommand kPipCommand, kPipxCommand, kUvCommand, kNpmCommand, kPnpmCommand,
    kYarnCommand;

// The tool's own arguments in the wrapped command (ToolConfigInput::argv), up to a bare `--`:
// what follows argv[0] when its base name is the tool's (or its alias), with or without a
// version, or what follows `-m NAME` when argv[0] is a Python interpreter (python, python3.11,
// .venv/bin/python) and the tool runs as a module. nullopt when the command is another program.
std::optional<std::vector<std::string>> tool_arguments(const ToolConfigInput& in,
                                                       const ToolCommand& tool);

// Every value given to one option in `args`, in order: "--index-url URL", "--index-url=URL",
// short "-i URL", "-iURL", and the short option after flags of a cluster ("-qi URL"). `names`
// holds the long names with their dashes and at most one short one ("-i"); a multi-letter name
// with one dash (npm's "-reg") is matched like a long one. A value token that starts with '-'
// is another option, not a value (nothing is taken for that occurrence).
std::vector<std::string> option_values(const std::vector<std::string>& args,
                                       const ToolCommand& tool,
                                       std::initializer_list<std::string_view> names);

// Whether a flag (an option without a value: "--no-index") is given, alone or in a cluster.
bool has_flag(const std::vector<std::string>& args, const ToolCommand& tool,
              std::initializer_list<std::string_view> names);

// `s` split at any of `separators`, empty pieces dropped.
std::vector<std::string> split_any(std::string_view s, std::string_view separators);

}  // namespace moat::policy::tools
