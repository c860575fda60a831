// The one event model of moat (docs/events.md): every decision and observation is an Event, kept
// in memory for the summary at exit and written as a JSON line to the --audit file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace moat::report {

inline constexpr int kEventSchemaVersion = 1;

struct Event {
  std::string kind;          // "connect", "dns", "deny", "exec", "exit", "write", "kill-at-exit"
  std::int64_t time_ns = 0;  // CLOCK_REALTIME
  pid_t pid = 0;             // as seen from outside the sandbox (0: not attributed)
  std::string exe;           // the process's executable, when known
  std::string verdict;       // "allowed", "refused", "" for observations
  std::string layer;         // what decided: "gate", "dns", "seccomp", "landlock", "mount", "limit"
  nlohmann::json detail = nlohmann::json::object();  // kind-specific fields (docs/events.md)
};

class EventLog {
 public:
  // audit_path empty: keep events in memory only. Returns false if the file cannot be opened.
  bool open(const std::string& audit_path);
  ~EventLog();

  void add(Event event);  // thread-safe; fills time_ns when 0
  std::vector<Event> snapshot() const;

  static nlohmann::json to_json(const Event& event);
  static std::string exe_of(pid_t pid);  // readlink /proc/PID/exe, "" when gone

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
  std::FILE* audit_ = nullptr;
};

// The network part of the summary at exit: refusals first (grouped, with counts), then the hosts
// contacted. Empty when nothing happened.
std::string network_summary(const std::vector<Event>& events);

}  // namespace moat::report
