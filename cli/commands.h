// Entry points of the subcommands other than run and doctor; main.cc wires them to CLI11.
#pragma once

#include <string>
#include <vector>

#include "policy/compile.h"

namespace moat::cli {

int check_main(const std::vector<std::string>& files);
int profiles_main();
// `command`: the command the profile would run (may be empty): its tool's options count, as
// in `moat run`.
int explain_main(const std::string& profile, const policy::Overrides& overrides,
                 const std::vector<std::string>& command);

struct ReportOptions {
  std::string audit_file;
  std::string format = "text";  // "text" | "json"
  std::string html_out;         // also (or only) write the HTML page here
};
int report_main(const ReportOptions& options);

}  // namespace moat::cli
