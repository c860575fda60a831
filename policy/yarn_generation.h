// Which yarn a command runs, classic (1.x) or berry (2+), told from files alone: the two skip
// and run install scripts differently, so `moat install -p yarn` must know before it starts.
#pragma once

#include <string>

#include "policy/tool_config.h"

namespace moat::policy {

enum class YarnGeneration { kClassic, kBerry };

struct YarnDetection {
  YarnGeneration generation = YarnGeneration::kClassic;
  std::string why;  // the file and setting that decided, for the user
};

// yarn's own order: a `yarnPath` in a .yarnrc.yml (from the working directory up; classic 1.22
// hands over to it too), else the nearest package.json's "packageManager": "yarn@N" (corepack),
// else the version in the package.json of the yarn package that `binary` (the command, symlinks
// resolved by the caller) belongs to. Nothing found: classic, which is what corepack runs
// without a packageManager field (and berry refuses classic's --ignore-scripts: nothing runs).
YarnDetection detect_yarn_generation(const ToolConfigInput& in, const std::string& binary);

}  // namespace moat::policy
