// The one TOML reader of the tool resolvers (Codex's config.toml, uv.toml, pyproject.toml).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"

namespace moat::policy::tools {

// A TOML document flattened to its dotted paths: "model_providers.x.base_url" -> "https://...".
// Strings are kept as read, booleans as "true"/"false"; the elements of an array are
// "key.0", "key.1", ... (an inline table inside one: "key.0.url"), the Nth [[t]] table is
// "t.N". Numbers and dates are skipped: no setting the resolvers read uses them.
using TomlValues = std::map<std::string, std::string>;

// Only what configuration files of tools need: [table], [a.b] and [[array]] headers, bare, quoted
// and dotted keys, basic, literal and multi-line strings, booleans, arrays and inline tables. A
// syntax error is an error whose message starts with the line: "3: cannot read this TOML: ...".
Result<TomlValues> parse_toml(std::string_view text);

// The strings of the array at `key` ("key.0", "key.1", ...), in order.
std::vector<std::string> toml_array(const TomlValues& doc, const std::string& key);

// The tables of the array at `key` ("key.N.name" -> {name: ...}), in order: [[key]] headers
// and `key = [{...}, ...]` alike.
std::vector<TomlValues> toml_tables(const TomlValues& doc, const std::string& key);

}  // namespace moat::policy::tools
