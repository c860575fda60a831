// Internal: one validated profile file (types checked, values not yet expanded), and the merge
// of an `extends` chain. Every entry keeps where it was written, for later diagnostics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/diagnostic_sink.h"
#include "policy/plan.h"
#include "policy/raw_node.h"

namespace moat::policy {

// A scalar as written, with its position.
struct Entry {
  std::string text;
  SourceRef at;
  int length = 1;
  int value_col = 0;  // column of text[0] in the file (after an opening quote)
};

// A limit: absent, a value, or explicitly `none` (clears an inherited value).
struct LimitEntry {
  bool present = false;
  std::optional<std::uint64_t> value;
  SourceRef at;
};

struct Profile {
  std::string file;
  std::string description;
  std::vector<Entry> extends;
  std::vector<Entry> read, write, exec, deny, protect, redact;
  std::vector<Entry> env_keep;
  std::vector<std::pair<Entry, Entry>> env_set;  // name, value; a later name replaces
  std::optional<std::pair<NetworkMode, SourceRef>> network;
  std::vector<Entry> net_allow;
  std::vector<std::pair<Entry, Entry>> net_hosts;  // name, address
  LimitEntry processes, memory, time, file_size, open_files;
  std::optional<std::pair<Tier, SourceRef>> tier;
  std::vector<Entry> unprotect;
  std::optional<Entry> learned_from;  // `learned: {command: ...}`
};

// Checks the document against the version-1 schema and reports every problem to `sink`.
// Always returns a Profile holding whatever was valid.
Profile validate_profile(const RawNode& root, const std::string& file, DiagnosticSink& sink);

// Applies `child` on top of `acc`: lists concatenate, scalars and per-key limits: child wins.
void merge_profile(Profile& acc, const Profile& child);

}  // namespace moat::policy
