// `moat check FILE...`: validates profiles; prints every diagnostic; exit 0 only if all are clean.
#include "cli/commands.h"

#include <cstdio>

#include "cli/context.h"
#include "cli/run.h"

namespace moat::cli {

int check_main(const std::vector<std::string>& files) {
  policy::Context ctx = gather_context();
  int bad = 0;
  for (const std::string& file : files) {
    policy::CompileOutput out = policy::check_profile_file(file, ctx);
    bool error = print_diagnostics(out.diagnostics) || !out.plan;
    if (error) ++bad;
    std::printf("%s: %s\n", file.c_str(), error ? "errors" : "ok");
  }
  return bad == 0 ? 0 : 125;
}

}  // namespace moat::cli
