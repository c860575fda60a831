// Events in memory and as JSON lines; the summary groups refusals before successes so the first
// lines a user reads are what was stopped, by whom.
#include "sandboxd/report/event_log.h"

#include <unistd.h>

#include <climits>
#include <ctime>
#include <map>
#include <tuple>

namespace moat::report {

bool EventLog::open(const std::string& audit_path) {
  if (audit_path.empty()) return true;
  audit_ = std::fopen(audit_path.c_str(), "we");
  return audit_ != nullptr;
}

EventLog::~EventLog() {
  if (audit_ != nullptr) std::fclose(audit_);
}

nlohmann::json EventLog::to_json(const Event& e) {
  nlohmann::json j = {
      {"v", kEventSchemaVersion}, {"kind", e.kind}, {"time_ns", e.time_ns}, {"pid", e.pid}};
  if (!e.exe.empty()) j["exe"] = e.exe;
  if (!e.verdict.empty()) j["verdict"] = e.verdict;
  if (!e.layer.empty()) j["layer"] = e.layer;
  for (const auto& [key, value] : e.detail.items()) j[key] = value;
  return j;
}

void EventLog::add(Event event) {
  if (event.time_ns == 0) {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    event.time_ns = static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (audit_ != nullptr) {
    std::string line = to_json(event).dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), audit_);
    std::fflush(audit_);
  }
  events_.push_back(std::move(event));
}

std::vector<Event> EventLog::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::string EventLog::exe_of(pid_t pid) {
  char buf[PATH_MAX];
  std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string network_summary(const std::vector<Event>& events) {
  // (what, why, exe) -> count, for refusals; host:port -> count, for allowed connections.
  std::map<std::tuple<std::string, std::string, std::string>, int> refused;
  std::map<std::string, int> contacted;
  for (const Event& e : events) {
    if (e.kind != "connect" && e.kind != "dns") continue;
    std::string what = e.kind == "dns" ? "dns " + e.detail.value("name", std::string())
                                       : "connect " + e.detail.value("address", std::string()) +
                                             ":" + std::to_string(e.detail.value("port", 0));
    if (e.verdict == "refused") {
      refused[{what, e.detail.value("reason", std::string()), e.exe}]++;
    } else if (e.kind == "connect" && e.verdict == "allowed") {
      std::string name = e.detail.value("name", std::string());
      contacted[(name.empty() ? e.detail.value("address", std::string()) : name) + ":" +
                std::to_string(e.detail.value("port", 0))]++;
    }
  }
  std::string out;
  if (!refused.empty()) {
    out += "moat: network refused:\n";
    for (const auto& [key, count] : refused) {
      const auto& [what, why, exe] = key;
      out += "  " + what + (count > 1 ? " (x" + std::to_string(count) + ")" : "") + "  by " +
             (exe.empty() ? "?" : exe) + "  -- " + why + "\n";
    }
  }
  if (!contacted.empty()) {
    out += "moat: hosts contacted:";
    for (const auto& [host, count] : contacted) {
      out += " " + host + (count > 1 ? " (x" + std::to_string(count) + ")" : "");
    }
    out += "\n";
  }
  return out;
}

}  // namespace moat::report
