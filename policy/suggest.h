// Internal: "did you mean" suggestions by edit distance (optimal string alignment, ignoring case).
// Used for unknown keys, enum values and protection names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moat::policy {

std::size_t edit_distance(std::string_view a, std::string_view b);

// The closest candidate if it is close enough to be a plausible typo, else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// "'a', 'b' or 'c'"
std::string one_of(const std::vector<std::string>& candidates);

}  // namespace moat::policy
