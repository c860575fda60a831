// The learned profile; see learned_profile.h. Every value is written as a double-quoted YAML
// scalar (JSON escaping is valid YAML), because paths and names came from the sandbox.
#include "sandboxd/report/learned_profile.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "policy/display_text.h"
#include "policy/variables.h"
#include "sandboxd/report/run_events.h"

namespace moat::report {
namespace {

std::string yaml_quoted(const std::string& s) { return json_text(nlohmann::json(s)); }

// The loader expands ${NAME} in every path and reads "$$" as one '$' (variables.h): a directory
// the run named `${HOME}` must stay that name, not become a grant of the whole home.
std::string escaped(std::string_view literal) {
  std::string out;
  for (char c : literal) out += c == '$' ? std::string("$$") : std::string(1, c);
  return out;
}

std::string with_variables(const std::string& path, const LearnInput& in) {
  if (is_within(path, in.project)) return "${PROJECT}" + escaped(path.substr(in.project.size()));
  if (is_within(path, in.home)) return "${HOME}" + escaped(path.substr(in.home.size()));
  return escaped(path);
}

// The paths a write-type event changed or tried to change. A refused read is a `deny` too (the
// watch reports the open that failed, op "read"): it needs no write grant.
std::vector<std::string> changed_paths(const Event& e) {
  const bool refused = e.kind == "deny";
  const std::string op = refused ? e.detail.value("op", std::string()) : e.kind;
  if (op != "write" && op != "create" && op != "delete" && op != "rename" && op != "chmod" &&
      op != "symlink") {
    return {};
  }
  if (!refused && e.verdict == "refused") return {};
  std::vector<std::string> out;
  // A rename needs the source's directory as well as the target's.
  for (const char* key : {"path", "to"}) {
    std::string path = e.detail.value(key, std::string());
    if (!path.empty() && path[0] == '/') out.push_back(policy::normalize_path(path));
  }
  return out;
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
  // The home itself (a chmod of ~) needs the home, never its parent.
  if (!home.empty() && path == home) return home;
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
  std::map<std::string, std::pair<std::string, Use>> not_learned;  // path -> why, who
  const LearnLimits limits{in.home, in.project, in.protected_paths, in.command_dirs};
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
    for (const std::string& path : changed_paths(e)) {
      auto refuse = [&](const std::string& what, const std::string& why) {
        auto& [reason, use] = not_learned[what];
        reason = why;
        use.count++;
        use.who.insert(who_of(e));
      };
      // Before the usual places: the project's .git/hooks is in the project, and still listed.
      if (std::optional<std::string> part = protected_part(path, limits)) {
        refuse(*part, "protected");
        continue;
      }
      if (is_usual_write(path, usual, in.home)) continue;
      const std::string root = grant_root_for(path, in.home);
      if (std::string why = why_not_learnable(root, limits); !why.empty()) {
        refuse(root, why);
        continue;
      }
      Use& use = writes[root];
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
  for (const auto& [path, why_use] : not_learned) {
    const auto& [why, use] = why_use;
    out.not_learned.push_back({path, why});
    // The reason may name a protected path, which git's configuration in the project can name.
    y += "# not learned: " + policy::terminal_text(path) + " (" + policy::terminal_text(why) +
         "); " + comment(use, "write").substr(2) + "\n";
  }
  out.yaml = std::move(y);
  return out;
}

}  // namespace moat::report
