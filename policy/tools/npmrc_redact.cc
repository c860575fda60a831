// Internal: the credential-free copy of an .npmrc (see npmrc_redact.h). Fails closed: a line it
// cannot read as a plain setting is dropped, not kept.
#include "policy/tools/npmrc_redact.h"

#include "policy/tools/common.h"

namespace moat::policy::tools {
namespace {

// Parts of a key's last component that mark a credential (npm's own: _auth, _authToken,
// _password, username, email, certfile, keyfile, cert, key, otp; and what private registries'
// setup guides add).
constexpr std::string_view kSecretParts[] = {"auth",  "token",   "pass",  "secret", "cred",
                                             "user",  "email",   "otp",   "cert",   "key",
                                             "proxy", "session", "cookie"};

bool secret_key(const std::string& raw_key) {
  std::string key = lower(raw_key);
  if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') && key.back() == key.front()) {
    key = key.substr(1, key.size() - 2);
  }
  // A name made from the environment could be anything once expanded; "//host/:..." settings
  // are per registry host, and npm keeps only credentials and TLS client identities there.
  if (key.empty() || key.find('$') != std::string::npos || key.starts_with("//")) return true;
  const std::string_view name = std::string_view(key).substr(key.rfind(':') + 1);
  for (std::string_view part : kSecretParts) {
    if (name.find(part) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

std::string redact_npmrc(std::string_view text) {
  std::string out;
  bool in_section = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    // Settings in an ini section become nested keys npm's clients do not use for registries.
    if (line.front() == '[') {
      in_section = true;
      continue;
    }
    if (in_section) continue;
    const std::size_t eq = line.find('=');
    const std::string key = trim(std::string_view(line).substr(0, eq));
    if (secret_key(key)) continue;
    if (eq == std::string::npos) {
      out += key + "\n";
      continue;
    }
    const std::string value = trim(std::string_view(line).substr(eq + 1));
    out += key + "=" + url_without_userinfo(value) + "\n";
  }
  return out;
}

}  // namespace moat::policy::tools
