// The events that frame a run in the audit file: `run` first (what ran, under which profile, the
// roots where writes are expected, which sources observed it) and `end` last (exit status, lost
// events). `moat report` needs nothing else to rebuild the summary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/plan.h"
#include "sandboxd/report/event_log.h"

namespace moat::report {

// Writes under these are expected and not listed in the summary: the project, the private temp
// dir and /tmp, /dev (a terminal, /dev/null), and caches (write grants whose path says "cache").
std::vector<std::string> usual_write_roots(const policy::Plan& plan);

// Whether a change to `path` is in a usual place. Under the private home only roots inside the
// home count: a root outside it (the sandbox's /tmp) must not make a home that happens to live
// under /tmp look usual.
bool is_usual_write(const std::string& path, const std::vector<std::string>& usual_roots,
                    const std::string& home);

// `path` is `root` or below it; false for an empty root (policy::path_within without that case).
bool is_within(const std::string& path, const std::string& root);

// Where a symlink at LINK (absolute) with contents TARGET points, lexically: a relative target is
// taken from the link's directory. What a later write through the link would reach.
std::string symlink_target_path(const std::string& link, const std::string& target);

Event run_event(const policy::Plan& plan, const std::vector<std::string>& argv,
                const std::vector<std::string>& sources, const std::string& tier);

struct RunEnd {
  int exit_code = 0;
  bool timed_out = false;
  bool oom_killed = false;
  int leftovers = 0;
  std::uint64_t lost_events = 0;
  std::uint64_t kernel_refusals = 0;
  std::uint64_t not_kept_events = 0;     // EventLog::not_kept
  std::uint64_t not_written_events = 0;  // EventLog::not_written
};
Event end_event(const RunEnd& end);

}  // namespace moat::report
