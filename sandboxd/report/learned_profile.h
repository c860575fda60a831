// `moat learn`: from the events of a permissive run, a profile that extends the one it ran under
// and lists the extra write paths (learnable.h says which) and hosts the run used, each with a
// comment naming the process (and package) that needed it; the paths it would not grant are
// listed as comments with the reason. Pure: the CLI writes the text and checks that it loads.
#pragma once

#include <string>
#include <vector>

#include "sandboxd/report/event_log.h"
#include "sandboxd/report/learnable.h"

namespace moat::report {

struct LearnInput {
  std::string extends;  // the profile the run used
  std::string command;  // what ran (for the header and `learned.command`)
  std::string date;     // YYYY-MM-DD
  std::string home;
  std::string project;
  // Protected and masked paths, expanded (Plan::protect and Plan::deny): never learned as
  // writable, whatever the run did (a write to ~/.bashrc is what the profile exists to stop).
  std::vector<std::string> protected_paths;
  std::vector<std::string> command_dirs;  // the caller's PATH
};

// A path the run wrote, or tried to, that the profile does not grant.
struct NotLearned {
  std::string path;  // the grant it would have needed (or the protected path it lies in)
  std::string why;   // "a system directory: /etc"
};

struct LearnedProfile {
  std::string yaml;
  std::vector<std::string> write_paths;  // as written in the profile (${HOME}/..., `$` as `$$`)
  std::vector<std::string> hosts;        // "name:port" or "address:port"
  std::vector<NotLearned> not_learned;   // also comments in `yaml`
};

LearnedProfile learn_profile(const std::vector<Event>& events, const LearnInput& input);

// The directory a write to `path` is granted by: under HOME its first component (~/.npm), two
// for ~/.config/X and ~/.local/{share,state}/X; HOME itself for HOME; elsewhere the file's
// directory.
std::string grant_root_for(const std::string& path, const std::string& home);

}  // namespace moat::report
