// libFuzzer target: arbitrary bytes as every configuration file the tool resolvers read (a
// project's .npmrc, .yarnrc.yml and .yarnrc are written by the project, maybe the attacker, and
// parsed in moat's own process), through every resolver. Crashes and hangs are bugs.
#include <cstddef>
#include <cstdint>
#include <string>

#include "policy/tool_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  moat::policy::ToolConfigInput in;
  in.home = "/home/fuzz";
  in.project = "/home/fuzz/proj";
  in.cwd = "/home/fuzz/proj/sub";
  in.environ = {"HOME=/home/fuzz", "REG=fuzz.test", "npm_config_@s:registry=" + text.substr(0, 64)};
  in.read_file = [&](const std::string& path) -> std::optional<std::string> {
    if (path.find("/home/fuzz/") != 0) return std::nullopt;
    return text;
  };
  std::size_t total = 0;
  for (std::string_view name : moat::policy::tool_variable_names()) {
    auto values = moat::policy::find_tool_resolver(name)(in);
    if (values) {
      for (const std::string& v : *values) total += v.size();
    } else {
      total += values.error().message.size();
    }
  }
  return total == static_cast<std::size_t>(-1) ? 1 : 0;
}
