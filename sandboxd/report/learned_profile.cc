// The learned profile; see learned_profile.h. Every value is written as a double-quoted YAML
// scalar (JSON escaping is valid YAML), because paths and names came from the sandbox.
#include "sandboxd/report/learned_profile.h"

#include <algorithm>
#include <map>
#include <set>

#include "policy/display_text.h"
#include "sandboxd/report/findings.h"
#include "sandboxd/report/run_events.h"

namespace moat::report {
namespace {

std::string yaml_quoted(const std::string& s) { return json_text(nlohmann::json(s)); }

std::string with_variables(const std::string& path, const LearnInput& in) {
  if (is_within(path, in.project)) return "${PROJECT}" + path.substr(in.project.size());
  if (is_within(path, in.home)) return "${HOME}" + path.substr(in.home.size());
  return path;
}

struct Use {
  int count = 0;
  std::set<std::string> who;  // "exe [origin]"
};

std::string who_of(const Event& e) {
  std::string who = e.exe.empty() ? std::string("?") : e.exe;
  if (!e.origin.empty()) who += " [" + e.origin.describe() + "]";
  return who;
}

std::string comment(const Use& use, const char* noun) {
  std::string out = "# " + std::to_string(use.count) + " " + noun + (use.count == 1 ? "" : "s") +
                    " by ";
  size_t shown = 0;
  for (const std::string& w : use.who) {
    if (shown++ == 3) {
      out += ", ...";
      break;
    }
    // Escaped: nothing from the sandbox may end the comment's line, nor drive the terminal of
    // whoever reads the profile (display_text.h).
    out += (shown > 1 ? ", " : "") + policy::terminal_text(w);
  }
  return out;
}

}  // namespace

std::string grant_root_for(const std::string& path, const std::string& home) {
  if (is_within(path, home) && path.size() > home.size() + 1) {
    std::string rest = path.substr(home.size() + 1);
    auto component = [&](size_t n) {  // the first n components of rest
      size_t pos = 0;
      for (size_t i = 0; i < n; ++i) {
        pos = rest.find('/', pos + (i ? 1 : 0));
        if (pos == std::string::npos) return rest;
      }
      return rest.substr(0, pos);
    };
    std::string first = component(1);
    size_t depth = 1;
    if (first == ".config") depth = 2;
    if (first == ".local") {
      std::string second = component(2);
      depth = (second == ".local/share" || second == ".local/state") ? 3 : 2;
    }
    std::string root = component(depth);
    // A file directly in HOME (~/.foorc) or at the chosen depth: grant the file itself.
    return home + "/" + root;
  }
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? path : path.substr(0, slash);
}

LearnedProfile learn_profile(const std::vector<Event>& events, const LearnInput& in) {
  LearnedProfile out;
  std::vector<std::string> usual;
  std::map<std::string, Use> writes, hosts, refused_hosts;
  std::set<std::string> not_learned;
  for (const Event& e : events) {
    if (e.kind == "run") {
      if (auto it = e.detail.find("usual_write_roots"); it != e.detail.end() && it->is_array()) {
        usual.clear();
        for (const auto& r : *it) {
          if (r.is_string()) usual.push_back(r.get<std::string>());
        }
      }
      continue;
    }
    if (e.kind == "connect") {
      std::string name = e.detail.value("name", std::string());
      // A refused bind or listen on the gate's socket, or a connect without an address, names
      // no host a profile could allow.
      if (socket_call(e) != "connect" || (name.empty() && socket_address(e).empty())) continue;
      std::string host = (name.empty() ? e.detail.value("address", std::string()) : name) + ":" +
                         std::to_string(e.detail.value("port", 0));
      Use& use = (e.verdict == "refused" ? refused_hosts : hosts)[host];
      use.count++;
      use.who.insert(who_of(e));
      continue;
    }
    std::vector<std::string> paths;
    if (const std::string* written = written_path(e)) paths.push_back(*written);
    if (e.kind == "delete" && e.verdict != "refused") {
      paths.push_back(e.detail.value("path", std::string()));
    }
    if (e.kind == "deny") paths.push_back(e.detail.value("path", std::string()));
    for (const std::string& path : paths) {
      if (path.empty() || path[0] != '/') continue;
      if (is_usual_write(path, usual, in.home)) continue;
      if (std::any_of(in.protected_paths.begin(), in.protected_paths.end(),
                      [&](const std::string& p) { return is_within(path, p); })) {
        not_learned.insert(path);
        continue;
      }
      Use& use = writes[grant_root_for(path, in.home)];
      use.count++;
      use.who.insert(who_of(e));
    }
  }
  std::string y;
  std::string header = "# Learned by `moat learn` on " + in.date + " from: " + in.command;
  std::replace(header.begin(), header.end(), '\n', ' ');
  std::replace(header.begin(), header.end(), '\r', ' ');
  y += header + "\n";
  y += "# Review it: every grant below was used by the run, which is not the same as needed.\n";
  y += "version: 1\n";
  y += "extends: " + yaml_quoted(in.extends) + "\n";
  y += "learned:\n  command: " + yaml_quoted(in.command) + "\n  date: " + yaml_quoted(in.date) + "\n";
  if (!writes.empty()) {
    y += "filesystem:\n  write:\n";
    for (const auto& [root, use] : writes) {
      std::string path = with_variables(root, in);
      out.write_paths.push_back(path);
      y += "    - " + yaml_quoted(path) + "  " + comment(use, "write") + "\n";
    }
  }
  if (!hosts.empty()) {
    y += "network:\n  mode: allowlist\n  allow:\n";
    for (const auto& [host, use] : hosts) {
      out.hosts.push_back(host);
      y += "    - " + yaml_quoted(host) + "  " + comment(use, "connection") + "\n";
    }
  } else {
    y += "network:\n  mode: none  # the run connected nowhere\n";
  }
  for (const auto& [host, use] : refused_hosts) {
    y += "# refused even while learning (a special address): " + policy::terminal_text(host) +
         "  " + comment(use, "attempt").substr(2) + "\n";
  }
  for (const std::string& path : not_learned) {
    out.not_learned.push_back(path);
    y += "# not learned, protected: " + policy::terminal_text(path) + "\n";
  }
  out.yaml = std::move(y);
  return out;
}

}  // namespace moat::report
