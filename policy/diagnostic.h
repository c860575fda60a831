// Diagnostics for people: a position in a profile file, a stable code, a message and a hint.
// Policy code never prints; it returns these and the CLI renders them with format_diagnostic().
#pragma once

#include <string>

namespace moat::policy {

struct Diagnostic {
  std::string file;  // profile file, "command line", or "context"
  int line = 0;      // 1-based; 0 when the problem has no position in a file
  int col = 0;       // 1-based
  int length = 1;    // token length, for the carets
  bool is_error = true;
  std::string code;  // stable: "unknown-key", "wrong-type", ... (see docs/profiles.md)
  std::string message;
  std::string source_line;  // the text of `line`, without its newline
  std::string hint;         // may be empty
};

// "profiles/npm.yaml:12:5: error[unknown-key]: 'wirte' is not a filesystem key (did you mean
// 'write'?)\n  12 |     wirte: [...]\n     |     ^^^^^\n  hint: ..."
// No trailing newline. Without a position only the first line (and the hint) is rendered.
std::string format_diagnostic(const Diagnostic& d);

}  // namespace moat::policy
