// Internal: the mandatory protections applied to every profile, as data.
// Only `unprotect: [name]` lifts one; grants that overlap them do not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moat::policy {

struct MandatoryGroup {
  std::string_view name;         // "shell-rc"
  bool deny;                     // true: masked (secret stores); false: kept read-only
  std::string_view description;  // for docs and warnings
  std::vector<std::string_view> paths;  // "${HOME}/..." or "${PROJECT}/..."; "/" at the end: a directory
};

const std::vector<MandatoryGroup>& mandatory_groups();
// What a placeholder for a missing protected file (mandatory or a profile's) must contain so that
// programs reading it behave as if it were absent: "" for most; git's commondir must name the git
// dir itself; JSON settings an empty object (an empty file is invalid JSON).
std::string_view placeholder_content(std::string_view path);
std::vector<std::string> mandatory_group_names();

}  // namespace moat::policy
