// Sizes, durations and counts: units, defaults, zero, overflow and junk.
#include <gtest/gtest.h>

#include "policy/units.h"

namespace moat::policy {
namespace {

std::uint64_t ok(const ParsedNumber& p) {
  EXPECT_TRUE(std::holds_alternative<std::uint64_t>(p)) << std::get<std::string>(p);
  return std::holds_alternative<std::uint64_t>(p) ? std::get<std::uint64_t>(p) : 0;
}
bool bad(const ParsedNumber& p) { return std::holds_alternative<std::string>(p); }

TEST(Units, Sizes) {
  EXPECT_EQ(ok(parse_size("4096")), 4096u);
  EXPECT_EQ(ok(parse_size("1B")), 1u);
  EXPECT_EQ(ok(parse_size("2K")), 2048u);
  EXPECT_EQ(ok(parse_size("2KiB")), 2048u);
  EXPECT_EQ(ok(parse_size("2KB")), 2000u);
  EXPECT_EQ(ok(parse_size("4GiB")), 4ull << 30);
  EXPECT_EQ(ok(parse_size("4G")), 4ull << 30);
  EXPECT_EQ(ok(parse_size("3GB")), 3000000000ull);
  EXPECT_EQ(ok(parse_size("1TiB")), 1ull << 40);
  EXPECT_EQ(ok(parse_size("5MB")), 5000000u);
  EXPECT_TRUE(bad(parse_size("4Gb")));
  EXPECT_TRUE(bad(parse_size("4 GiB")));
  EXPECT_TRUE(bad(parse_size("GiB")));
  EXPECT_TRUE(bad(parse_size("-1")));
  EXPECT_TRUE(bad(parse_size("0")));
  EXPECT_TRUE(bad(parse_size("")));
  EXPECT_TRUE(bad(parse_size("17179869184TiB")));  // overflows 64 bits
  EXPECT_TRUE(bad(parse_size("99999999999999999999")));
}

TEST(Units, Durations) {
  EXPECT_EQ(ok(parse_duration_ms("500ms")), 500u);
  EXPECT_EQ(ok(parse_duration_ms("30s")), 30000u);
  EXPECT_EQ(ok(parse_duration_ms("30")), 30000u);
  EXPECT_EQ(ok(parse_duration_ms("10m")), 600000u);
  EXPECT_EQ(ok(parse_duration_ms("2h")), 7200000u);
  EXPECT_EQ(ok(parse_duration_ms("1d")), 86400000u);
  EXPECT_TRUE(bad(parse_duration_ms("10 min")));
  EXPECT_TRUE(bad(parse_duration_ms("1.5h")));
  EXPECT_TRUE(bad(parse_duration_ms("0s")));
  EXPECT_TRUE(bad(parse_duration_ms("h")));
}

TEST(Units, Counts) {
  EXPECT_EQ(ok(parse_count("1024")), 1024u);
  EXPECT_TRUE(bad(parse_count("1k")));
  EXPECT_TRUE(bad(parse_count("0")));
  EXPECT_TRUE(bad(parse_count("+5")));
  EXPECT_EQ(std::get<std::string>(parse_count("0")), "must be greater than 0");
}

}  // namespace
}  // namespace moat::policy
