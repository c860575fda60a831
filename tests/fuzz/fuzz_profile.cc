// libFuzzer target: arbitrary bytes as a profile file, through load, validate and compile.
// Every diagnostic is also formatted, so rendering is fuzzed too. Crashes and hangs are bugs.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "policy/compile.h"

namespace {

std::string profile_path() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr ? tmp : "/tmp") + "/moat-fuzz-" +
           std::to_string(getpid()) + ".yaml";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = profile_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  moat::policy::Context ctx;
  ctx.home = "/home/fuzz";
  ctx.project = "/home/fuzz/proj";
  ctx.cwd = "/home/fuzz/proj";
  ctx.user = "fuzz";
  ctx.environ = {"PATH=/usr/bin", "LANG=C", "NPM_TOKEN=x", "LC_ALL=C", "GITHUB_TOKEN=y"};
  ctx.search_path = {MOAT_BUILTIN_PROFILES_DIR};  // `extends: base` works
  moat::policy::CompileOutput out = moat::policy::check_profile_file(path, ctx);
  std::size_t total = 0;
  for (const moat::policy::Diagnostic& d : out.diagnostics) {
    total += moat::policy::format_diagnostic(d).size();
  }
  if (out.plan.has_value() && out.plan->env.empty()) __builtin_trap();  // HOME is always set
  return total == static_cast<std::size_t>(-1) ? 1 : 0;
}
