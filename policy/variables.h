// Internal: ${VAR} expansion, the leading `~`, and lexical path normalisation.
// Pure string work: symlinks are never resolved here (the launcher does that).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace moat::policy {

using Variables = std::map<std::string, std::string, std::less<>>;

struct Expansion {
  bool ok = true;
  std::string value;
  // On error: where in the input the problem starts, how long it is, and what it is.
  std::size_t error_offset = 0;
  std::size_t error_length = 1;
  std::string code;  // "unknown-variable" or "bad-variable"
  std::string message;
  std::string hint;
};

// Expands ${NAME} from `vars`; "$$" is a literal '$'. With `tilde`, a leading "~" or "~/" means
// ${HOME}.
Expansion expand_variables(std::string_view text, const Variables& vars, bool tilde);

// Collapses "//", "." and ".." lexically; the result of an absolute path is absolute and has no
// trailing slash (except "/"). ".." above the root stays at the root.
std::string normalize_path(std::string_view path);

// True if `path` is `dir` or inside it (both normalised).
bool path_within(std::string_view path, std::string_view dir);

}  // namespace moat::policy
