// Internal: turning a profile reference (a name or a path) into a file, and loading the whole
// `extends` chain of a file, parents first, with cycle detection.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/diagnostic_sink.h"
#include "policy/profile.h"

namespace moat::policy {

// True for references that are paths: containing '/' or ending in .yaml / .yml.
bool is_path_reference(const std::string& ref);
// True for names that may be looked up: [A-Za-z0-9._-]+, not starting with '.'.
bool is_valid_profile_name(const std::string& name);

// The file for `name`, searching `search_path` from its end (highest priority first). `skip` is
// a file to pass over, so that a user's `base.yaml` can say `extends: base` to mean the next one.
std::optional<std::string> find_profile(const std::string& name,
                                        const std::vector<std::string>& search_path,
                                        const std::string& skip = {});

// Joins `path` to `base_dir` unless absolute, then normalises.
std::string absolute_path(const std::string& path, const std::string& base_dir);

struct Chain {
  std::vector<Profile> profiles;   // merge order: the root of `extends` first, the file last
  std::vector<std::string> files;  // the same order
};

// Loads `file` and everything it extends. Reports problems to `sink`; returns what loaded.
Chain load_chain(const std::string& file, const std::vector<std::string>& search_path,
                 DiagnosticSink& sink);

}  // namespace moat::policy
