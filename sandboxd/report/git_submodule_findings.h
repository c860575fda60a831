// Findings about git repositories inside the project that the project's index records as
// submodules (gitlinks). git obeys a submodule's own configuration and hooks, and `git status` in
// the project runs git in every populated submodule: a core.fsmonitor in a submodule's config
// runs at the developer's next `git status`, outside any sandbox. The existing submodules' git
// directories (.git/modules/NAME) are protected paths; a new repository in the work tree plus a
// gitlink in .git/index (which must stay writable for commits) cannot be refused by a path, so it
// is reported: every gitlink whose repository changed during the run and runs programs. Any
// other repository in the work tree the run made or changed ("nested-git-code") likewise: a
// git-aware prompt or an editor scanning the project runs git there.
#pragma once

#include <time.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/report/event_log.h"

namespace moat::report {

// The paths of the gitlink entries (mode 160000) of a git index file (versions 2 to 4); nullopt
// when INDEX is not one. OID_BYTES: 20 (SHA-1) or 32 (SHA-256 repositories).
std::optional<std::vector<std::string>> git_index_gitlinks(std::string_view index,
                                                           std::size_t oid_bytes);

// The settings of a git configuration file that make git run a program (core.fsmonitor,
// core.sshCommand, filter drivers, `!` aliases, includes, ...), as "section.key = value".
std::vector<std::string> git_config_commands(std::string_view config);

// One `finding` event ("git-submodule-code") per program a gitlinked repository of PROJECT
// (or "nested-git-code" for another repository in its work tree: one whose path EVENTS show
// written, or one directly in a directory of PROJECT)
// gained during the run: a config setting that runs one, or an executable hook, in a repository
// whose .git was made, or whose config or hook changed status (ctime), at or after SINCE. SINCE
// comes from CLOCK_REALTIME_COARSE, the clock file times are taken from: no change made during
// the run is older, and one made within a tick (4 ms) before it counts as the run's. Reads
// beneath PROJECT only. Attributed to the last writer the events show.
std::vector<Event> submodule_code_findings(const std::string& project, const timespec& since,
                                           const std::vector<Event>& events);

}  // namespace moat::report
