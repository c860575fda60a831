// The string values of a TOML file (Codex's config.toml, uv.toml, pyproject.toml), for the tool
// resolvers.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "policy/result.h"

namespace moat::policy::tools {

// The string values of a TOML document, keyed by their dotted path ("model_providers.x.base_url").
// Only what configuration files of tools need: [table] and [a.b] headers, `key = "string"` and
// `key = 'literal'` (bare, quoted and dotted keys); other values are skipped. An unterminated
// string or header is an error naming the line.
Result<std::map<std::string, std::string>> parse_toml_strings(std::string_view text);

}  // namespace moat::policy::tools
