// The shared helpers of the tool resolvers; see common.h.
#include "policy/tools/common.h"

#include <algorithm>
#include <cctype>

#include "policy/variables.h"

namespace moat::policy::tools {

std::optional<std::string> env_value(const ToolConfigInput& in, std::string_view name) {
  for (const std::string& e : in.environ) {
    if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=') {
      return e.substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

std::string config_path(const std::string& value, const std::string& home,
                        const std::string& base) {
  if (value == "~") return normalize_path(home);
  if (value.starts_with("~/")) return normalize_path(home + value.substr(1));
  if (!value.empty() && value[0] == '/') return normalize_path(value);
  return normalize_path(base + "/" + value);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

void add_unique(ToolValues& out, const std::string& value) {
  if (!value.empty() && std::find(out.begin(), out.end(), value) == out.end()) {
    out.push_back(value);
  }
}

Result<std::string> registry_rule(const std::string& url, const std::string& source) {
  auto bad = [&](const std::string& why) -> Error {
    return make_error(ErrorCode::kInvalidArgument,
                      "registry '" + url + "' (" + source + "): " + why,
                      "write a URL such as https://registry.example.test/");
  };
  const std::size_t sep = url.find("://");
  if (sep == std::string::npos) return bad("not a URL");
  const std::string scheme = lower(url.substr(0, sep));
  std::string port = scheme == "https" ? "443" : scheme == "http" ? "80" : "";
  if (port.empty()) return bad("the scheme must be http or https");
  std::string authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  std::string host = authority;
  if (!authority.empty() && authority[0] == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) return bad("unclosed '[' in the host");
    host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("unexpected text after the address");
      port = authority.substr(close + 2);
    }
  } else if (auto colon = authority.find(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  if (host.find('$') != std::string::npos) return bad("an environment variable is not set");
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) == 0 ||
      std::stoi(port) > 65535) {
    return bad("bad port '" + port + "'");
  }
  return lower(host) + ":" + port;
}

std::string url_host_rule(const std::string& url) {
  Result<std::string> rule = registry_rule(url, "");
  return rule ? *rule : std::string();
}

}  // namespace moat::policy::tools
