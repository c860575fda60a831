// The account of a run, from its events: denials first (grouped, with counts, the process and
// its origin), then hosts contacted, files written outside the project and caches, processes
// killed at exit, and findings. Built once as data, rendered as text (stderr at exit, `moat
// report`) or JSON (`moat report --format json`); the HTML page renders the same data.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sandboxd/report/event_log.h"
#include "sandboxd/report/findings.h"

namespace moat::report {

struct Denial {
  std::string what;    // "connect 10.77.0.3:4444", "dns collector.test", "write /home/u/.bashrc"
  std::string layer;   // "gate", "dns", "landlock", "mount", "seccomp", "limit"
  std::string reason;
  std::string exe;
  Origin origin;
  int count = 0;
};

struct HostContact {
  std::string host;  // name (or address when allowed by an address rule) and port
  int count = 0;
};

// Changes outside the project and caches, grouped by where they land (the directory a learned
// profile would grant: ~/.npm for everything under it; a file directly in the home alone).
struct WrittenFile {
  std::string path;   // that directory, or the file itself; "" for paths the watch could not
                      // resolve (relative to a directory descriptor gone before it looked)
  std::string op;     // the first change's kind: "write", "create", "delete", "rename", "chmod"
  std::string exe;
  Origin origin;
  int count = 0;      // changes under `path` by this process and origin
  std::string first;  // the first path changed
};

struct KilledProcess {
  pid_t pid = 0;
  std::string exe;
  std::string command;  // argv joined, when known
  Origin origin;
};

struct Summary {
  std::vector<std::string> sources;  // what observed the run: "gate", "watch", "supervisor"
  std::vector<Denial> denials;
  std::vector<HostContact> hosts;
  std::vector<WrittenFile> written_outside;
  std::vector<KilledProcess> killed;
  std::vector<Finding> findings;
  std::uint64_t lost_events = 0;
  std::uint64_t not_kept_events = 0;  // past EventLog's bound: in the audit file, not here
  std::uint64_t not_written_events = 0;  // past the audit file's bound: counted, not written
  int leftovers = 0;  // from the end event: counted even where they could not be described
  bool has_run_end = false;
  int exit_code = 0;
};

// `run` (first) and `end` (last) events frame a run: the run event names the project and the
// roots writes are expected under (project, temp, caches) in detail.usual_write_roots.
Summary summarize(const std::vector<Event>& events);

// "" when nothing happened worth a line (quiet on a clean run).
std::string render_text(const Summary& summary);
nlohmann::json render_json(const Summary& summary);

// Why the account is incomplete, one sentence each (events lost by the watch, not kept in
// memory, not written to the audit file); empty when it is complete. Every renderer shows them.
std::vector<std::string> incompleteness(const Summary& summary);

}  // namespace moat::report
