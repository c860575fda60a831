// Entry points of the subcommands other than run and doctor; main.cc wires them to CLI11.
#pragma once

#include <string>
#include <vector>

#include "policy/compile.h"

namespace moat::cli {

int check_main(const std::vector<std::string>& files);
int profiles_main();
int explain_main(const std::string& profile, const policy::Overrides& overrides);

}  // namespace moat::cli
