// How `moat install` splits a client's command: which subcommands it accepts for phase 1 (run
// with the registry tokens readable) and where the flags that keep package code out go.
#pragma once

#include <string>
#include <vector>

#include "policy/result.h"

namespace moat::policy {

// OK when `command` (command[0] is the client, `tool` its name: npm, pnpm or yarn) is one of
// the client's install-like subcommands, spelled exactly as the client names it, and first:
// phase 1 runs it with the tokens readable, so `npm test`, `npm install-test`, `npm run x`,
// `pnpm exec`, or a project script pnpm and yarn run by name must never get there. Else a
// kInvalidArgument error that names the subcommand and says what to use instead.
Status check_install_subcommand(const std::string& tool, const std::vector<std::string>& command);

// `command` with `flags` where the client reads them as its own options and after the user's:
// before a bare `--` (after it they would be package names, and the user's scripts would run),
// else at the end, so they win over an earlier `--no-ignore-scripts` as the client's last-wins
// parsers read it.
std::vector<std::string> with_fetch_flags(std::vector<std::string> command,
                                          const std::vector<std::string>& flags);

}  // namespace moat::policy
