// Small readers shared by the tool resolvers: environment lookup, "scheme://host:port/..." to an
// allowlist rule, and the string values of a TOML file.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"

namespace moat::policy {

// The value of NAME in an environment of "NAME=value" strings (the last one wins, as getenv's
// callers see after a putenv), or nullopt.
std::optional<std::string_view> env_value(const std::vector<std::string>& environ,
                                          std::string_view name);

// "https://user@Host.Example:8443/x" → "host.example:8443"; the port defaults from the scheme
// (http 80, https 443); IPv6 literals stay bracketed. nullopt if it is not such a URL.
std::optional<std::string> url_host_rule(std::string_view url);

// The string values of a TOML document, keyed by their dotted path ("model_providers.x.base_url").
// Only what configuration files of tools need: [table] and [a.b] headers, `key = "string"` and
// `key = 'literal'` (bare, quoted and dotted keys); other values are skipped. An unterminated
// string or header is an error naming the line.
Result<std::map<std::string, std::string>> parse_toml_strings(std::string_view text);

}  // namespace moat::policy
