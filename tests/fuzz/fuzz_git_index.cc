// libFuzzer target: arbitrary bytes as a git index file and as a git configuration file, both
// written by the sandboxed command and read by moat after the run
// (sandboxd/report/git_submodule_findings.h). The first byte picks the object id size.
// Invariants: never more gitlinks than entries; every setting named is "section.key = value".
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "sandboxd/report/git_submodule_findings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::size_t oid_bytes = (data[0] & 1) != 0 ? 32 : 20;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (auto links = moat::report::git_index_gitlinks(bytes, oid_bytes)) {
    const std::size_t smallest_entry = 40 + oid_bytes + 2 + 1;
    MOAT_FUZZ_CHECK(links->size() <= (bytes.size() - 12) / smallest_entry + 1);
  }
  for (const std::string& setting : moat::report::git_config_commands(bytes)) {
    MOAT_FUZZ_CHECK(setting.find(" = ") != std::string::npos);
  }
  return 0;
}
