// `moat profiles`: the profiles on the search path, in the order names are resolved.
#include <cstdio>

#include "cli/commands.h"
#include "cli/context.h"

namespace moat::cli {

int profiles_main() {
  policy::Context ctx = gather_context();
  std::printf("Search path (later directories override earlier ones):\n");
  for (const std::string& dir : ctx.search_path) std::printf("  %s\n", dir.c_str());
  std::printf("\n");
  for (const policy::ProfileInfo& p : policy::list_profiles(ctx.search_path)) {
    std::printf("%-14s %s%s\n  %s\n", p.name.c_str(), p.description.c_str(),
                p.shadowed ? "  (shadowed by a later directory)" : "", p.path.c_str());
  }
  return 0;
}

}  // namespace moat::cli
