// See git_submodule_findings.h. The index format is git's Documentation/gitformat-index.txt.
#include "sandboxd/report/git_submodule_findings.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "policy/git_config.h"
#include "policy/tools/common.h"
#include "policy/variables.h"
#include "sandboxd/report/findings.h"
#include "sandboxd/sys/small_file.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::report {
namespace {

constexpr std::size_t kMaxIndexBytes = 256u << 20;
constexpr std::size_t kMaxConfigBytes = 1u << 20;
constexpr std::uint32_t kGitlinkMode = 0160000;

std::uint32_t be32(std::string_view s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

bool is_boolean(std::string value) {
  value = policy::tools::lower(value);
  return value.empty() || value == "true" || value == "false" || value == "yes" || value == "no" ||
         value == "on" || value == "off" || value == "1" || value == "0";
}

// Does git run VALUE of SECTION.KEY as a program (or read another file of settings)?
bool runs_program(const std::string& section, const std::string& key, const std::string& value) {
  auto sub_of = [&](std::string_view name) {
    return section.size() > name.size() && section.compare(0, name.size(), name) == 0 &&
           section[name.size()] == '.';
  };
  if (section == "core") {
    if (key == "fsmonitor") return !is_boolean(value);  // true: git's own daemon
    return key == "hookspath" || key == "sshcommand" || key == "editor" || key == "pager" ||
           key == "askpass" || key == "gitproxy" || key == "alternaterefscommand";
  }
  if (section == "sequence") return key == "editor";
  if (section == "diff") return key == "external";
  if (sub_of("diff")) return key == "textconv" || key == "command";
  if (sub_of("merge")) return key == "driver";
  if (sub_of("filter")) return key == "clean" || key == "smudge" || key == "process";
  if (section == "credential" || sub_of("credential")) return key == "helper";
  if (section == "gpg" || sub_of("gpg")) return key == "program";
  if (section == "pager") return true;
  if (section == "alias") return !value.empty() && value[0] == '!';
  if (section == "include" || sub_of("includeif")) return key == "path";
  if (section == "uploadpack") return key == "packobjectshook";
  if (sub_of("remote")) return key == "uploadpack" || key == "receivepack";
  if (sub_of("submodule")) return key == "update" && !value.empty() && value[0] == '!';
  return false;
}

// Files beneath the project, opened without leaving it (links inside it are followed, as git
// follows them; a link or `..` out of it fails).
class ProjectFiles {
 public:
  explicit ProjectFiles(const std::string& project)
      : project_(project), dir_(::open(project.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {}

  sys::UniqueFd open(const std::string& path, int flags) const {
    if (!dir_.valid() || !policy::path_within(path, project_) || path == project_) {
      return sys::UniqueFd();
    }
    open_how how{};
    // openat2 takes O_PATH with nothing but O_CLOEXEC, O_DIRECTORY and O_NOFOLLOW.
    if ((flags & O_PATH) == 0) flags |= O_NOCTTY | O_NONBLOCK;
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const std::string relative = path.substr(project_.size() + 1);
    return sys::UniqueFd(
        static_cast<int>(::syscall(SYS_openat2, dir_.get(), relative.c_str(), &how, sizeof(how))));
  }

  std::optional<std::string> read(const std::string& path, std::size_t limit) const {
    sys::UniqueFd fd = open(path, O_RDONLY);
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return sys::read_up_to(fd.get(), limit);
  }

  // The status (after links) of PATH, when it can be opened beneath the project.
  std::optional<struct stat> status(const std::string& path) const {
    sys::UniqueFd fd = open(path, O_PATH);
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return std::nullopt;
    return st;
  }

  // When PATH was made (its birth time), where the file system records one.
  std::optional<timespec> born(const std::string& path) const {
    sys::UniqueFd fd = open(path, O_PATH);
    struct statx sx {};
    if (!fd.valid() || ::statx(fd.get(), "", AT_EMPTY_PATH, STATX_BTIME, &sx) != 0 ||
        (sx.stx_mask & STATX_BTIME) == 0) {
      return std::nullopt;
    }
    return timespec{static_cast<time_t>(sx.stx_btime.tv_sec),
                    static_cast<long>(sx.stx_btime.tv_nsec)};
  }


 private:
  std::string project_;
  sys::UniqueFd dir_;
};

bool at_or_after(const timespec& t, const timespec& since) {
  return t.tv_sec > since.tv_sec || (t.tv_sec == since.tv_sec && t.tv_nsec >= since.tv_nsec);
}

bool changed_since(const struct stat& st, const timespec& since) {
  return at_or_after(st.st_ctim, since);
}

// The git directory of the work tree at DIR: DIR/.git, or where a `gitdir:` file points.
std::optional<std::string> git_dir_of(const ProjectFiles& files, const std::string& dir) {
  const std::string dotgit = dir + "/.git";
  std::optional<struct stat> st = files.status(dotgit);
  if (!st) return std::nullopt;
  if (S_ISDIR(st->st_mode)) return dotgit;
  std::optional<std::string> pointer = files.read(dotgit, 4096);
  if (!pointer || !pointer->starts_with("gitdir:")) return std::nullopt;
  std::string target = policy::tools::trim(std::string_view(*pointer).substr(7));
  if (target.empty()) return std::nullopt;
  return policy::normalize_path(target[0] == '/' ? target : dir + "/" + target);
}

}  // namespace

std::optional<std::vector<std::string>> git_index_gitlinks(std::string_view index,
                                                           std::size_t oid_bytes) {
  if (index.size() < 12 || index.substr(0, 4) != "DIRC") return std::nullopt;
  const std::uint32_t version = be32(index, 4);
  if (version < 2 || version > 4) return std::nullopt;
  const std::uint32_t count = be32(index, 8);
  const std::size_t fixed = 40 + oid_bytes + 2;  // stat fields, object id, flags
  std::vector<std::string> out;
  std::string path;  // version 4 keeps the previous entry's path
  std::size_t at = 12;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (at + fixed > index.size()) return std::nullopt;
    const std::uint32_t mode = be32(index, at + 24);
    const unsigned flags = (static_cast<unsigned char>(index[at + 40 + oid_bytes]) << 8) |
                           static_cast<unsigned char>(index[at + 41 + oid_bytes]);
    std::size_t name = at + fixed;
    if (version >= 3 && (flags & 0x4000) != 0) name += 2;  // extended flags
    if (name > index.size()) return std::nullopt;
    if (version == 4) {
      // How many bytes of the previous path to drop (git's offset varint), then the rest.
      std::size_t drop = 0;
      int bytes = 0;
      for (;;) {
        if (name >= index.size() || ++bytes > 9) return std::nullopt;
        const unsigned char c = static_cast<unsigned char>(index[name++]);
        drop = (drop << 7) | (c & 0x7f);
        if ((c & 0x80) == 0) break;
        ++drop;
      }
      const std::size_t end = index.find('\0', name);
      if (end == std::string_view::npos || drop > path.size()) return std::nullopt;
      path.resize(path.size() - drop);
      path.append(index.substr(name, end - name));
      at = end + 1;
    } else {
      const std::size_t end = index.find('\0', name);
      if (end == std::string_view::npos) return std::nullopt;
      path.assign(index.substr(name, end - name));
      // Entries are padded with NULs to a multiple of 8 bytes (at least one NUL).
      at += (end - at + 8) & ~static_cast<std::size_t>(7);
    }
    if ((mode & 0170000) == kGitlinkMode) out.push_back(path);
  }
  return out;
}

std::vector<std::string> git_config_commands(std::string_view config) {
  std::vector<std::string> out;
  for (const policy::GitSetting& s : policy::parse_git_config(config)) {
    if (runs_program(s.section, s.key, s.value))
      out.push_back(s.section + "." + s.key + " = " + s.value);
  }
  return out;
}

namespace {

// What a repository at WORK_TREE gained during the run that makes git run a program: config
// settings and executable hooks. One finding of TYPE each, WHERE saying why git runs there.
void repository_findings(const ProjectFiles& files, const std::string& work_tree,
                         const timespec& since, const std::vector<Event>& events,
                         const std::string& type, const std::string& where,
                         std::vector<Event>& out) {
  std::optional<std::string> sub_git = git_dir_of(files, work_tree);
  if (!sub_git) return;  // not populated: git runs nothing there
  // A repository made during the run (its .git born then), or redirected then (a .git file
  // rewritten): everything in it is the run's. Otherwise only what changed then counts: git
  // itself, run in the submodule, rewrites the index and refs there, not the config.
  const std::string dotgit = work_tree + "/.git";
  std::optional<struct stat> dotgit_status = files.status(dotgit);
  std::optional<timespec> dotgit_born = files.born(dotgit);
  bool changed = false;
  if (dotgit_born) changed = at_or_after(*dotgit_born, since);
  if (dotgit_status && !S_ISDIR(dotgit_status->st_mode)) {
    changed = changed || changed_since(*dotgit_status, since);
  } else if (!dotgit_born && dotgit_status) {
    changed = changed_since(*dotgit_status, since);  // no birth time: the directory's change
  }
  const bool repository_new = changed;
  // The settings that run programs, from the repository's own files.
  std::vector<std::pair<std::string, std::string>> commands;  // file, setting
  for (const char* name : {"/config", "/config.worktree"}) {
    const std::string file = *sub_git + name;
    std::optional<struct stat> st = files.status(file);
    if (!st) continue;
    changed = changed || changed_since(*st, since);
    if (std::optional<std::string> text = files.read(file, kMaxConfigBytes)) {
      for (std::string& c : git_config_commands(*text)) commands.emplace_back(file, std::move(c));
    }
  }
  if (changed) {
    for (const auto& [file, setting] : commands) {
      out.push_back(attributed_finding(type, work_tree,
                                       where + ": its configuration " + file + " sets " +
                                           one_line(setting) +
                                           ", which git runs outside any sandbox",
                                       last_writer(events, file)));
    }
  }
  // Hooks made or changed during the run (git runs them in the repository: a commit there,
  // `git submodule update`'s checkout).
  sys::UniqueFd hooks = files.open(*sub_git + "/hooks", O_RDONLY | O_DIRECTORY);
  DIR* d = hooks.valid() ? ::fdopendir(hooks.release()) : nullptr;
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name.ends_with(".sample")) continue;
    names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string hook = *sub_git + "/hooks/" + name;
    std::optional<struct stat> st = files.status(hook);
    if (!st || !S_ISREG(st->st_mode) || (st->st_mode & 0111) == 0) continue;
    if (!repository_new && !changed_since(*st, since)) continue;
    out.push_back(attributed_finding(
        type, work_tree,
        where + ": it has the hook " + hook + ", which git runs outside any sandbox",
        last_writer(events, hook)));
  }
}

// Work trees of repositories inside PROJECT (not PROJECT itself) that the run touched: a path it
// changed has a ".git" component (from the watch's events), or a directory directly in the
// project holds a .git (what editors scan for repositories by default, seen without events).
std::vector<std::string> nested_work_trees(const ProjectFiles& files, const std::string& root,
                                           const std::vector<Event>& events) {
  std::vector<std::string> out;
  auto add = [&](const std::string& work_tree) {
    if (work_tree != root && policy::path_within(work_tree, root) &&
        std::find(out.begin(), out.end(), work_tree) == out.end() && out.size() < 64) {
      out.push_back(work_tree);
    }
  };
  for (const Event& e : events) {
    if (e.kind != "create" && e.kind != "write" && e.kind != "rename" && e.kind != "chmod")
      continue;
    const std::string& path = detail_text(e, e.kind == "rename" ? "to" : "path");
    if (!policy::path_within(path, root)) continue;
    for (std::size_t at = path.find("/.git"); at != std::string::npos;
         at = path.find("/.git", at + 1)) {
      const std::size_t after = at + 5;
      if (after == path.size() || path[after] == '/') add(path.substr(0, at));
    }
  }
  if (DIR* d = ::opendir(root.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == ".." || name == ".git") continue;
      std::optional<struct stat> st = files.status(root + "/" + name);  // no symlink followed
      if (st && S_ISDIR(st->st_mode) && files.status(root + "/" + name + "/.git")) {
        add(root + "/" + name);
      }
    }
    ::closedir(d);
  }
  return out;
}

}  // namespace

std::vector<Event> submodule_code_findings(const std::string& project, const timespec& since,
                                           const std::vector<Event>& events) {
  std::vector<Event> out;
  const std::string root = policy::normalize_path(project);
  const ProjectFiles files(root);
  std::vector<std::string> gitlinked;
  if (std::optional<std::string> git_dir = git_dir_of(files, root)) {
    std::optional<std::string> index = files.read(*git_dir + "/index", kMaxIndexBytes);
    std::size_t oid_bytes = 20;
    if (std::optional<std::string> config = files.read(*git_dir + "/config", kMaxConfigBytes)) {
      for (const policy::GitSetting& s : policy::parse_git_config(*config)) {
        if (s.section == "extensions" && s.key == "objectformat" &&
            policy::tools::lower(s.value) == "sha256") {
          oid_bytes = 32;
        }
      }
    }
    std::optional<std::vector<std::string>> gitlinks =
        index ? git_index_gitlinks(*index, oid_bytes) : std::nullopt;
    for (const std::string& link : gitlinks.value_or(std::vector<std::string>{})) {
      const std::string work_tree = policy::normalize_path(root + "/" + link);
      if (!policy::path_within(work_tree, root) || work_tree == root) continue;
      gitlinked.push_back(work_tree);
      repository_findings(files, work_tree, since, events, "git-submodule-code",
                          link +
                              " (a git repository the project's index records as a "
                              "submodule; `git status` in the project runs git there)",
                          out);
    }
  }
  // Any other repository in the work tree: git-aware shell prompts and editors (which look for
  // repositories in the project's directories) run git there, and with it its settings.
  for (const std::string& work_tree : nested_work_trees(files, root, events)) {
    if (std::find(gitlinked.begin(), gitlinked.end(), work_tree) != gitlinked.end()) continue;
    repository_findings(files, work_tree, since, events, "nested-git-code",
                        work_tree.substr(root.size() + 1) +
                            " (a git repository inside the project: a git-aware prompt or "
                            "editor that enters or scans it runs git there)",
                        out);
  }
  return out;
}

}  // namespace moat::report
