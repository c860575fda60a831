// Rendering of one Diagnostic: "file:line:col: error[code]: message", the source line, carets, hint.
// Carets copy the tabs of the source line so they stay under the token in any terminal.
#include "policy/diagnostic.h"

#include <algorithm>

namespace moat::policy {

std::string format_diagnostic(const Diagnostic& d) {
  std::string out = d.file;
  if (d.line > 0) {
    out += ":" + std::to_string(d.line) + ":" + std::to_string(std::max(d.col, 1));
  }
  out += d.is_error ? ": error[" : ": warning[";
  out += d.code + "]: " + d.message;
  if (d.line > 0 && !d.source_line.empty()) {
    const std::string num = std::to_string(d.line);
    out += "\n  " + num + " | " + d.source_line;
    out += "\n  " + std::string(num.size(), ' ') + " | ";
    const std::size_t col = static_cast<std::size_t>(std::max(d.col, 1)) - 1;
    for (std::size_t i = 0; i < col; ++i) {
      out += (i < d.source_line.size() && d.source_line[i] == '\t') ? '\t' : ' ';
    }
    out += std::string(static_cast<std::size_t>(std::clamp(d.length, 1, 200)), '^');
  }
  if (!d.hint.empty()) {
    out += "\n  hint: " + d.hint;
  }
  return out;
}

}  // namespace moat::policy
