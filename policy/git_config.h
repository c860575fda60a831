// Internal: one git configuration file's settings, read the way git's config.c reads them
// (sections and subsections, quoting, escapes, continuation lines, comments). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moat::policy {

struct GitSetting {
  std::string section;  // lower case, with the subsection after a dot: `includeif.gitdir:x`
  std::string key;      // lower case
  std::string value;    // `key` alone (no `=`) is "true"
};

// The settings of one file, in order. Stops quietly where git would report an error.
std::vector<GitSetting> parse_git_config(std::string_view text);

}  // namespace moat::policy
