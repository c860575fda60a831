// Where named profiles are found: the built-in directory, /etc/moat/profiles and the user's
// ~/.config/moat/profiles. Later directories override earlier ones (the user's copy wins).
#pragma once

#include <string>
#include <vector>

namespace moat::policy {

// {MOAT_BUILTIN_PROFILES_DIR, "/etc/moat/profiles", home + "/.config/moat/profiles"}: lowest
// priority first. A name is looked up from the END of this list, so a user's profile shadows the
// system's, which shadows the built-in one.
std::vector<std::string> default_search_path(const std::string& home);

struct ProfileInfo {
  std::string name;         // file stem: "base"
  std::string path;         // full path of the file
  std::string description;  // the profile's `description:`, "" if missing or unreadable
  bool shadowed = false;    // a later directory has a profile with the same name
};

// Every *.yaml / *.yml in the search path, sorted by name; for one name, the active file comes
// first and the ones it shadows follow. Missing directories are skipped.
std::vector<ProfileInfo> list_profiles(const std::vector<std::string>& search_path);

}  // namespace moat::policy
