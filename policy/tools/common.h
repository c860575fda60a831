// Internal: the small helpers every tool resolver needs (npm, pnpm, yarn, pip, pipx, uv, the
// agents), in one place so that each tool reads the environment and URLs the same way.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

// The same rule, "" when `url` is not one registry_rule accepts (for lists where a local entry
// simply needs no network).
std::string url_host_rule(const std::string& url);

}  // namespace moat::policy::tools
