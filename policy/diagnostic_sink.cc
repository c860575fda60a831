// Internal: the diagnostic collector. Keeps each registered file split into lines so that a
// diagnostic can quote its line; a hard cap keeps a hostile profile from producing millions.
#include "policy/diagnostic_sink.h"
#include "policy/text_lines.h"

namespace moat::policy {

namespace {
constexpr std::size_t kMaxDiagnostics = 200;
}

void DiagnosticSink::add_source(const std::string& file, std::string_view text) {
  std::vector<std::string> lines;
  for (std::string_view line : split_lines(text)) lines.emplace_back(line);
  lines_[file] = std::move(lines);
}

void DiagnosticSink::error(const SourceRef& at, int length, std::string code, std::string message,
                           std::string hint) {
  add(at, length, true, std::move(code), std::move(message), std::move(hint));
}

void DiagnosticSink::warning(const SourceRef& at, int length, std::string code,
                             std::string message, std::string hint) {
  add(at, length, false, std::move(code), std::move(message), std::move(hint));
}

void DiagnosticSink::add(const SourceRef& at, int length, bool is_error, std::string code,
                         std::string message, std::string hint) {
  if (is_error) ++errors_;
  if (diags_.size() >= kMaxDiagnostics) return;  // counted, not stored
  Diagnostic d;
  d.file = at.file;
  d.line = at.line;
  d.col = at.col;
  d.length = length < 1 ? 1 : length;
  d.is_error = is_error;
  d.code = std::move(code);
  d.message = std::move(message);
  d.hint = std::move(hint);
  auto it = lines_.find(at.file);
  if (it != lines_.end() && at.line >= 1 &&
      static_cast<std::size_t>(at.line) <= it->second.size()) {
    d.source_line = it->second[static_cast<std::size_t>(at.line) - 1];
  }
  diags_.push_back(std::move(d));
}

}  // namespace moat::policy
