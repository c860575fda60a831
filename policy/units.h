// Internal: sizes ("4GiB") and durations ("30m") as written in `limits:`.
// Pure parsing with overflow checks; the error string says what is accepted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace moat::policy {

// Value or an error message (no position: the caller knows where the text came from).
using ParsedNumber = std::variant<std::uint64_t, std::string>;

// Decimal integer, no sign, no spaces.
ParsedNumber parse_count(std::string_view text);
// Integer with optional unit: B, K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024), KB/MB/GB/TB
// (powers of 1000). No unit means bytes.
ParsedNumber parse_size(std::string_view text);
// Integer with optional unit ms, s, m, h, d; no unit means seconds. Result in milliseconds.
ParsedNumber parse_duration_ms(std::string_view text);

}  // namespace moat::policy
