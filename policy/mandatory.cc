// Internal: the list of mandatory protections. Persistence points (shell start-up files, autostart,
// git hooks/config, editor tasks) stay read-only; credential stores are masked entirely.
// A trailing "/" marks a directory (the launcher creates the right kind of placeholder).
#include "policy/mandatory.h"

namespace moat::policy {

const std::vector<MandatoryGroup>& mandatory_groups() {
  static const std::vector<MandatoryGroup> groups = {
      {"shell-rc",
       false,
       "shell start-up files (run by the next interactive shell)",
       {"${HOME}/.bashrc", "${HOME}/.bash_profile", "${HOME}/.bash_login", "${HOME}/.bash_logout",
        "${HOME}/.profile", "${HOME}/.zshrc", "${HOME}/.zshenv", "${HOME}/.zprofile",
        "${HOME}/.zlogin", "${HOME}/.zlogout", "${HOME}/.config/fish/", "${HOME}/.inputrc",
        "${HOME}/.config/environment.d/", "${HOME}/.pam_environment"}},
      {"autostart",
       false,
       "programs started at login (desktop autostart, systemd user units)",
       {"${HOME}/.config/autostart/", "${HOME}/.config/systemd/user/",
        "${HOME}/.local/share/systemd/user/", "${HOME}/.xprofile", "${HOME}/.xsession",
        "${HOME}/.xsessionrc", "${HOME}/.xinitrc"}},
      // A submodule's git directory (.git/modules/NAME, nested ones under its own modules/) has
      // hooks and a config of its own, which git obeys in the submodule (`git submodule
      // update`, and `git status` in the project runs git in each populated submodule).
      {"git-hooks",
       false,
       "the project's git hooks (run by the next git command)",
       {"${PROJECT}/.git/hooks/", "${PROJECT}/.git/modules/*/hooks/",
        "${PROJECT}/.git/modules/*/modules/*/hooks/"}},
      {"git-config",
       false,
       "the project's git configuration (can name programs git runs)",
       // commondir would redirect git to a config and hooks elsewhere in the project. (The
       // project's config.worktree, read once extensions.worktreeConfig is on, is added by
       // git_hooks.cc when it is; a submodule's is protected where it exists.)
       {"${PROJECT}/.git/config", "${PROJECT}/.git/commondir", "${PROJECT}/.git/modules/*/config",
        "${PROJECT}/.git/modules/*/config.worktree", "${PROJECT}/.git/modules/*/modules/*/config"}},
      {"moat-state",
       false,
       "moat's own profiles and plan cache (would weaken later runs)",
       {"${HOME}/.config/moat/", "${HOME}/.cache/moat/"}},
      {"editor-tasks",
       false,
       "editor task files that run commands when the project is opened",
       {"${PROJECT}/.vscode/tasks.json", "${PROJECT}/.vscode/launch.json"}},
      {"secret-stores",
       true,
       "credential stores (keys, tokens, cloud logins)",
       {"${HOME}/.ssh/", "${HOME}/.aws/", "${HOME}/.gnupg/", "${HOME}/.config/gh/",
        "${HOME}/.config/hub/", "${HOME}/.npmrc", "${HOME}/.pypirc", "${HOME}/.netrc",
        "${HOME}/.git-credentials", "${HOME}/.docker/config.json", "${HOME}/.kube/",
        "${HOME}/.config/gcloud/", "${HOME}/.azure/", "${HOME}/.cargo/credentials.toml",
        "${HOME}/.cargo/credentials", "${HOME}/.gem/credentials", "${HOME}/.local/share/keyrings/",
        "${HOME}/.password-store/"}},
      // Kept apart from secret-stores, which the fetch phase of `moat install` lifts to read
      // ~/.npmrc (re-masking that list's other members): none of these is ever lifted.
      {"service-credentials",
       true,
       "more credential files (git's XDG store, databases, vaults, cloud and sync tools)",
       {"${HOME}/.config/git/credentials", "${HOME}/.pgpass", "${HOME}/.vault-token",
        "${HOME}/.terraform.d/credentials.tfrc.json", "${HOME}/.config/op/",
        "${HOME}/.pulumi/credentials.json", "${HOME}/.s3cfg", "${HOME}/.boto",
        "${HOME}/.m2/settings-security.xml", "${HOME}/.config/rclone/"}},
      // Commands typed with a token in them (`export GITHUB_TOKEN=...`, `mysql -pSECRET`).
      {"shell-history",
       true,
       "shell and interpreter histories (commands typed with tokens in them)",
       {"${HOME}/.bash_history", "${HOME}/.zsh_history", "${HOME}/.python_history",
        "${HOME}/.psql_history", "${HOME}/.mysql_history", "${HOME}/.node_repl_history",
        "${HOME}/.local/share/fish/fish_history"}},
      {"browser-profiles",
       true,
       "web browsers' profiles (session cookies, saved passwords)",
       {"${HOME}/.mozilla/", "${HOME}/.config/google-chrome/", "${HOME}/.config/chromium/",
        "${HOME}/.config/BraveSoftware/", "${HOME}/.config/microsoft-edge/", "${HOME}/.var/app/"}},
      // Each agent's own sign-in: its profile lifts its own (`unprotect`), no other does.
      {"codex-sign-in", true, "Codex's sign-in (an OpenAI token)", {"${HOME}/.codex/auth.json"}},
      {"claude-sign-in",
       true,
       "Claude Code's sign-in (an Anthropic token)",
       {"${HOME}/.claude/.credentials.json"}},
  };
  return groups;
}

std::string_view placeholder_content(std::string_view path) {
  // An empty commondir makes git die; "." names the git dir itself, which is what its absence
  // means.
  if (path.ends_with("/.git/commondir")) return ".\n";
  if (path.ends_with(".json")) return "{}\n";
  return {};
}

std::vector<std::string> mandatory_group_names() {
  std::vector<std::string> names;
  for (const MandatoryGroup& g : mandatory_groups()) names.emplace_back(g.name);
  return names;
}

}  // namespace moat::policy
