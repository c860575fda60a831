// The one event model of moat (docs/events.md): every decision and observation is an Event, kept
// in memory for the summary at exit and written as a JSON line to the --audit file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/report/origin.h"

namespace moat::report {

inline constexpr int kEventSchemaVersion = 1;

struct Event {
  std::string kind;          // docs/events.md: "run", "exec", "exit", "write", "create", "delete",
                             // "rename", "chmod", "deny", "connect", "dns", "kill-at-exit",
                             // "finding", "end"
  std::int64_t time_ns = 0;  // CLOCK_REALTIME
  pid_t pid = 0;             // as seen from outside the sandbox (0: not attributed)
  pid_t ppid = 0;            // its parent, when known
  std::string exe;           // the process's executable, when known
  Origin origin;             // the package it works for, when known
  std::string verdict;       // "allowed", "refused", "failed"; "" for observations
  std::string layer;         // what decided or saw it: "gate", "dns", "seccomp", "landlock",
                             // "mount", "limit", "watch", "supervisor"
  nlohmann::json detail = nlohmann::json::object();  // kind-specific fields (docs/events.md)
};

// JSON text of `value`. Strings from a sandbox (paths, argv, environment) need not be UTF-8: an
// invalid byte becomes U+FFFD instead of an exception (a file named "\xff" must not abort moat).
inline std::string json_text(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The string detail field KEY of an event, without a copy; "" when absent or not a string. The
// account reads a few fields of every one of tens of thousands of events.
const std::string& detail_text(const Event& event, std::string_view key);

// A gate event's call ("connect"; "bind" or "listen" when one was refused on a socket the gate
// handed over) and its "ADDRESS:PORT" ("" when it named none: listen, a unix sockaddr).
std::string_view socket_call(const Event& event);
std::string socket_address(const Event& event);

class EventLog {
 public:
  // audit_path empty: keep events in memory only. Returns false if the file cannot be opened.
  // A symlink at audit_path is refused (ELOOP): one left in the project by an earlier run would
  // have moat truncate and write whatever it points at.
  bool open(const std::string& audit_path);
  // The audit file's real path, as opened ("" without one): the sandbox gets it read-only, so
  // the command cannot rewrite, truncate or replace the account of what it did.
  std::string audit_file() const;
  ~EventLog();

  // A command can make events as fast as it can loop (create and remove a file): kept without
  // bound they would grow moat, which runs outside the sandbox's memory limit and may be root,
  // until the host runs out. Past this many, events still reach the audit file but not memory
  // (run, end, kill-at-exit and finding events always do), and the account says how many it
  // lacks. ~650 bytes each: ~200 MB at most; a large npm install makes ~100,000.
  // MOAT_MAX_KEPT_EVENTS (digits) sets another bound: for tests.
  static constexpr std::size_t kDefaultMaxKept = 300000;
  void set_max_kept(std::size_t max_kept);
  std::uint64_t not_kept() const;
  // The audit file likewise: a flood would fill the disk. Past this many bytes, events are
  // counted instead of written (the same four kinds always are). MOAT_MAX_AUDIT_BYTES (digits)
  // sets another bound: for tests.
  static constexpr std::uint64_t kDefaultMaxAuditBytes = 1ull << 30;
  void set_max_audit_bytes(std::uint64_t max_bytes);
  std::uint64_t not_written() const;

  void add(Event event);  // thread-safe; fills time_ns when 0
  // The same for many events, with one flush of the audit file (the watch adds thousands a
  // second; a write(2) each would cost more than watching).
  void add_all(std::vector<Event> events);
  std::vector<Event> snapshot() const;
  // The events without a copy, for the account after the run: only once every producer (gate,
  // watch, notifier) has stopped. A later add() may move them: take it again after one.
  const std::vector<Event>& settled() const { return events_; }

  static nlohmann::json to_json(const Event& event);
  // The inverse of to_json, for `moat report`: nullopt (and *why set) for a line that is not an
  // event of a schema version we read.
  static std::optional<Event> from_json(std::string_view line, std::string* why);
  static std::size_t max_kept_from_environment();
  static std::uint64_t limit_from_environment(const char* name, std::uint64_t fallback);
  static std::string exe_of(pid_t pid);  // readlink /proc/PID/exe, "" when gone
  // Fills exe, ppid and origin from /proc/PID while the process is known to be alive (blocked
  // in a seccomp notification): its environment names the package it works for.
  static void attribute(Event& event);

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
  std::size_t max_kept_ = max_kept_from_environment();
  std::uint64_t not_kept_ = 0;
  std::uint64_t max_audit_bytes_ =
      limit_from_environment("MOAT_MAX_AUDIT_BYTES", kDefaultMaxAuditBytes);
  std::uint64_t audit_bytes_ = 0;
  std::uint64_t not_written_ = 0;
  std::FILE* audit_ = nullptr;
};


}  // namespace moat::report
