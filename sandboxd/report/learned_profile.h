// `moat learn`: from the events of a permissive run, a profile that extends the one it ran under
// and lists exactly the extra write paths and hosts the run used, each with a comment naming the
// process (and package) that needed it. Pure: the CLI writes the text and checks that it loads.
#pragma once

#include <string>
#include <vector>

#include "sandboxd/report/event_log.h"

namespace moat::report {

struct LearnInput {
  std::string extends;  // the profile the run used
  std::string command;  // what ran (for the header and `learned.command`)
  std::string date;     // YYYY-MM-DD
  std::string home;
  std::string project;
  // Mandatory protections and secret stores, expanded: never learned as writable, whatever the
  // run did (a write to ~/.bashrc is what the profile exists to stop).
  std::vector<std::string> protected_paths;
};

struct LearnedProfile {
  std::string yaml;
  std::vector<std::string> write_paths;  // as written in the profile (${HOME}/...)
  std::vector<std::string> hosts;        // "name:port" or "address:port"
  std::vector<std::string> not_learned;  // protected paths the run wrote, reported, not granted
};

LearnedProfile learn_profile(const std::vector<Event>& events, const LearnInput& input);

// The directory a write to `path` is granted by: under HOME its first component (~/.npm), two
// for ~/.config/X and ~/.local/{share,state}/X; elsewhere the file's directory.
std::string grant_root_for(const std::string& path, const std::string& home);

}  // namespace moat::report
