// The summary; see summary.h. Grouping keys include the origin, so two packages doing the same
// thing stay two lines: which package did it is the point.
#include "sandboxd/report/summary.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "policy/display_text.h"
#include "sandboxd/report/learned_profile.h"
#include "sandboxd/report/run_events.h"

namespace moat::report {
namespace {

std::string denial_what(const Event& e) {
  if (e.kind == "dns") return "dns " + e.detail.value("name", std::string());
  if (e.kind == "connect") {
    const std::string address = socket_address(e);
    return std::string(socket_call(e)) + (address.empty() ? "" : " " + address);
  }
  std::string what = e.detail.value("op", e.kind);
  std::string path = e.detail.value("path", std::string());
  return path.empty() ? what : what + " " + path;
}

// Every string below that came from the sandbox goes through terminal_text (display_text.h).
std::string shown(std::string_view text) { return policy::terminal_text(text); }

std::string shown_origin(const Origin& origin) {
  return origin.empty() ? "" : " [" + shown(origin.describe()) + "]";
}

std::string with_origin(const std::string& exe, const Origin& origin) {
  return "by " + (exe.empty() ? std::string("?") : shown(exe)) + shown_origin(origin);
}

// A terminal summary stays readable however much the command tried: past these many lines a
// section says how many more there are (the audit file keeps every event), so a flood of
// refusals cannot scroll the one that matters out of sight.
constexpr std::size_t kMaxDenialLines = 40;
constexpr std::size_t kMaxWrittenLines = 20;
constexpr std::size_t kMaxKilledLines = 20;
constexpr std::size_t kMaxFindingLines = 30;

std::string more_line(std::size_t hidden) {
  return "  ... and " + std::to_string(hidden) + " more (--audit FILE keeps them all)\n";
}

std::string times(int count) { return count > 1 ? " (x" + std::to_string(count) + ")" : ""; }

nlohmann::json origin_json(const Origin& o) {
  if (o.empty()) return nullptr;
  return {{"tool", o.tool}, {"package", o.package}, {"version", o.version}, {"script", o.script}};
}

}  // namespace

Summary summarize(const std::vector<Event>& events) {
  Summary s;
  std::vector<std::string> usual_roots, masked, redacted;
  std::string home;
  auto usual = [&](const std::string& path) { return is_usual_write(path, usual_roots, home); };
  using DenialKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
  std::map<DenialKey, size_t> denial_index;
  std::map<std::string, size_t> host_index;
  std::map<std::string, size_t> written_index;
  // The origin the watch followed from each process's exec, fork by fork: a process still
  // running at exit is described from /proc, where its environment is whatever it chose
  // (`env -i npm_package_name=lodash ...` would blame another package).
  std::map<pid_t, Origin> watched_origin;
  for (const Event& e : events) {
    if (e.layer == "watch" && !e.origin.empty() && e.pid != 0) watched_origin[e.pid] = e.origin;
    if (e.kind == "run") {  // the last one counts: a fallback to tier landlock starts again
      usual_roots.clear();
      masked.clear();
      redacted.clear();
      if (auto it = e.detail.find("redacted"); it != e.detail.end() && it->is_array()) {
        for (const auto& r : *it) {
          if (r.is_string()) redacted.push_back(r.get<std::string>());
        }
      }
      s.sources.clear();
      home = e.detail.value("home", std::string());
      if (auto it = e.detail.find("masked"); it != e.detail.end() && it->is_array()) {
        for (const auto& m : *it) {
          if (m.is_string()) masked.push_back(m.get<std::string>());
        }
      }
      if (auto it = e.detail.find("usual_write_roots"); it != e.detail.end() && it->is_array()) {
        for (const auto& root : *it) {
          if (root.is_string()) usual_roots.push_back(root.get<std::string>());
        }
      }
      if (auto it = e.detail.find("sources"); it != e.detail.end() && it->is_array()) {
        for (const auto& source : *it) {
          if (source.is_string()) s.sources.push_back(source.get<std::string>());
        }
      }
    } else if (e.kind == "end") {
      s.has_run_end = true;
      s.exit_code = e.detail.value("exit_code", 0);
      s.lost_events += e.detail.value("lost_events", std::uint64_t{0});
      // A running count (an install's phases share one log): the last end has it all.
      s.not_kept_events =
          std::max(s.not_kept_events, e.detail.value("not_kept_events", std::uint64_t{0}));
      s.not_written_events =
          std::max(s.not_written_events, e.detail.value("not_written_events", std::uint64_t{0}));
      s.leftovers = e.detail.value("leftovers", 0);
    } else if (e.kind == "kill-at-exit") {
      s.killed.push_back({e.pid, e.exe, e.detail.value("command", std::string()), e.origin});
    } else if (e.kind == "finding") {
      s.findings.push_back(finding_from_event(e));
    }
    if (e.verdict == "refused") {
      std::string what = denial_what(e);
      std::string reason = e.detail.value("reason", e.detail.value("error", std::string()));
      // The watch guesses the layer from errno alone; an EACCES on a masked path was the mask.
      std::string layer = e.layer;
      std::string path = e.detail.value("path", std::string());
      if (e.kind == "deny" && !path.empty() &&
          std::find(redacted.begin(), redacted.end(), path) != redacted.end()) {
        layer = "redacted";
        reason = "a copy without its credentials, read-only";
      } else if (e.kind == "deny" && !path.empty() &&
                 std::any_of(masked.begin(), masked.end(),
                             [&](const std::string& m) { return is_within(path, m); })) {
        layer = "mask";
        reason = "a secret: masked, unreadable";
      }
      DenialKey key{what, layer, reason, e.exe, e.origin.describe()};
      auto [it, fresh] = denial_index.emplace(key, s.denials.size());
      if (fresh) s.denials.push_back({what, layer, reason, e.exe, e.origin, 0});
      s.denials[it->second].count++;
      continue;
    }
    if (e.kind == "connect" && e.verdict == "allowed") {
      std::string name = e.detail.value("name", std::string());
      std::string host = (name.empty() ? e.detail.value("address", std::string()) : name) + ":" +
                         std::to_string(e.detail.value("port", 0));
      auto [it, fresh] = host_index.emplace(host, s.hosts.size());
      if (fresh) s.hosts.push_back({host, 0});
      s.hosts[it->second].count++;
      continue;
    }
    if (e.kind == "write" || e.kind == "create" || e.kind == "delete" || e.kind == "rename" ||
        e.kind == "chmod") {
      const std::string& path = detail_text(e, e.kind == "rename" ? "to" : "path");
      if (path.empty()) continue;
      if (usual(path)) continue;
      // A name relative to a directory descriptor that was closed before the watch could read
      // it (shutil.rmtree, tar): where it landed is unknown, so one group per process, not one
      // line per name that looks like a file in the working directory.
      const bool unresolved = path[0] != '/';
      std::string root = unresolved ? "" : home.empty() ? path : grant_root_for(path, home);
      std::string key = root + '\n' + e.exe + '\n' + e.origin.describe();
      auto [it, fresh] = written_index.emplace(key, s.written_outside.size());
      if (fresh) s.written_outside.push_back({root, e.kind, e.exe, e.origin, 0, path});
      s.written_outside[it->second].count++;
    }
  }
  for (KilledProcess& k : s.killed) {
    if (auto it = watched_origin.find(k.pid); it != watched_origin.end()) k.origin = it->second;
  }
  for (Finding& f : derive_findings(events)) s.findings.push_back(std::move(f));
  // What a package's own scripts did comes first: that is what a reader is looking for.
  std::stable_sort(s.written_outside.begin(), s.written_outside.end(),
                   [](const WrittenFile& a, const WrittenFile& b) {
                     return !a.origin.empty() && b.origin.empty();
                   });
  std::stable_sort(s.denials.begin(), s.denials.end(), [](const Denial& a, const Denial& b) {
    return !a.origin.empty() && b.origin.empty();
  });
  return s;
}

std::string render_text(const Summary& s) {
  std::string out;
  if (!s.denials.empty()) {
    int total = 0;
    for (const Denial& d : s.denials) total += d.count;
    out += "moat: refused (" + std::to_string(total) + "):\n";
    for (std::size_t i = 0; i < s.denials.size(); ++i) {
      if (i == kMaxDenialLines) {
        out += more_line(s.denials.size() - i);
        break;
      }
      const Denial& d = s.denials[i];
      out += "  " + shown(d.what) + times(d.count) + "  [" + d.layer + "] " +
             with_origin(d.exe, d.origin);
      if (!d.reason.empty()) out += "  -- " + shown(d.reason);
      out += "\n";
    }
  }
  if (!s.hosts.empty()) {
    out += "moat: hosts contacted:";
    for (const HostContact& h : s.hosts) out += " " + shown(h.host) + times(h.count);
    out += "\n";
  }
  if (!s.written_outside.empty()) {
    out += "moat: written outside the project and caches:\n";
    for (std::size_t i = 0; i < s.written_outside.size(); ++i) {
      if (i == kMaxWrittenLines) {
        out += more_line(s.written_outside.size() - i);
        break;
      }
      const WrittenFile& w = s.written_outside[i];
      if (w.path.empty()) {
        out += "  " + std::to_string(w.count) + " change" + (w.count == 1 ? "" : "s") +
               " at paths relative to a directory moat could not name (first: " + w.op + " " +
               shown(w.first) + ")  " + with_origin(w.exe, w.origin) + "\n";
      } else if (w.count == 1) {
        out += "  " + w.op + " " + shown(w.first) + "  " + with_origin(w.exe, w.origin) + "\n";
      } else {
        out += "  " + shown(w.path) + "/... (" + std::to_string(w.count) + " changes)  " +
               with_origin(w.exe, w.origin) + "\n";
      }
    }
  }
  if (!s.killed.empty()) {
    out += "moat: still running at exit, killed:\n";
    for (std::size_t i = 0; i < s.killed.size(); ++i) {
      if (i == kMaxKilledLines) {
        out += more_line(s.killed.size() - i);
        break;
      }
      const KilledProcess& k = s.killed[i];
      out += "  pid " + std::to_string(k.pid) + " " + shown(k.command.empty() ? k.exe : k.command) +
             shown_origin(k.origin);
      out += "\n";
    }
  }
  if (s.killed.empty() && s.leftovers > 0) {
    out += "moat: " + std::to_string(s.leftovers) +
           (s.leftovers == 1 ? " process was" : " processes were") +
           " still running when the command exited; killed\n";
  }
  if (!s.findings.empty()) {
    out += "moat: findings:\n";
    for (std::size_t i = 0; i < s.findings.size(); ++i) {
      if (i == kMaxFindingLines) {
        out += more_line(s.findings.size() - i);
        break;
      }
      const Finding& f = s.findings[i];
      out += "  " + f.type + ": " + shown(f.message) + shown_origin(f.origin) + "\n";
    }
  }
  for (const std::string& why : incompleteness(s)) out += "moat: " + why + "\n";
  if (!out.empty() && !s.sources.empty()) {
    // Which observers there were says what the account can contain (no watch: no file events).
    std::string seen;
    for (const std::string& source : s.sources) seen += (seen.empty() ? "" : ", ") + source;
    auto has = [&](const char* source) {
      return std::find(s.sources.begin(), s.sources.end(), source) != s.sources.end();
    };
    out += "moat: seen by: " + seen +
           (has("watch")         ? ""
            : has("file-notify") ? " (without root: file changes outside the project, no reads or execs)"
                                 : " (no file events)") +
           "\n";
  }
  return out;
}

std::vector<std::string> incompleteness(const Summary& s) {
  std::vector<std::string> out;
  if (s.lost_events > 0) {
    out.push_back(std::to_string(s.lost_events) +
                  " events were lost (the watch's buffer overflowed): this account is incomplete");
  }
  if (s.not_kept_events > 0) {
    out.push_back(std::to_string(s.not_kept_events) +
                  " events past moat's memory bound were not kept for this account (the audit "
                  "file, --audit FILE, has every one): this account is incomplete");
  }
  if (s.not_written_events > 0) {
    out.push_back(std::to_string(s.not_written_events) +
                  " events past the audit file's size bound were not written to it: the file is "
                  "incomplete");
  }
  return out;
}

nlohmann::json render_json(const Summary& s) {
  nlohmann::json j = {{"sources", s.sources},
                      {"lost_events", s.lost_events},
                      {"not_kept_events", s.not_kept_events},
                      {"not_written_events", s.not_written_events}};
  if (s.has_run_end) j["exit_code"] = s.exit_code;
  j["denials"] = nlohmann::json::array();
  for (const Denial& d : s.denials) {
    j["denials"].push_back({{"what", d.what}, {"layer", d.layer}, {"reason", d.reason},
                            {"exe", d.exe}, {"origin", origin_json(d.origin)}, {"count", d.count}});
  }
  j["hosts"] = nlohmann::json::array();
  for (const HostContact& h : s.hosts) j["hosts"].push_back({{"host", h.host}, {"count", h.count}});
  j["written_outside"] = nlohmann::json::array();
  for (const WrittenFile& w : s.written_outside) {
    j["written_outside"].push_back({{"path", w.path},
                                    {"op", w.op},
                                    {"count", w.count},
                                    {"first", w.first},
                                    {"exe", w.exe},
                                    {"origin", origin_json(w.origin)}});
  }
  j["killed"] = nlohmann::json::array();
  for (const KilledProcess& k : s.killed) {
    j["killed"].push_back({{"pid", k.pid}, {"exe", k.exe}, {"command", k.command},
                           {"origin", origin_json(k.origin)}});
  }
  j["findings"] = nlohmann::json::array();
  for (const Finding& f : s.findings) {
    j["findings"].push_back({{"type", f.type}, {"subject", f.subject}, {"message", f.message},
                             {"pid", f.pid}, {"exe", f.exe}, {"origin", origin_json(f.origin)}});
  }
  return j;
}

}  // namespace moat::report
