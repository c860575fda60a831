// Internal: parsing of counts, sizes and durations for `limits:` and `--time`.
// Binary units (KiB, K) are powers of 1024, decimal ones (KB) of 1000, as documented.
#include "policy/units.h"

#include <array>
#include <limits>
#include <utility>

namespace moat::policy {

namespace {

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::uint64_t kKi = 1024;
constexpr std::array<Unit, 13> kSizeUnits{{
    {"B", 1},
    {"K", kKi}, {"KiB", kKi}, {"KB", 1000},
    {"M", kKi * kKi}, {"MiB", kKi * kKi}, {"MB", 1000 * 1000},
    {"G", kKi * kKi * kKi}, {"GiB", kKi * kKi * kKi}, {"GB", 1000ull * 1000 * 1000},
    {"T", kKi * kKi * kKi * kKi}, {"TiB", kKi * kKi * kKi * kKi},
    {"TB", 1000ull * 1000 * 1000 * 1000},
}};
constexpr std::array<Unit, 5> kDurationUnits{{
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}, {"d", 24 * 60 * 60 * 1000},
}};

// Splits "123abc" into 123 and "abc"; error if there are no digits or the number overflows.
std::variant<std::pair<std::uint64_t, std::string_view>, std::string> split_number(
    std::string_view text) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return std::string("'") + std::string(text) + "' is too large";
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) {
    return std::string("'") + std::string(text) + "' is not a number";
  }
  return std::pair{value, text.substr(i)};
}

template <std::size_t N>
ParsedNumber parse_with_units(std::string_view text, const std::array<Unit, N>& units,
                              std::uint64_t default_factor, const std::string& accepted) {
  auto split = split_number(text);
  if (auto* err = std::get_if<std::string>(&split)) return *err + " (" + accepted + ")";
  auto [value, suffix] = std::get<0>(split);
  std::uint64_t factor = default_factor;
  if (!suffix.empty()) {
    factor = 0;
    for (const Unit& u : units) {
      if (u.name == suffix) factor = u.factor;
    }
    if (factor == 0) {
      return "'" + std::string(suffix) + "' is not a unit (" + accepted + ")";
    }
  }
  if (value == 0) return std::string("must be greater than 0");
  if (value > std::numeric_limits<std::uint64_t>::max() / factor) {
    return "'" + std::string(text) + "' is too large";
  }
  return value * factor;
}

}  // namespace

ParsedNumber parse_count(std::string_view text) {
  const std::array<Unit, 0> none{};
  return parse_with_units(text, none, 1, "expected a whole number");
}

ParsedNumber parse_size(std::string_view text) {
  return parse_with_units(text, kSizeUnits, 1,
                          "expected a size such as 512MiB: B, KiB, MiB, GiB, TiB (or K, M, G, T) "
                          "are powers of 1024, KB, MB, GB, TB powers of 1000");
}

ParsedNumber parse_duration_ms(std::string_view text) {
  return parse_with_units(text, kDurationUnits, 1000,
                          "expected a duration such as 30s: ms, s, m, h, d; no unit means seconds");
}

}  // namespace moat::policy
