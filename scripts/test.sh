#!/usr/bin/env bash
# The whole test suite, as CI runs it: dependencies, build, unit/integration/escape tests as root
# and as an unprivileged user (the tests create it), an ASan+UBSan build of the unit and
# integration tests, and a bounded fuzzing run. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
export MOAT_MUST_WORK=${MOAT_MUST_WORK:-1}
# On a CI runner every `moat run` of the suite would append its account to the job's summary
# (GITHUB_STEP_SUMMARY): the test that checks that summary sets its own file.
unset GITHUB_STEP_SUMMARY
jobs=$(nproc)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# ctest, with its summary kept for the closing line.
run_ctest() { ctest "$@" 2>&1 | tee -a "$log"; }

bash scripts/install-deps.sh

echo "== build (RelWithDebInfo)"
MOAT_BUILD_DIR=build bash scripts/build.sh
echo "== tests: unit, integration, escape, network, watch, e2e"
run_ctest --test-dir build --output-on-failure -j "$jobs" -L 'unit|integration|escape|network|watch|e2e'

echo "== build (ASan + UBSan)"
MOAT_BUILD_DIR=build-asan MOAT_BUILD_TYPE=Debug bash scripts/build.sh -DMOAT_SANITIZE=ON
echo "== tests under ASan + UBSan: unit, integration, network (the gate parses attacker bytes)"
ASAN_OPTIONS=detect_leaks=1 run_ctest --test-dir build-asan --output-on-failure -j "$jobs" \
  -L 'unit|integration|network'

echo "== fuzz (libFuzzer, bounded)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DMOAT_FUZZ=ON >/dev/null
bash tests/fuzz/run.sh build-fuzz "${MOAT_FUZZ_SECONDS:-45}"
total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2 \1/p' "$log" |
  awk '{t += $1; f += $2} END {print t - f, f}')
echo "== all tests passed"
echo "moat: ${total% *} passed, ${total#* } failed"
