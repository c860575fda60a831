// The plan cache's entry format: length-prefixed fields in a fixed order, read back with every
// length and count checked. Not JSON: parsing an 8 KB entry into a JSON document cost ~0.3 ms of
// every `moat run` (more than the rest of the lookup); this costs a few microseconds.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/compile.h"
#include "policy/plan.h"

namespace moat::cli {

struct CacheEntry {
  std::string inputs;  // the exact inputs the plan was compiled from (compared, not hashed)
  std::string stamps;  // what the plan's files looked like (encode_stamps), compared as bytes
  std::vector<std::string> diagnostics;  // formatted warnings, replayed on a hit
  policy::Plan plan;
};

std::string encode_cache_entry(const CacheEntry& entry);
// nullopt when the bytes are not a complete entry of this format version (a miss, never a guess).
std::optional<CacheEntry> decode_cache_entry(std::string_view bytes);

// One stamp: a file's identity and times, or its absence.
struct FileStamp {
  std::string path;
  bool exists = false;
  std::uint64_t dev = 0, ino = 0;
  std::int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
};
std::string encode_stamps(const std::vector<FileStamp>& stamps);

// Everything a compiled plan depends on besides files (those are stamped): the profile asked
// for, the context (environment included; of the wrapped command, its tool's option tokens) and
// the command line's overrides.
std::string encode_inputs(const std::string& name_or_path, const policy::Context& ctx,
                          const policy::Overrides& overrides);

}  // namespace moat::cli
