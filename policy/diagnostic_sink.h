// Internal: collects diagnostics in discovery order and fills in the source line of each one.
// Every stage (loader, validation, compile) reports through one sink so all errors are collected.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policy/diagnostic.h"
#include "policy/plan.h"

namespace moat::policy {

class DiagnosticSink {
 public:
  // Registers the text of a file so diagnostics pointing into it can quote the line.
  void add_source(const std::string& file, std::string_view text);
  void error(const SourceRef& at, int length, std::string code, std::string message,
             std::string hint = {});
  void warning(const SourceRef& at, int length, std::string code, std::string message,
               std::string hint = {});
  bool has_errors() const { return errors_ > 0; }
  std::size_t error_count() const { return errors_; }
  const std::vector<Diagnostic>& diagnostics() const { return diags_; }
  std::vector<Diagnostic> take() { return std::move(diags_); }

 private:
  void add(const SourceRef& at, int length, bool is_error, std::string code, std::string message,
           std::string hint);
  std::map<std::string, std::vector<std::string>> lines_;
  std::vector<Diagnostic> diags_;
  std::size_t errors_ = 0;
};

}  // namespace moat::policy
