// Internal: a repository's .git/config as the sandbox sees it, without the credentials CI
// checkouts and developers leave there: actions/checkout persists the job's token as
// `http.<url>.extraheader = AUTHORIZATION: basic ...`, and remotes and `url.<base>.insteadOf`
// rewrites often carry `https://user:token@host`. A build step under moat must not read them.
#pragma once

#include <string>
#include <string_view>

namespace moat::policy {

// TEXT with every credential removed: lines setting `extraheader` and keys naming a password,
// token, secret or cookie are dropped (with their continuation lines), and the user information
// of every URL (`scheme://user:pass@host`) is cut, in values and in section names. Everything
// else is kept byte for byte, so git reads the same configuration otherwise.
std::string redact_git_config(std::string_view text);

}  // namespace moat::policy
