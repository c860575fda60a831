// Events in memory and as JSON lines; the summary groups refusals before successes so the first
// lines a user reads are what was stopped, by whom.
#include "sandboxd/report/event_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>

#include "sandboxd/report/json_line.h"
#include "sandboxd/sys/small_file.h"

namespace moat::report {

bool EventLog::open(const std::string& audit_path) {
  if (audit_path.empty()) return true;
  const int fd = ::open(audit_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                        0666);
  if (fd < 0) return false;
  audit_ = ::fdopen(fd, "w");
  if (audit_ == nullptr) ::close(fd);
  return audit_ != nullptr;
}

std::string EventLog::audit_file() const {
  if (audit_ == nullptr) return {};
  char buf[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(::fileno(audit_));
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

EventLog::~EventLog() {
  if (audit_ != nullptr) std::fclose(audit_);
}

nlohmann::json EventLog::to_json(const Event& e) {
  nlohmann::json j = {
      {"v", kEventSchemaVersion}, {"kind", e.kind}, {"time_ns", e.time_ns}, {"pid", e.pid}};
  if (e.ppid != 0) j["ppid"] = e.ppid;
  if (!e.exe.empty()) j["exe"] = e.exe;
  if (!e.origin.empty()) {
    nlohmann::json o = {{"tool", e.origin.tool}, {"package", e.origin.package}};
    if (!e.origin.version.empty()) o["version"] = e.origin.version;
    if (!e.origin.script.empty()) o["script"] = e.origin.script;
    if (e.origin.dependency) o["dependency"] = true;
    j["origin"] = o;
  }
  if (!e.verdict.empty()) j["verdict"] = e.verdict;
  if (!e.layer.empty()) j["layer"] = e.layer;
  for (const auto& [key, value] : e.detail.items()) j[key] = value;
  return j;
}

std::optional<Event> EventLog::from_json(std::string_view line, std::string* why) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  if (!j.contains("v") || !j["v"].is_number_integer() || j["v"].get<int>() != kEventSchemaVersion) {
    *why = "not an event of schema version " + std::to_string(kEventSchemaVersion);
    return std::nullopt;
  }
  if (!j.contains("kind") || !j["kind"].is_string()) {
    *why = "no \"kind\"";
    return std::nullopt;
  }
  auto text = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto number = [&](const char* key) -> std::int64_t {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
  };
  Event e;
  e.kind = text("kind");
  e.time_ns = number("time_ns");
  e.pid = static_cast<pid_t>(number("pid"));
  e.ppid = static_cast<pid_t>(number("ppid"));
  e.exe = text("exe");
  e.verdict = text("verdict");
  e.layer = text("layer");
  if (auto it = j.find("origin"); it != j.end() && it->is_object()) {
    auto field = [&](const char* key) {
      auto f = it->find(key);
      return f != it->end() && f->is_string() ? f->get<std::string>() : std::string();
    };
    e.origin = Origin{field("tool"), field("package"), field("version"), field("script")};
    auto dependency = it->find("dependency");
    e.origin.dependency =
        dependency != it->end() && dependency->is_boolean() && dependency->get<bool>();
  }
  for (const char* common :
       {"v", "kind", "time_ns", "pid", "ppid", "exe", "verdict", "layer", "origin"}) {
    j.erase(common);
  }
  e.detail = std::move(j);
  return e;
}

void EventLog::add(Event event) {
  std::vector<Event> one;
  one.push_back(std::move(event));
  add_all(std::move(one));
}

void EventLog::add_all(std::vector<Event> events) {
  for (Event& event : events) {
    if (event.time_ns != 0) continue;
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    event.time_ns = static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
  auto always = [](const Event& event) {
    return event.kind == "run" || event.kind == "end" || event.kind == "kill-at-exit" ||
           event.kind == "finding";
  };
  // A flood of ordinary events fills only the first four fifths of each bound: the rest is kept
  // for what the account is for (refusals, network decisions, what an installed package's code
  // did), so a command cannot flood first and act unseen afterwards.
  auto notable = [](const Event& event) {
    if (event.verdict == "refused" || event.origin.dependency || event.kind == "connect" ||
        event.kind == "dns" || event.kind == "exec" || event.kind == "symlink") {
      return true;
    }
    // Python's startup files: the findings read them after the run, from the kept events.
    const std::string& path = detail_text(event, event.kind == "rename" ? "to" : "path");
    return path.ends_with(".pth") || path.ends_with("/sitecustomize.py") ||
           path.ends_with("/usercustomize.py");
  };
  // Whether USED (after this event) passes EVENT's share of MAX. Events are classified only once
  // the ordinary share is full: below it (every run but a flood) the check is one comparison.
  auto past = [&](const Event& event, std::uint64_t used, std::uint64_t max) {
    if (used <= max - max / 5) return false;
    if (always(event)) return false;
    return !notable(event) || used > max;
  };
  std::lock_guard<std::mutex> lock(mu_);
  if (audit_ != nullptr) {
    std::string lines;
    for (const Event& event : events) {
      const std::size_t before = lines.size();
      append_event_line(lines, event);
      const std::size_t added = lines.size() - before;
      if (past(event, audit_bytes_ + added, max_audit_bytes_)) {
        lines.resize(before);
        ++not_written_;
        continue;
      }
      audit_bytes_ += added;
    }
    std::fwrite(lines.data(), 1, lines.size(), audit_);
    std::fflush(audit_);
  }
  for (Event& event : events) {
    if (past(event, events_.size() + 1, max_kept_)) {
      ++not_kept_;
      continue;
    }
    events_.push_back(std::move(event));
  }
}

std::uint64_t EventLog::limit_from_environment(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0' || std::strspn(text, "0123456789") != std::strlen(text) ||
      std::strlen(text) > 15) {
    return fallback;
  }
  return std::strtoull(text, nullptr, 10);
}

std::size_t EventLog::max_kept_from_environment() {
  return static_cast<std::size_t>(limit_from_environment("MOAT_MAX_KEPT_EVENTS", kDefaultMaxKept));
}

void EventLog::set_max_audit_bytes(std::uint64_t max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  max_audit_bytes_ = max_bytes;
}

std::uint64_t EventLog::not_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return not_written_;
}

void EventLog::set_max_kept(std::size_t max_kept) {
  std::lock_guard<std::mutex> lock(mu_);
  max_kept_ = max_kept;
}

std::uint64_t EventLog::not_kept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return not_kept_;
}

const std::string& detail_text(const Event& event, std::string_view key) {
  static const std::string kNone;
  auto it = event.detail.find(key);
  return it != event.detail.end() && it->is_string() ? it->get_ref<const std::string&>() : kNone;
}

std::string_view socket_call(const Event& event) {
  const std::string& call = detail_text(event, "call");
  return call.empty() ? std::string_view("connect") : std::string_view(call);
}

std::string socket_address(const Event& event) {
  const std::string& address = detail_text(event, "address");
  if (address.empty()) return {};
  return address + ":" + std::to_string(event.detail.value("port", 0));
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

void EventLog::attribute(Event& e) {
  if (e.pid <= 0) return;
  const std::string dir = "/proc/" + std::to_string(e.pid);
  if (e.exe.empty()) e.exe = exe_of(e.pid);
  if (e.ppid == 0) e.ppid = sys::proc_parent_pid(e.pid);
  if (e.origin.empty()) {
    char cwd[PATH_MAX];
    ssize_t n = ::readlink((dir + "/cwd").c_str(), cwd, sizeof(cwd) - 1);
    e.origin = resolve_origin(sys::read_small_file(dir + "/environ", 256 * 1024),
                              n > 0 ? std::string_view(cwd, static_cast<size_t>(n)) : "", {});
  }
}

}  // namespace moat::report
