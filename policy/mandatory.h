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
std::vector<std::string> mandatory_group_names();

}  // namespace moat::policy
