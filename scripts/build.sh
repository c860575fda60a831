#!/usr/bin/env bash
# Configures and builds moat into build/ (or $MOAT_BUILD_DIR). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MOAT_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${MOAT_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
ninja -C "$build"
