// Findings; see findings.h. Heuristics are chosen to be quiet on honest installs: npm runs every
// lifecycle script through one `sh -c`, so only a shell started *by the script* is reported.
#include "sandboxd/report/findings.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "policy/variables.h"
#include "sandboxd/report/run_events.h"

namespace moat::report {
namespace {

std::string_view base_name(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_shell(std::string_view exe) {
  static const std::set<std::string_view> shells = {"sh",  "bash", "dash", "zsh",
                                                    "ksh", "fish", "csh",  "tcsh"};
  return shells.count(base_name(exe)) > 0;
}

bool in_lifecycle(const Origin& o) { return !o.script.empty(); }

// Looked up by string_view: the ancestors of a path are its prefixes, no copies needed.
struct PathHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using ProtectedPaths = std::unordered_map<std::string, std::string, PathHash, std::equal_to<>>;

// The protection of PATH or of its nearest protected ancestor, or nullptr.
const std::string* protection_of(const ProtectedPaths& protected_paths, std::string_view path) {
  if (protected_paths.empty() || path.empty() || path[0] != '/') return nullptr;
  for (;;) {
    if (auto it = protected_paths.find(path); it != protected_paths.end()) return &it->second;
    const std::size_t slash = path.rfind('/');
    if (slash == 0 || slash == std::string_view::npos) return nullptr;
    path = path.substr(0, slash);
  }
}

// The package a path under node_modules belongs to: the name after its last `node_modules`
// component (`@scope/name` for a scoped one); "" outside node_modules. Tool state (.bin, .cache,
// .pnpm's own files) starts with a dot.
std::string_view node_modules_owner(std::string_view path) {
  constexpr std::string_view kDir = "/node_modules/";
  std::size_t at = path.rfind(kDir);
  std::string_view rest;
  if (at != std::string_view::npos) {
    rest = path.substr(at + kDir.size());
  } else if (path.starts_with(kDir.substr(1))) {  // a relative path the watch could not resolve
    rest = path.substr(kDir.size() - 1);
  } else {
    return {};
  }
  std::size_t end = rest.find('/');
  if (!rest.empty() && rest[0] == '@' && end != std::string_view::npos) {
    end = rest.find('/', end + 1);
  }
  return rest.substr(0, end);
}

bool is_file_change(const std::string& kind) {
  return kind == "write" || kind == "create" || kind == "rename" || kind == "chmod";
}

}  // namespace

bool python_startup_file_runs_code(std::string_view path, std::string_view content) {
  std::string_view name = base_name(path);
  if (name == "sitecustomize.py" || name == "usercustomize.py") {
    size_t pos = 0;
    while (pos < content.size()) {
      size_t end = content.find('\n', pos);
      std::string_view line = content.substr(pos, end == std::string_view::npos ? end : end - pos);
      pos = end == std::string_view::npos ? content.size() : end + 1;
      size_t first = line.find_first_not_of(" \t\r\f");
      if (first != std::string_view::npos && line[first] != '#') return true;
    }
    return false;
  }
  if (!ends_with(name, ".pth")) return false;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    std::string_view line = content.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end == std::string_view::npos ? content.size() : end + 1;
    // site.py: "Lines starting with import (followed by space or tab) are executed."
    if (line.size() > 6 && line.substr(0, 6) == "import" && (line[6] == ' ' || line[6] == '\t')) {
      return true;
    }
  }
  return false;
}

const std::string* written_path(const Event& e) {
  if (!is_file_change(e.kind) || e.verdict == "refused") return nullptr;
  const std::string& path = detail_text(e, e.kind == "rename" ? "to" : "path");
  return path.empty() ? nullptr : &path;
}

const Event* last_writer(const std::vector<Event>& events, const std::string& path) {
  const Event* writer = nullptr;
  for (const Event& e : events) {
    if (const std::string* written = written_path(e); written != nullptr && *written == path) {
      writer = &e;
    }
  }
  return writer;
}

Event attributed_finding(const std::string& type, const std::string& subject, std::string message,
                         const Event* writer) {
  if (writer == nullptr) return finding_event({type, subject, std::move(message), 0, {}, {}});
  message += "; written by " + (writer->origin.empty()
                                    ? (writer->exe.empty() ? std::string("?") : writer->exe)
                                    : writer->origin.describe());
  return finding_event({type, subject, std::move(message), writer->pid, writer->exe, writer->origin});
}

std::string one_line(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (text.size() > 120) text = text.substr(0, 117) + "...";
  return text;
}

std::vector<Finding> derive_findings(const std::vector<Event>& events) {
  std::vector<Finding> out;
  // path -> protection; looked up by the changed path's ancestors (a watched run has tens of
  // thousands of changes and dozens of protected paths: a scan of the list each cost 20 ms)
  ProtectedPaths protected_paths;
  ProtectedPaths masked_paths;                    // secrets, hidden from the sandbox
  std::map<pid_t, const Event*> last_exec;        // pid -> its latest exec
  std::map<std::string, std::string> link_targets;  // symlinks the run made: path -> target
  // path -> the event that wrote it, for the files the run executed only (a watched run writes
  // tens of thousands of files and executes a few); views into EVENTS, which outlive this.
  std::unordered_set<std::string_view> executed;
  for (const Event& e : events) {
    if (e.kind == "exec" && !e.exe.empty()) executed.insert(e.exe);
  }
  std::unordered_map<std::string_view, const Event*> written;
  std::set<pid_t> connected;                      // processes that opened a connection
  std::set<std::pair<std::string, std::string>> reported;  // (type, subject): once each
  auto report = [&](Finding f) {
    if (reported.insert({f.type, f.subject + "\n" + f.origin.describe()}).second) {
      out.push_back(std::move(f));
    }
  };
  // Files that are not an installed package's own, changed by its code, per kind and package
  // (in order of the first change): the project's own files outside node_modules (sources,
  // build files, configuration the developer runs, builds and commits), and other packages'
  // files in node_modules (code that runs wherever they are required).
  std::string project;
  struct ForeignChanges {
    std::string type;
    std::string who;
    const Event* first = nullptr;
    std::vector<std::string_view> paths;  // the first few
    std::size_t changed = 0, refused = 0;
  };
  std::vector<ForeignChanges> foreign_changes;
  auto inside_project = [&](const std::string& path) {
    return project.size() > 1 && path != project && is_within(path, project);
  };
  auto note_foreign = [&](const char* type, const Event& e, std::string_view path) {
    std::string who = e.origin.describe();
    auto it = std::find_if(foreign_changes.begin(), foreign_changes.end(),
                           [&](const ForeignChanges& c) { return c.type == type && c.who == who; });
    if (it == foreign_changes.end()) {
      foreign_changes.push_back({type, std::move(who), &e, {}, 0, 0});
      it = foreign_changes.end() - 1;
    }
    (e.kind == "deny" || e.verdict == "refused" ? it->refused : it->changed) += 1;
    if (it->paths.size() < 4 &&
        std::find(it->paths.begin(), it->paths.end(), path) == it->paths.end()) {
      it->paths.push_back(path);
    }
  };
  for (const Event& e : events) {
    if (e.kind == "run") {
      project = policy::normalize_path(e.detail.value("project", std::string()));
      protected_paths.clear();
      masked_paths.clear();
      if (auto it = e.detail.find("masked"); it != e.detail.end() && it->is_array()) {
        for (const auto& m : *it) {
          if (m.is_string()) {
            std::string path = policy::normalize_path(m.get<std::string>());
            if (path.size() > 1) masked_paths.emplace(path, "secret");
          }
        }
      }
      if (auto it = e.detail.find("protected"); it != e.detail.end() && it->is_array()) {
        for (const auto& p : *it) {
          if (p.is_object()) {
            std::string path = policy::normalize_path(p.value("path", std::string()));
            if (path.size() > 1) protected_paths.emplace(path, p.value("protection", std::string()));
          }
        }
      }
      continue;
    }
    // A change to a persistence point, refused or landed in the private home: either way an
    // attempt to run code later, outside the sandbox.
    if (e.kind == "write" || e.kind == "create" || e.kind == "rename" || e.kind == "chmod" ||
        e.kind == "delete" || e.kind == "deny" || e.kind == "symlink") {
      const std::string& path = detail_text(e, e.kind == "rename" ? "to" : "path");
      if (const std::string* found = protection_of(protected_paths, path)) {
        const std::string& protection = *found;
        std::string op = e.kind == "deny" ? e.detail.value("op", std::string("change")) : e.kind;
        if (op != "read") {
          std::string who = e.origin.empty() ? (e.exe.empty() ? std::string("?") : e.exe)
                                             : e.origin.package + " (" + e.origin.script + ")";
          // Not refused means it landed in a private tmpfs: protected paths in host trees are
          // read-only mounts, so only the sandbox's own home or /tmp could take it.
          report({protection == "audit" ? "audit-tamper" : "persistence-attempt", path,
                  who + " tried to " + op + " " + path + " (" + protection + "): " +
                      (e.verdict == "refused" ? "refused"
                                              : "it landed in the sandbox's private home, discarded"),
                  e.pid, e.exe, e.origin});
        }
      }
    }
    if (e.origin.dependency &&
        (is_file_change(e.kind) || e.kind == "delete" || e.kind == "symlink" ||
         (e.kind == "deny" && e.detail.value("op", std::string()) != "read"))) {
      const std::string& path = detail_text(e, e.kind == "rename" ? "to" : "path");
      const std::string_view owner = node_modules_owner(path);
      if (!owner.empty()) {
        // Changes that happened only: node-gyp's Python tries to cache bytecode next to the
        // read-only global npm's sources on every build, a refusal with nothing to report (an
        // attempt at a read-only tree is in the account's refusals anyway); and not the
        // bytecode caches Python writes by itself beside whatever it imports.
        // node_modules/.bin is npm's, not tool state: its links are the commands `npm run` and
        // npx start, so replacing one is replacing that package's program.
        const bool refused = e.kind == "deny" || e.verdict == "refused";
        if ((owner[0] != '.' || owner == ".bin") && owner != e.origin.package && !refused &&
            path.find("/__pycache__") == std::string::npos) {
          note_foreign("package-files-changed", e, path);
        }
      } else if (inside_project(path) &&
                 !under_node_modules(std::string_view(path).substr(project.size())) &&
                 protection_of(protected_paths, path) == nullptr) {
        note_foreign("project-files-changed", e, path);
      }
      // A link a dependency made (in its own folder, say) to the project's own files or to
      // another package's: whatever is written through it later lands there, under the link's
      // harmless-looking name.
      if (e.kind == "symlink" && e.verdict != "refused") {
        const std::string& target = detail_text(e, "target_path");
        const std::string_view target_owner = node_modules_owner(target);
        if (!target_owner.empty()) {
          if (target_owner != e.origin.package && target_owner[0] != '.') {
            note_foreign("package-files-changed", e, target);
          }
        } else if (!target.empty() && inside_project(target) &&
                   !under_node_modules(std::string_view(target).substr(project.size())) &&
                   protection_of(protected_paths, target) == nullptr) {
          note_foreign("project-files-changed", e, target);
        }
      }
    }
    // A symlink that stays on the host (in the project) pointing at a persistence point or a
    // secret: the developer's next write through it (a build log, an output file) lands there,
    // outside any sandbox, and a read sends the secret wherever the file goes.
    if (e.kind == "symlink" && e.verdict != "refused") {
      const std::string& target = detail_text(e, "target_path");
      link_targets[detail_text(e, "path")] = target;
      const std::string* found = protection_of(protected_paths, target);
      if (found == nullptr) found = protection_of(masked_paths, target);
      if (found != nullptr) {
        const std::string& link = detail_text(e, "path");
        std::string who = e.origin.empty() ? (e.exe.empty() ? std::string("?") : e.exe)
                                           : e.origin.package + " (" + e.origin.script + ")";
        report({"symlink-trap", link,
                who + " made " + link + " a symlink to " + target + " (" + *found +
                    "): writing or reading it later, outside the sandbox, reaches " + target,
                e.pid, e.exe, e.origin});
      }
    }
    if (e.kind == "exec") {
      // A shell started by a process that was itself running a lifecycle script.
      auto parent = last_exec.find(e.ppid);
      // A shell started by a link the run made to it (`ln -s /bin/sh helper; ./helper`).
      auto link = link_targets.find(e.exe);
      const bool shell = is_shell(e.exe) || (link != link_targets.end() && is_shell(link->second));
      if (shell && in_lifecycle(e.origin) && parent != last_exec.end() &&
          in_lifecycle(parent->second->origin) && parent->second->origin == e.origin) {
        report({"lifecycle-shell", e.exe,
                "the " + e.origin.script + " script of " + e.origin.package + " started a shell (" +
                    e.exe + ") from " + parent->second->exe,
                e.pid, e.exe, e.origin});
      }
      // A file this run wrote, executed: downloaded or generated at install time.
      if (auto w = written.find(e.exe); w != written.end()) {
        const Event& writer = *w->second;
        if (in_lifecycle(writer.origin) || connected.count(writer.pid) > 0) {
          report({"exec-after-write", e.exe,
                  e.exe + " was written during the run (by " +
                      (writer.exe.empty() ? std::string("?") : writer.exe) + ") and then executed",
                  e.pid, e.exe, writer.origin.empty() ? e.origin : writer.origin});
        }
      }
      last_exec[e.pid] = &e;
    } else if (e.kind == "connect" || (e.kind == "dns" && e.verdict == "refused")) {
      connected.insert(e.pid);
      if (in_lifecycle(e.origin)) {
        std::string host = e.detail.value("name", std::string());
        if (e.kind == "connect") {
          const std::string address = socket_address(e);
          const std::string_view call = socket_call(e);
          if (!host.empty()) {
            host += ":" + std::to_string(e.detail.value("port", 0));
          } else {
            host = address.empty() ? "a socket" : address;
          }
          if (call != "connect") host = std::string(call) + " " + host;
        }
        report({"lifecycle-network", host,
                "the " + e.origin.script + " script of " + e.origin.package +
                    (e.verdict == "refused" ? " tried to reach " : " reached ") + host,
                e.pid, e.exe, e.origin});
      }
    } else {
      const std::string* path = written_path(e);
      if (path != nullptr && executed.count(*path) > 0) written[*path] = &e;
    }
  }
  for (const ForeignChanges& changes : foreign_changes) {
    const bool in_project = changes.type == "project-files-changed";
    std::string list;
    for (std::string_view path : changes.paths) {
      const std::string shown(inside_project(std::string(path)) ? path.substr(project.size() + 1)
                                                                : path);
      list += (list.empty() ? "" : ", ") + shown;
    }
    const std::size_t total = changes.changed + changes.refused;
    if (total > changes.paths.size()) list += ", ...";
    const std::string what =
        in_project ? "the project's own files outside node_modules" : "other packages' files";
    std::string message = changes.who + " (an installed package's code) " +
                          (changes.changed > 0 ? "changed " : "tried to change ") + what + " (" +
                          std::to_string(total) + " change" + (total == 1 ? "" : "s");
    if (changes.changed > 0 && changes.refused > 0) {
      message += ", " + std::to_string(changes.refused) + " refused";
    }
    message += "): " + list +
               (in_project ? ": code and configuration the developer runs, builds and commits"
                           : ": code that runs wherever those packages are required");
    const Event& first = *changes.first;
    report({changes.type, std::string(changes.paths.front()), message, first.pid, first.exe,
            first.origin});
  }
  return out;
}

std::vector<Event> content_findings(
    const std::vector<Event>& events,
    const std::function<std::optional<std::string>(const std::string&)>& read) {
  std::map<std::string, const Event*> candidates;
  std::map<std::string, const Event*> links;
  auto startup_name = [](std::string_view name) {
    return ends_with(name, ".pth") || name == "sitecustomize.py" || name == "usercustomize.py";
  };
  for (const Event& e : events) {
    if (const std::string* path = written_path(e)) {
      if (startup_name(base_name(*path))) candidates[*path] = &e;
    }
    // A startup file that is a symlink: Python follows it; what it names was not written as one.
    if (e.kind == "symlink" && e.verdict != "refused" &&
        startup_name(base_name(detail_text(e, "path")))) {
      links[detail_text(e, "path")] = &e;
    }
  }
  std::vector<Event> out;
  for (const auto& [path, maker] : links) {
    candidates.erase(path);
    const std::string& target = detail_text(*maker, "target");
    out.push_back(finding_event({"python-startup-code", path,
                                 path + " is a symlink to " + target +
                                     ": Python reads what it names at every start (made by " +
                                     (maker->exe.empty() ? std::string("?") : maker->exe) + ")",
                                 maker->pid, maker->exe, maker->origin}));
  }
  for (const auto& [path, writer] : candidates) {
    std::optional<std::string> content = read(path);
    if (!content || !python_startup_file_runs_code(path, *content)) continue;
    out.push_back(finding_event({"python-startup-code", path,
                                 path + " runs code at every Python start (written by " +
                                     (writer->exe.empty() ? std::string("?") : writer->exe) + ")",
                                 writer->pid, writer->exe, writer->origin}));
  }
  return out;
}

Event finding_event(const Finding& f) {
  Event e;
  e.kind = "finding";
  e.pid = f.pid;
  e.exe = f.exe;
  e.origin = f.origin;
  e.detail = {{"type", f.type}, {"subject", f.subject}, {"message", f.message}};
  return e;
}

Finding finding_from_event(const Event& e) {
  return {e.detail.value("type", std::string()), e.detail.value("subject", std::string()),
          e.detail.value("message", std::string()), e.pid, e.exe, e.origin};
}

}  // namespace moat::report
