#!/usr/bin/env bash
# Runs bench/startup from a scratch project directory. Usage: bench/startup.sh [ROUNDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build=${MOAT_BUILD_DIR:-$root/build}
ninja -C "$build" moat bench_startup >/dev/null
project=$(mktemp -d /tmp/moat-bench-XXXXXX)
trap 'rm -rf "$project"' EXIT
cd "$project"
"$build/bench/bench_startup" "$build/cli/moat" "${1:-200}"
