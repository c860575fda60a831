#!/usr/bin/env bash
# Builds and runs every libFuzzer target for a bounded time on its seed corpus.
# Usage: run.sh BUILD_DIR SECONDS (BUILD_DIR configured with -DMOAT_FUZZ=ON).
# A crash, leak or timeout fails the run; the reproducer stays in the build dir.
# The target list is here only, so a target added to tests/fuzz/CMakeLists.txt is built and run
# from one place.
set -euo pipefail
build=$1
seconds=${2:-60}
targets=(fuzz_profile fuzz_dns fuzz_client_hello fuzz_http_head fuzz_tool_config
  fuzz_daemon_request fuzz_git_index)
ninja -C "$build" "${targets[@]}" fuzz_dns_seeds
cd "$build/tests/fuzz"
for target in "${targets[@]}"; do
  corpus="corpus/${target#fuzz_}"
  work=$(mktemp -d)
  echo "fuzz: $target for ${seconds}s"
  ./"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$work" "$corpus" 2>&1 | tail -n 4
  rm -rf "$work"
done
