#!/usr/bin/env bash
# The whole test suite, as CI runs it: dependencies, build, unit/integration/escape tests as root
# and as an unprivileged user (the tests create it), an ASan+UBSan build of the unit and
# integration tests, and a bounded fuzzing run. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
export MOAT_MUST_WORK=${MOAT_MUST_WORK:-1}
jobs=$(nproc)

bash scripts/install-deps.sh

echo "== build (RelWithDebInfo)"
MOAT_BUILD_DIR=build bash scripts/build.sh
echo "== tests: unit, integration, escape"
ctest --test-dir build --output-on-failure -j "$jobs" -L 'unit|integration|escape'

echo "== build (ASan + UBSan)"
MOAT_BUILD_DIR=build-asan MOAT_BUILD_TYPE=Debug bash scripts/build.sh -DMOAT_SANITIZE=ON
echo "== tests under ASan + UBSan: unit, integration"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j "$jobs" \
  -L 'unit|integration'

echo "== fuzz (libFuzzer, bounded)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DMOAT_FUZZ=ON >/dev/null
ninja -C build-fuzz fuzz_profile
bash tests/fuzz/run.sh build-fuzz "${MOAT_FUZZ_SECONDS:-60}"
echo "== all tests passed"
