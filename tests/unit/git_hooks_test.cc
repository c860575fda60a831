// git_hook_paths on sample repositories: core.hooksPath (relative, ~, absolute, husky's .husky/_),
// [include] and [includeIf] files inside the project, git's quoting and continuation lines,
// linked work trees, the user's and system's configuration, and hook runners' command files.
// Everything outside the project is left to the other layers (it is not writable anyway).
#include "policy/git_hooks.h"

#include <gtest/gtest.h>

#include <map>

#include "config_tree.h"

namespace moat::policy {
namespace {

struct Repo : ConfigTree {
  GitHookPaths paths() { return git_hook_paths(input()); }
};

using Paths = std::vector<std::string>;

TEST(GitHooks, NothingConfiguredAddsNothing) {
  Repo r;
  r.files["/work/proj/.git/config"] = "[core]\n\tbare = false\n";
  GitHookPaths p = r.paths();
  EXPECT_TRUE(p.hook_dirs.empty());
  EXPECT_TRUE(p.config_files.empty());
  EXPECT_TRUE(p.runner_files.empty());
}

// config.worktree is configuration once extensions.worktreeConfig is on (even before it
// exists: git would read one made later); without the extension git ignores it.
TEST(GitHooks, WorktreeConfigOnlyWithTheExtension) {
  Repo off;
  off.files["/work/proj/.git/config"] = "[core]\n\tbare = false\n";
  EXPECT_TRUE(off.paths().config_files.empty());
  Repo on;
  on.files["/work/proj/.git/config"] = "[extensions]\n\tworktreeConfig = true\n";
  EXPECT_EQ(on.paths().config_files, (Paths{"/work/proj/.git/config.worktree"}));
}

TEST(GitHooks, HuskyHooksPathProtectsTheShimsAndTheScriptsAboveThem) {
  Repo r;
  r.files["/work/proj/.git/config"] = "[core]\n\trepositoryformatversion = 0\n\thooksPath = .husky/_\n";
  EXPECT_EQ(r.paths().hook_dirs, (Paths{"/work/proj/.husky/_", "/work/proj/.husky"}));
}

TEST(GitHooks, SectionAndKeyNamesAreCaseInsensitiveAndValuesMayBeQuoted) {
  Repo r;
  r.files["/work/proj/.git/config"] =
      "# comment\n[CORE] HOOKSPATH = \"tools/git hooks\" ; trailing comment\n";
  EXPECT_EQ(r.paths().hook_dirs, (Paths{"/work/proj/tools/git hooks"}));
}

TEST(GitHooks, ContinuationLinesAndEscapes) {
  Repo r;
  r.files["/work/proj/.git/config"] = "[core]\n\thooksPath = scripts/\\\nhooks\n";
  EXPECT_EQ(r.paths().hook_dirs, (Paths{"/work/proj/scripts/hooks"}));
}

TEST(GitHooks, HooksPathOutsideTheProjectIsNotOurs) {
  Repo r;
  r.files["/work/proj/.git/config"] = "[core]\n\thooksPath = ~/.githooks\n[core]\nhooksPath=/etc/hooks\n";
  EXPECT_TRUE(r.paths().hook_dirs.empty());
}

TEST(GitHooks, AGlobalRelativeHooksPathIsRelativeToTheWorkTree) {
  Repo r;
  r.files["/work/proj/.git/config"] = "";
  r.files["/home/u/.gitconfig"] = "[core]\n\thooksPath = .githooks\n";
  EXPECT_EQ(r.paths().hook_dirs, (Paths{"/work/proj/.githooks"}));
  Repo xdg;
  xdg.env.push_back("XDG_CONFIG_HOME=/home/u/cfg");
  xdg.files["/home/u/cfg/git/config"] = "[core]\nhooksPath = hooks\n";
  EXPECT_EQ(xdg.paths().hook_dirs, (Paths{"/work/proj/hooks"}));
  Repo system;
  system.env.push_back("GIT_CONFIG_SYSTEM=/opt/gitconfig");
  system.files["/opt/gitconfig"] = "[core]\nhooksPath = sys-hooks\n";
  EXPECT_EQ(system.paths().hook_dirs, (Paths{"/work/proj/sys-hooks"}));
  system.env.push_back("GIT_CONFIG_NOSYSTEM=1");
  EXPECT_TRUE(system.paths().hook_dirs.empty());
}

TEST(GitHooks, IncludedFilesInTheProjectAreConfigurationAndAreFollowed) {
  Repo r;
  r.files["/work/proj/.git/config"] =
      "[include]\n\tpath = ../.gitconfig\n[includeIf \"gitdir:/work/\"]\n\tpath = "
      "/work/proj/ci/git.cfg\n[include]\npath = ~/.gitconfig-extra\n";
  r.files["/work/proj/.gitconfig"] = "[include]\n\tpath = more.cfg\n";  // relative to its dir
  r.files["/work/proj/more.cfg"] = "[core]\n\thooksPath = .hooks\n";
  GitHookPaths p = r.paths();
  EXPECT_EQ(p.config_files,
            (Paths{"/work/proj/.gitconfig", "/work/proj/more.cfg", "/work/proj/ci/git.cfg"}));
  EXPECT_EQ(p.hook_dirs, (Paths{"/work/proj/.hooks"}));
}

TEST(GitHooks, IncludeCyclesStopAtGitsDepthLimit) {
  Repo r;
  r.files["/work/proj/.git/config"] = "[include]\npath = ../a.cfg\n";
  r.files["/work/proj/a.cfg"] = "[include]\npath = b.cfg\n";
  r.files["/work/proj/b.cfg"] = "[include]\npath = a.cfg\n";
  GitHookPaths p = r.paths();
  EXPECT_EQ(p.config_files, (Paths{"/work/proj/a.cfg", "/work/proj/b.cfg"}));
  EXPECT_LT(r.reads.size(), 60u);
}

TEST(GitHooks, LinkedWorkTreeReadsTheCommonConfigAndItsOwn) {
  Repo r;
  r.files["/work/proj/.git"] = "gitdir: /work/main/.git/worktrees/proj\n";
  r.files["/work/main/.git/worktrees/proj/commondir"] = "../..\n";
  r.files["/work/main/.git/config"] = "[core]\n\thooksPath = .husky\n";
  r.files["/work/main/.git/worktrees/proj/config.worktree"] = "[include]\npath = /work/proj/wt.cfg\n";
  GitHookPaths p = r.paths();
  EXPECT_EQ(p.hook_dirs, (Paths{"/work/proj/.husky"}));
  EXPECT_EQ(p.config_files, (Paths{"/work/proj/wt.cfg"}));
}

TEST(GitHooks, HookRunnerFilesAreProtectedWhenPresent) {
  Repo r;
  r.files["/work/proj/.pre-commit-config.yaml"] = "repos: []\n";
  Paths p = r.paths().runner_files;
  EXPECT_EQ(p, (Paths{"/work/proj/.pre-commit-config.yaml"}));
}

// lefthook merges lefthook-local.* (and .lefthook-local.*) over its configuration: once a
// project uses lefthook, every name it reads in that place is protected, existing or not.
TEST(GitHooks, LefthookLocalFilesAreProtectedBeforeTheyExist) {
  Repo r;
  r.files["/work/proj/lefthook.yml"] = "pre-commit:\n";
  Paths p = r.paths().runner_files;
  for (const char* name : {"lefthook.yml", "lefthook-local.yml", ".lefthook-local.yaml",
                           "lefthook-local.jsonc", ".lefthook-local.toml", "lefthook.json"}) {
    EXPECT_NE(std::find(p.begin(), p.end(), std::string("/work/proj/") + name), p.end()) << name;
  }
  // Not the .config/ ones: a placeholder for a missing .config/ would take it from other tools.
  for (const std::string& path : p) EXPECT_EQ(path.find("/.config/"), std::string::npos) << path;
  Repo in_config;
  in_config.files["/work/proj/.config/lefthook.yaml"] = "pre-commit:\n";
  p = in_config.paths().runner_files;
  EXPECT_NE(std::find(p.begin(), p.end(), "/work/proj/.config/lefthook-local.yml"), p.end());
}

// A submodule's own config (.git/modules/NAME/config) holds a CI checkout's token too; names
// come from .gitmodules (the project's, then a submodule's own), and a name git refuses (one
// with a ".." component could point anywhere) is never followed.
TEST(GitHooks, SubmoduleConfigsFromGitmodules) {
  Repo r;
  r.files["/work/proj/.gitmodules"] =
      "[submodule \"lib\"]\n\tpath = vendor/lib\n[submodule \"a/b\"]\n\tpath = ab\n"
      "[submodule \"../../../../home/u/.aws\"]\n\tpath = x\n[submodule \"/etc\"]\n\tpath = y\n"
      "[submodule \"c/../../d\"]\n\tpath = z\n";
  r.files["/work/proj/vendor/lib/.gitmodules"] =
      "[submodule \"inner\"]\n\tpath = deps/inner\n[submodule \"..\"]\n\tpath = w\n";
  EXPECT_EQ(submodule_configs(r.input()),
            (Paths{"/work/proj/.git/modules/a/b/config", "/work/proj/.git/modules/lib/config",
                   "/work/proj/.git/modules/lib/modules/inner/config"}));
}

TEST(GitHooks, ABrokenFileIsReadAsFarAsItGoes) {
  Repo r;
  r.files["/work/proj/.git/config"] = "[core]\n\thooksPath = first\n[unterminated\nhooksPath = x\n";
  EXPECT_EQ(r.paths().hook_dirs, (Paths{"/work/proj/first"}));
}

}  // namespace
}  // namespace moat::policy
