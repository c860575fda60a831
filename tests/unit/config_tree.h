// A sample configuration tree for the tool resolvers' and git's unit tests: files by absolute
// path, an environment, the wrapped command, and every path the code under test asked for
// (present or not), behind the ToolConfigInput reader the compiler injects.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/result.h"
#include "policy/tool_config.h"

namespace moat::policy {

struct ConfigTree {
  std::map<std::string, std::string> files;
  std::vector<std::string> env{"PATH=/usr/bin:/bin"};
  std::vector<std::string> argv;
  std::string home = "/home/u", project = "/work/proj", cwd = "/work/proj";
  std::vector<std::string> reads;

  ToolConfigInput input() {
    ToolConfigInput in;
    in.environ = env;
    in.home = home;
    in.project = project;
    in.cwd = cwd;
    in.argv = argv;
    in.read_file = [this](const std::string& path) -> std::optional<std::string> {
      reads.push_back(path);
      auto it = files.find(path);
      if (it == files.end()) return std::nullopt;
      return it->second;
    };
    return in;
  }
};

// The tree most tests use: alice's home and project, the tool run from a subdirectory, with an
// empty environment unless a test sets one.
struct AliceTree : ConfigTree {
  AliceTree() {
    env.clear();
    home = "/home/alice";
    project = "/home/alice/proj";
    cwd = "/home/alice/proj/sub";
  }
};

// A resolver's values, failing the test (and giving none) on an error.
inline ToolValues values(Result<ToolValues> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? *r : ToolValues{};
}

}  // namespace moat::policy
