// Shared helpers for the policy unit tests: a fixed Context, the data directory, rendering of
// diagnostics with the data directory replaced by ${DATA} so golden files are machine-independent.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "policy/compile.h"

namespace moat::policy::testing {

inline std::string data_dir() { return MOAT_TEST_DATA_DIR; }
inline std::string builtin_dir() { return std::string(MOAT_SOURCE_DIR) + "/profiles"; }

inline Context test_context() {
  Context ctx;
  ctx.home = "/home/alice";
  ctx.project = "/home/alice/proj";
  ctx.cwd = "/home/alice/proj/sub";
  ctx.user = "alice";
  ctx.tmpdir = "/tmp";
  ctx.search_path = {builtin_dir()};
  return ctx;
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// Every diagnostic formatted, each followed by a newline, with the data dir as ${DATA}.
inline std::string render(const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const Diagnostic& d : diags) out += format_diagnostic(d) + "\n";
  out = replace_all(out, data_dir(), "${DATA}");
  return replace_all(out, builtin_dir(), "${BUILTIN}");
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline bool has_code(const std::vector<Diagnostic>& diags, const std::string& code) {
  for (const Diagnostic& d : diags) {
    if (d.code == code) return true;
  }
  return false;
}

}  // namespace moat::policy::testing
