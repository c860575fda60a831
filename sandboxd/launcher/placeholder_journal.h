// A journal of the placeholders a run created on the host, so that a run killed before its
// cleanup (SIGKILL, power loss) does not leave them in the project: the next run removes them.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "sandboxd/launcher/prepare.h"

namespace moat::launcher {

// `dir`: e.g. ~/.cache/moat/placeholders (protected from sandboxes by `moat-state`).
// Writes <dir>/<pid>.json; returns the file's path ("" if it could not be written).
std::string write_placeholder_journal(const std::string& dir, pid_t pid,
                                      const std::vector<Placeholder>& placeholders);
// For each journal whose process is gone: removes its placeholders (only those that are still
// exactly what the run created) and the journal.
void clean_stale_placeholders(const std::string& dir);

}  // namespace moat::launcher
