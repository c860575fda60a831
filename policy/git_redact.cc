// The credential-free .git/config; see git_redact.h. Line-based, like git's own format: a line
// is a section header, a `key = value` (maybe continued with a trailing backslash), a comment or
// blank.
#include "policy/git_redact.h"

#include <cctype>

#include "policy/tools/common.h"

namespace moat::policy {
namespace {

constexpr std::string_view kSecretKeyParts[] = {"extraheader", "pass", "token", "secret", "cookie"};

// Cuts `user[:password]@` after every "://" in LINE.
std::string without_userinfo(std::string line) {
  std::size_t from = 0;
  while ((from = line.find("://", from)) != std::string::npos) {
    const std::size_t host = from + 3;
    std::size_t end = host;
    while (end < line.size() && line[end] != '/' && line[end] != '"' && line[end] != ']' &&
           !std::isspace(static_cast<unsigned char>(line[end]))) {
      ++end;
    }
    const std::size_t at = line.rfind('@', end);
    if (at != std::string::npos && at >= host && at < end) line.erase(host, at + 1 - host);
    from = host;
  }
  return line;
}

bool continues(std::string_view line) {
  std::size_t n = 0;
  for (std::size_t i = line.size(); i > 0 && line[i - 1] == '\\'; --i) ++n;
  return n % 2 == 1;  // an odd number of backslashes: the last one escapes the newline
}

// credential.helper = "!f() { echo password=...; }; f": a shell helper that prints the secret
// itself. Named helpers (store, cache, libsecret) keep their secrets in stores that are masked.
bool inline_credential_helper(const std::string& key, std::string_view line, std::size_t eq) {
  if (key != "helper" || eq == std::string_view::npos) return false;
  std::string value = tools::trim(line.substr(eq + 1));
  if (!value.empty() && value.front() == '"') value.erase(0, 1);
  return !value.empty() && value.front() == '!';
}

bool secret_key(std::string_view line) {
  // The key: after a same-line section header, up to '=' or the end.
  std::size_t start = 0;
  if (const std::size_t close = line.find(']'); !line.empty() && line.front() == '[') {
    if (close == std::string_view::npos) return false;
    start = close + 1;
  }
  const std::size_t eq = line.find('=', start);
  const std::string key = tools::lower(tools::trim(
      line.substr(start, eq == std::string_view::npos ? std::string_view::npos : eq - start)));
  for (std::string_view part : kSecretKeyParts) {
    if (key.find(part) != std::string::npos) return true;
  }
  return inline_credential_helper(key, line, eq);
}

}  // namespace

std::string redact_git_config(std::string_view text) {
  std::string out;
  bool dropping = false;  // inside a dropped setting's continuation lines
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    const bool last = nl == std::string_view::npos;
    const std::string_view line = text.substr(pos, last ? std::string_view::npos : nl - pos);
    pos = last ? text.size() : nl + 1;
    if (dropping) {
      dropping = continues(line);
      continue;
    }
    const std::string trimmed = tools::trim(line);
    if (!trimmed.empty() && trimmed[0] != '#' && trimmed[0] != ';' && secret_key(trimmed)) {
      dropping = continues(line);
      continue;
    }
    out += without_userinfo(std::string(line));
    if (!last) out += '\n';
  }
  return out;
}

}  // namespace moat::policy
