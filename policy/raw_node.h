// Internal: a YAML document as plain data with a position per node, produced by the loader.
// Validation works on this tree so that only loader.cc depends on yaml-cpp.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/diagnostic_sink.h"
#include "policy/plan.h"

namespace moat::policy {

struct RawEntry;

struct RawNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  SourceRef at;        // first character of the node (the quote of a quoted scalar)
  int length = 1;      // characters to underline
  int value_col = 0;   // column of the scalar's first content character (after a quote)
  std::string text;    // scalar value
  std::vector<RawNode> items;                          // sequence
  std::vector<RawEntry> entries;                       // map, in document order
};

struct RawEntry {
  RawNode key;
  RawNode value;
};

const char* kind_name(RawNode::Kind kind);  // "a string", "a list", "a map", "empty"

// Parses `text` as the profile file `file`. Registers the text with the sink, reports syntax
// errors (with position), duplicate keys and oversized documents. nullopt on error.
std::optional<RawNode> load_raw_text(const std::string& file, const std::string& text,
                                     DiagnosticSink& sink);

// Reads the file (at most 1 MiB) then load_raw_text. `at` is where the file was named, for the
// "cannot read" diagnostic (e.g. the `extends:` entry).
std::optional<RawNode> load_raw_file(const std::string& path, const SourceRef& at, int length,
                                     DiagnosticSink& sink);

}  // namespace moat::policy
