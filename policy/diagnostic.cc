// Rendering of one Diagnostic: "file:line:col: error[code]: message", the source line, carets, hint.
// Carets copy the tabs of the source line so they stay under the token in any terminal.
#include "policy/diagnostic.h"

#include <algorithm>

#include "policy/display_text.h"

namespace moat::policy {

std::string format_diagnostic(const Diagnostic& d) {
  std::string out = d.file;
  if (d.line > 0) {
    out += ":" + std::to_string(d.line) + ":" + std::to_string(std::max(d.col, 1));
  }
  out += d.is_error ? ": error[" : ": warning[";
  // Values in a message come from files moat does not own (a cloned project's .npmrc, a
  // profile shipped in a repository): shown, never sent to the terminal as they are.
  out += d.code + "]: " + terminal_text(d.message, 2000);
  if (d.line > 0 && !d.source_line.empty()) {
    const std::string num = std::to_string(d.line);
    const bool plain = std::none_of(d.source_line.begin(), d.source_line.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return (u < 0x20 && c != '\t') || u == 0x7F;
    });
    // The caret lines up with a plain line; a line with control bytes is shown escaped.
    out += "\n  " + num + " | " + (plain ? d.source_line : terminal_text(d.source_line, 2000));
    out += "\n  " + std::string(num.size(), ' ') + " | ";
    const std::size_t col = static_cast<std::size_t>(std::max(d.col, 1)) - 1;
    for (std::size_t i = 0; i < col; ++i) {
      out += (i < d.source_line.size() && d.source_line[i] == '\t') ? '\t' : ' ';
    }
    out += std::string(static_cast<std::size_t>(std::clamp(d.length, 1, 200)), '^');
  }
  if (!d.hint.empty()) {
    out += "\n  hint: " + terminal_text(d.hint, 2000);
  }
  return out;
}

}  // namespace moat::policy
