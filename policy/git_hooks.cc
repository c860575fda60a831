// Where git's configuration moves the hooks, read the way git reads it (config.c: sections,
// quoting, continuation lines, [include]/[includeIf], interpolated paths); see git_hooks.h.
#include "policy/git_hooks.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string_view>

#include "policy/git_config.h"
#include "policy/tools/common.h"
#include "policy/variables.h"

namespace moat::policy {
namespace {

constexpr int kMaxIncludeDepth = 10;  // git's own limit

// Hook runners started from .git/hooks whose commands live in a tracked file of the work tree.
// Protected only when present: a runner that is installed has its file, and a placeholder for
// every name would make every project carry them.
constexpr std::string_view kLefthookExtensions[] = {"yml", "yaml", "json", "jsonc", "toml"};

constexpr std::string_view kRunnerFiles[] = {
    ".pre-commit-config.yaml", ".pre-commit-config.yml",  // pre-commit
    ".lintstagedrc",           ".lintstagedrc.json",     ".lintstagedrc.yaml",
    ".lintstagedrc.yml",       ".lintstagedrc.js",       ".lintstagedrc.cjs",
    ".lintstagedrc.mjs",       "lint-staged.config.js",  "lint-staged.config.cjs",
    "lint-staged.config.mjs",  // lint-staged, run from hooks
};

class Reader {
 public:
  explicit Reader(const ToolConfigInput& in) : in_(in) {}

  // `file`'s settings and those of the files it includes, in git's order.
  void read(const std::string& file, int depth) {
    if (depth > kMaxIncludeDepth) return;
    std::optional<std::string> text = in_.read_file(file);
    if (!text) return;
    const std::string dir = file.substr(0, file.rfind('/') + 1);
    for (GitSetting& s : parse_git_config(*text)) {
      const bool include = s.section == "include" || s.section.starts_with("includeif.");
      if (include && s.key == "path") {
        // Conditions (gitdir:, onbranch:, hasconfig:) are taken as true: a file that might be
        // included is protected all the same.
        std::optional<std::string> path = interpolate(s.value, dir);
        if (!path) continue;
        included_.push_back(*path);
        read(*path, depth + 1);
      } else if (s.section == "core" && s.key == "hookspath") {
        hooks_paths_.push_back(s.value);
      } else if (s.section == "extensions" && s.key == "worktreeconfig") {
        const std::string v = tools::lower(s.value);
        worktree_config_ = v == "true" || v == "yes" || v == "on" || v == "1";
      }
    }
  }

  // git's interpolate_path, relative to `dir` for an include; nullopt for `~user/` and
  // `%(prefix)/`, which name places outside any project.
  std::optional<std::string> interpolate(const std::string& value, const std::string& dir) const {
    if (value.empty()) return std::nullopt;
    if (value == "~" || value.starts_with("~/")) return normalize_path(in_.home + value.substr(1));
    if (value[0] == '~' || value.starts_with("%(prefix)/")) return std::nullopt;
    if (value[0] == '/') return normalize_path(value);
    if (dir.empty()) return std::nullopt;
    return normalize_path(dir + value);
  }

  std::vector<std::string> included_;
  std::vector<std::string> hooks_paths_;
  bool worktree_config_ = false;  // extensions.worktreeConfig: config.worktree is read too

 private:
  const ToolConfigInput& in_;
};

// The repository's own configuration files, when the project is a work tree's root: .git/config,
// or for a linked work tree (.git is a file) the common directory's config and its own
// config.worktree.
std::vector<std::string> repository_configs(const ToolConfigInput& in) {
  const std::string git = normalize_path(in.project + "/.git");
  if (std::optional<std::string> pointer = in.read_file(git)) {
    if (!pointer->starts_with("gitdir:")) return {};
    std::string gitdir = tools::trim(std::string_view(*pointer).substr(7));
    if (gitdir.empty()) return {};
    if (gitdir[0] != '/') gitdir = in.project + "/" + gitdir;
    gitdir = normalize_path(gitdir);
    std::string common = gitdir;
    if (std::optional<std::string> c = in.read_file(gitdir + "/commondir")) {
      std::string rel = tools::trim(*c);
      if (!rel.empty()) common = normalize_path(rel[0] == '/' ? rel : gitdir + "/" + rel);
    }
    return {common + "/config", gitdir + "/config.worktree"};
  }
  return {git + "/config", git + "/config.worktree"};
}

void add_inside(std::vector<std::string>& out, const std::string& path, const std::string& project) {
  if (path.empty() || path == project || !path_within(path, project)) return;
  for (const std::string& p : out) {
    if (p == path) return;
  }
  out.push_back(path);
}

}  // namespace

namespace {

// (name, path) of each submodule a .gitmodules names, with names git accepts.
std::vector<std::pair<std::string, std::string>> submodules_of(const std::string& gitmodules,
                                                               const ToolConfigInput& in) {
  std::vector<std::pair<std::string, std::string>> out;
  std::optional<std::string> text = in.read_file(gitmodules);
  if (!text) return out;
  std::map<std::string, std::string> paths;
  for (const GitSetting& s : parse_git_config(*text)) {
    if (!s.section.starts_with("submodule.")) continue;
    std::string name = s.section.substr(10);
    bool acceptable = !name.empty() && name.front() != '/';
    for (std::size_t from = 0; acceptable && from <= name.size();) {
      std::size_t slash = std::min(name.find('/', from), name.size());
      std::string_view part = std::string_view(name).substr(from, slash - from);
      acceptable = !part.empty() && part != "." && part != "..";
      from = slash + 1;
    }
    if (!acceptable) continue;
    if (s.key == "path")
      paths[name] = s.value;
    else
      paths.try_emplace(name, "");
  }
  for (auto& [name, path] : paths) out.emplace_back(name, path);
  return out;
}

}  // namespace

std::vector<std::string> submodule_configs(const ToolConfigInput& in) {
  std::vector<std::string> out;
  const std::string project = normalize_path(in.project);
  const std::string modules = project + "/.git/modules";
  for (const auto& [name, path] : submodules_of(project + "/.gitmodules", in)) {
    const std::string gitdir = normalize_path(modules + "/" + name);
    if (!path_within(gitdir, modules)) continue;
    add_inside(out, gitdir + "/config", project);
    if (path.empty()) continue;
    const std::string worktree = normalize_path(project + "/" + path);
    if (!path_within(worktree, project) || worktree == project) continue;
    for (const auto& [inner, unused] : submodules_of(worktree + "/.gitmodules", in)) {
      const std::string inner_gitdir = normalize_path(gitdir + "/modules/" + inner);
      if (path_within(inner_gitdir, gitdir)) add_inside(out, inner_gitdir + "/config", project);
    }
  }
  return out;
}

GitHookPaths git_hook_paths(const ToolConfigInput& in) {
  GitHookPaths out;
  const std::string project = normalize_path(in.project);
  Reader reader(in);
  // git's order: system, global (XDG, then ~/.gitconfig), local, worktree. Every file counts
  // (a later value of core.hooksPath replaces an earlier one, but each is protected).
  if (!tools::env_value(in, "GIT_CONFIG_NOSYSTEM")) {
    reader.read(tools::env_value(in, "GIT_CONFIG_SYSTEM").value_or("/etc/gitconfig"), 0);
  }
  if (std::optional<std::string> global = tools::env_value(in, "GIT_CONFIG_GLOBAL")) {
    if (!global->empty()) reader.read(normalize_path(*global), 0);
  } else {
    std::string xdg = tools::env_value(in, "XDG_CONFIG_HOME").value_or("");
    if (xdg.empty() || xdg[0] != '/') xdg = in.home + "/.config";
    reader.read(normalize_path(xdg + "/git/config"), 0);
    reader.read(normalize_path(in.home + "/.gitconfig"), 0);
  }
  const std::vector<std::string> repository = repository_configs(in);
  for (const std::string& file : repository) reader.read(file, 0);

  for (const std::string& file : reader.included_) add_inside(out.config_files, file, project);
  // Only with the extension on does git read config.worktree (and only the protected config can
  // turn it on); then it is configuration like the rest, even before it exists.
  if (reader.worktree_config_ && repository.size() == 2) {
    add_inside(out.config_files, repository[1], project);
  }
  for (const std::string& value : reader.hooks_paths_) {
    // Relative to the work tree's root, where git runs hooks.
    std::optional<std::string> dir = reader.interpolate(value, project + "/");
    if (!dir) continue;
    add_inside(out.hook_dirs, *dir, project);
    // husky (v9) points core.hooksPath at .husky/_, whose generated scripts run the developer's
    // hooks one level up (.husky/pre-commit): those are the hooks that matter.
    if (dir->ends_with("/_")) add_inside(out.hook_dirs, dir->substr(0, dir->size() - 2), project);
  }
  for (std::string_view name : kRunnerFiles) {
    const std::string path = project + "/" + std::string(name);
    if (in.read_file(path)) add_inside(out.runner_files, path, project);
  }
  // lefthook merges a -local file over its configuration: in a project that uses lefthook,
  // every name it reads there is protected, the ones that do not exist yet too (placeholders).
  // Its configuration lives in the project's root or in .config/ (only that place's names: a
  // placeholder for a missing .config/ would take the directory from other tools).
  for (std::string_view dir : {"", ".config/"}) {
    std::vector<std::string> names;
    for (std::string_view dot : {"", "."}) {
      if (!dir.empty() && !dot.empty()) continue;  // .config/ holds only the plain names
      for (std::string_view ext : kLefthookExtensions) {
        for (std::string_view local : {"", "-local"}) {
          names.push_back(project + "/" + std::string(dir) + std::string(dot) + "lefthook" +
                          std::string(local) + "." + std::string(ext));
        }
      }
    }
    if (std::any_of(names.begin(), names.end(),
                    [&](const std::string& path) { return in.read_file(path).has_value(); })) {
      for (const std::string& path : names) add_inside(out.runner_files, path, project);
    }
  }
  return out;
}

}  // namespace moat::policy
