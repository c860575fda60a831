// Which prefixes of an input the streaming-parser fuzzers re-check: every prefix of small inputs;
// for larger ones (quadratic otherwise) 32 spread evenly, the last four bytes where verdicts flip,
// and 16 picked by the input itself so the fuzzer can steer a split onto any boundary.
#pragma once

#include <cstddef>
#include <cstdint>

template <typename Check>
void for_each_prefix_length(const std::uint8_t* data, std::size_t size, Check check) {
  if (size <= 128) {
    for (std::size_t len = 0; len < size; ++len) check(len);
    return;
  }
  for (std::size_t i = 0; i < 32; ++i) check(size * i / 32);
  for (std::size_t back = 1; back <= 4; ++back) check(size - back);
  for (std::size_t i = 0; i < 16; ++i) {
    check((static_cast<std::size_t>(data[i]) << 8 | data[size - 1 - i]) % size);
  }
}
