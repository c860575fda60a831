// The subcommands `moat install` lets into phase 1, per client, and the placing of the flags
// that keep package code out of it (see install_split.h).
#include "policy/install_split.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "policy/display_text.h"

namespace moat::policy {
namespace {

// Exact spellings only, each a command or an alias in the client's own table (npm 11's
// lib/utils/cmd-list.js; pnpm's and yarn's command lists). npm also takes any unambiguous
// prefix of a command or alias (`npm install-t` is install-test) and camelCase (`installTest`):
// matching spellings exactly, never prefixes, is what keeps those out.
constexpr std::array<std::string_view, 22> kNpm = {"install",
                                                   "i",
                                                   "add",
                                                   "in",
                                                   "ins",
                                                   "inst",
                                                   "insta",
                                                   "instal",
                                                   "isnt",
                                                   "isnta",
                                                   "isntal",
                                                   "isntall",
                                                   "ci",
                                                   "clean-install",
                                                   "ic",
                                                   "install-clean",
                                                   "isntall-clean",
                                                   "update",
                                                   "u",
                                                   "up",
                                                   "upgrade",
                                                   "udpate"};
// pnpm runs a project script for any word that is not one of its commands (`pnpm build`).
constexpr std::array<std::string_view, 6> kPnpm = {"install", "i",  "add",
                                                   "update",  "up", "upgrade"};
// yarn (both generations) runs a project script for an unknown word, too.
constexpr std::array<std::string_view, 2> kYarn = {"install", "add"};

template <std::size_t N>
bool listed(const std::array<std::string_view, N>& list, const std::string& word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

template <std::size_t N>
std::string spelled(const std::array<std::string_view, N>& list) {
  std::string out;
  for (std::string_view w : list) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

}  // namespace

Status check_install_subcommand(const std::string& tool, const std::vector<std::string>& command) {
  const std::string word = command.size() > 1 ? command[1] : "";
  if (tool == "yarn") {
    // A bare `yarn` installs, and so does `yarn --frozen-lockfile`. With an option first, every
    // argument must be an option: yarn classic's `--cwd DIR test` runs the script `test`.
    const bool options_only = std::all_of(command.begin() + 1, command.end(), [](const auto& a) {
      return a.size() > 1 && a.starts_with("-") && a != "--";
    });
    if (command.size() == 1 || listed(kYarn, word) || (word.starts_with("-") && options_only)) {
      return {};
    }
  } else if (tool == "npm" && listed(kNpm, word)) {
    return {};
  } else if (tool == "pnpm" && listed(kPnpm, word)) {
    return {};
  }
  const std::string list = tool == "npm"    ? spelled(kNpm)
                           : tool == "pnpm" ? spelled(kPnpm)
                                            : spelled(kYarn) + " (or no subcommand)";
  std::string hint =
      word.starts_with("-")
          ? "put the subcommand first and its options after it (" + tool + " install " +
                terminal_text(word, 80) +
                "): an option before it may take the next word as its value, so moat cannot tell "
                "which word " +
                tool + " runs"
          : "phase 1 runs with your registry tokens readable, so only an install runs there; "
            "run anything else with `moat run -p " +
                tool + " -- " + tool + " ...`, which hides the tokens";
  return make_error(ErrorCode::kInvalidArgument,
                    "'" + tool + (word.empty() ? "" : " " + terminal_text(word, 80)) +
                        "' is not an install moat can split (it takes: " + list + ")",
                    std::move(hint));
}

std::vector<std::string> with_fetch_flags(std::vector<std::string> command,
                                          const std::vector<std::string>& flags) {
  const auto dashdash = std::find(command.begin() + (command.empty() ? 0 : 1), command.end(), "--");
  command.insert(dashdash, flags.begin(), flags.end());
  return command;
}

}  // namespace moat::policy
