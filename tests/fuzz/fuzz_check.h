// An invariant of a fuzz target: a violation stops the run where it happened (libFuzzer then
// saves the input), as a crash would.
#pragma once

#define MOAT_FUZZ_CHECK(cond)      \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)
