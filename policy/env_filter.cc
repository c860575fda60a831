// Internal: environment filtering. Secrets leave only by exact name: `keep: [NPM_TOKEN]` passes
// NPM_TOKEN, `keep: ["NPM_*"]` does not, because a pattern cannot show intent for a credential.
#include "policy/env_filter.h"

#include <algorithm>
#include <array>
#include <set>

namespace moat::policy {

namespace {

constexpr std::array<std::string_view, 22> kSecretPatterns = {
    "*_TOKEN*",   "*TOKEN",       "*_SECRET*",       "*SECRET",
    "*_KEY",      "*_KEY_*",      "*PASSWORD*",      "*PASSWD*",
    "*CREDENTIAL*", "AWS_*",      "AZURE_*",         "GOOGLE_APPLICATION_CREDENTIALS",
    "GITHUB_TOKEN", "GH_TOKEN",   "NPM_TOKEN",       "NODE_AUTH_TOKEN",
    "PYPI_*TOKEN*", "*_API_KEY",  "SSH_AUTH_SOCK",   "GPG_AGENT_INFO",
    "DBUS_SESSION_BUS_ADDRESS", "*_AUTH",
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view name) {
  // Iterative wildcard match with backtracking to the last '*': linear in practice.
  std::size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool looks_secret(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return std::any_of(kSecretPatterns.begin(), kSecretPatterns.end(),
                     [&](std::string_view p) { return glob_match(p, upper); });
}

EnvFilterResult filter_environ(const std::vector<std::string>& environ,
                               const std::vector<std::string>& keep_patterns,
                               const std::vector<std::string>& exact) {
  std::set<std::string, std::less<>> exact_names(exact.begin(), exact.end());
  std::vector<std::string_view> patterns;
  for (const std::string& p : keep_patterns) {
    if (p.find('*') == std::string::npos) {
      exact_names.insert(p);
    } else {
      patterns.push_back(p);
    }
  }
  EnvFilterResult out;
  std::set<std::string, std::less<>> seen, dropped;
  for (const std::string& entry : environ) {
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;  // malformed: never passed on
    const std::string_view name(entry.data(), eq);
    if (seen.contains(name)) continue;  // getenv() sees the first one; so do we
    seen.emplace(name);
    const bool by_name = exact_names.contains(name);
    const bool by_pattern = std::any_of(patterns.begin(), patterns.end(),
                                        [&](std::string_view p) { return glob_match(p, name); });
    if (!by_name && !by_pattern) continue;
    if (!by_name && looks_secret(name)) {
      dropped.emplace(name);
      continue;
    }
    out.env.push_back(EnvVar{std::string(name), entry.substr(eq + 1)});
  }
  out.dropped.assign(dropped.begin(), dropped.end());
  return out;
}

}  // namespace moat::policy
