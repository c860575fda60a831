// Findings about a project's manifest: the parts of package.json that run commands later, outside
// any sandbox. "scripts" runs on the developer's next `npm test` / `npm run build` (and in CI),
// and "husky", "lint-staged", "simple-git-hooks", "pre-commit" and "gitHooks" configure what git
// hooks run. An install has no reason to change them (npm rewrites package.json to add a
// dependency, and keeps them): a change is how a worm gets its code run after the sandbox is gone.
// package.json stays writable (installs edit it), so this is reported, not refused. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sandboxd/report/event_log.h"

namespace moat::report {

// The command-running parts of PATH's package.json as JSON text, key by key ("scripts.test",
// "husky"); nullopt when there is no such file or it does not parse.
struct ManifestSnapshot {
  std::string path;
  std::optional<std::vector<std::pair<std::string, std::string>>> entries;
};
ManifestSnapshot snapshot_package_json(const std::string& path,
                                       const std::optional<std::string>& content);

// One `finding` event (type "manifest-commands-changed") per entry added or changed between the
// two snapshots, attributed to the last process the events show writing the file.
std::vector<Event> manifest_findings(const ManifestSnapshot& before, const ManifestSnapshot& after,
                                     const std::vector<Event>& events);

}  // namespace moat::report
