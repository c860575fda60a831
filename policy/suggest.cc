// Internal: edit distance and typo suggestions. Transpositions count as one edit ("wirte" is one
// edit from "write"), and case is ignored ("Write" suggests "write").
#include "policy/suggest.h"

#include <algorithm>
#include <cctype>

namespace moat::policy {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  if (a.size() > 64 || b.size() > 64) return std::max(a.size(), b.size());  // not a typo
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 0;
  for (const std::string& c : candidates) {
    const std::size_t dist = edit_distance(word, c);
    if (best.empty() || dist < best_distance) {
      best = c;
      best_distance = dist;
    }
  }
  // Short words need a closer match: "NOPE" is two edits from "HOME" but no typo of it.
  const std::size_t limit = std::min(word.size(), best.size()) <= 5 ? 1 : 2;
  if (best.empty() || best_distance > limit || best_distance >= best.size()) return "";
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string best = closest_match(word, candidates);
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

std::string one_of(const std::vector<std::string>& candidates) {
  std::string out;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (i > 0) out += i + 1 == candidates.size() ? " or " : ", ";
    out += "'" + candidates[i] + "'";
  }
  return out;
}

}  // namespace moat::policy
