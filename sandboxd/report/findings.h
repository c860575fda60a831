// Install-aware findings: what a package analyst looks at first. Derived from the events (a
// lifecycle script that spawned a shell or opened a connection, a file executed after the run
// wrote it) and from the content of files the run wrote (a .pth or sitecustomize with code, which
// Python runs at every start). Pure, except content_findings, which reads the named files.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/report/event_log.h"

namespace moat::report {

struct Finding {
  std::string type;     // "python-startup-code", "lifecycle-shell", "lifecycle-network",
                        // "exec-after-write", "persistence-attempt", "symlink-trap",
                        // "project-files-changed", "package-files-changed",
                        // "manifest-commands-changed", "git-submodule-code"
  std::string subject;  // the path or host it is about
  std::string message;  // one line for a person
  pid_t pid = 0;
  std::string exe;
  Origin origin;
};

// Does Python run code from this file at start-up? `.pth` lines starting with "import" are
// executed by site.py; sitecustomize.py / usercustomize.py are imported whole (any statement).
bool python_startup_file_runs_code(std::string_view path, std::string_view content);

// Findings from the events alone (recomputed by `moat report`).
std::vector<Finding> derive_findings(const std::vector<Event>& events);

// `finding` events for the files the run wrote that Python runs at start-up; `read` returns a
// file's first bytes (nullopt when unreadable). Called by the supervisor after the run, so the
// audit file keeps the result.
std::vector<Event> content_findings(const std::vector<Event>& events,
                                    const std::function<std::optional<std::string>(const std::string&)>& read);

// A finding event's fields, and back.
Event finding_event(const Finding& finding);
Finding finding_from_event(const Event& event);

// The path an event says the run wrote (the target of a rename); nullptr when it failed or wrote
// nothing. Points into the event.
const std::string* written_path(const Event& event);

// The last event that wrote PATH (the watch or the file notifier saw it); nullptr when none did.
const Event* last_writer(const std::vector<Event>& events, const std::string& path);

// A finding about SUBJECT attributed to WRITER (its process and origin, named at the end of the
// message), or to no one when it is nullptr.
Event attributed_finding(const std::string& type, const std::string& subject, std::string message,
                         const Event* writer);

// A value for a one-line message: control characters shown as '?', long ones cut.
std::string one_line(std::string text);

}  // namespace moat::report
