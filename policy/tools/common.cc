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

std::string url_without_userinfo(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const std::size_t host = scheme + 3;
  const std::size_t end = url.find_first_of("/?#", host);
  const std::size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < host) return url;
  return url.substr(0, host) + url.substr(at + 1);
}

Result<std::string> registry_rule(const std::string& url, const std::string& source) {
  auto bad = [&](const std::string& why) -> Error {
    return make_error(ErrorCode::kInvalidArgument,
                      "registry '" + url_without_userinfo(url) + "' (" + source + "): " + why,
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

// Short options with a value, from each tool's --help: pip install (-r -c -e -t -C -i -f),
// pipx (-i; its -f and -e are flags), uv (-i -f -r -c -e -o -p -P -w -C -b), npm and its
// family (none that name a registry; a cluster such as -gD is only flags).
const ToolCommand kPipCommand{"pip", "", "rcetCif", true};
const ToolCommand kPipxCommand{"pipx", "", "i", true};
const ToolCommand kUvCommand{"uv", "uvx", "ifrceopPwCb", true};
const ToolCommand kNpmCommand{"npm", "", "", false};
const ToolCommand kPnpmCommand{"pnpm", "", "", false};
const ToolCommand kYarnCommand{"yarn", "yarnpkg", "", false};

namespace {

std::string_view base_name(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// NAME, or NAME followed by a version: pip3, pip3.11, python3.12.
bool is_named(std::string_view program, std::string_view name) {
  if (name.empty() || !program.starts_with(name)) return false;
  const std::string_view version = program.substr(name.size());
  return version.empty() || (std::isdigit(static_cast<unsigned char>(version[0])) &&
                             version.find_first_not_of("0123456789.") == std::string_view::npos);
}

// The module `python [OPTIONS] -m MODULE ARGS` runs and where its ARGS start; nullopt when the
// interpreter runs a script, `-c` code or its standard input. Python's own options that take a
// value (-X, -W, --check-hash-based-pycs) are stepped over; its flags may be clustered (-Im).
std::optional<std::pair<std::string, std::size_t>> python_module(
    const std::vector<std::string>& argv) {
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--" || a.size() < 2 || a[0] != '-') return std::nullopt;
    if (a[1] == '-') {
      if (a == "--check-hash-based-pycs") ++i;
      continue;
    }
    for (std::size_t j = 1; j < a.size(); ++j) {
      const char c = a[j];
      if (c == 'c') return std::nullopt;
      if (c != 'm' && c != 'X' && c != 'W') continue;
      std::string value;
      if (j + 1 < a.size()) {
        value = a.substr(j + 1);
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      }
      if (c == 'm') return std::make_pair(value, i + 1);
      break;
    }
  }
  return std::nullopt;
}

// The token after args[i] as an option's value, stepping over it; nullopt at the end or when it
// is another option.
std::optional<std::string> take_value(const std::vector<std::string>& args, std::size_t& i) {
  if (i + 1 >= args.size()) return std::nullopt;
  const std::string& next = args[i + 1];
  if (next.size() > 1 && next[0] == '-') return std::nullopt;
  ++i;
  return next;
}

// Walks `args` and calls found(value) for each occurrence of the option (value nullopt when the
// option has none: a flag, or a missing value).
template <typename Found>
void scan_option(const std::vector<std::string>& args, const ToolCommand& tool,
                 std::initializer_list<std::string_view> names, bool takes_value, Found found) {
  char short_name = 0;
  for (std::string_view n : names) {
    if (n.size() == 2 && n[0] == '-' && n[1] != '-') short_name = n[1];
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') continue;
    bool matched = false;
    for (std::string_view n : names) {
      if (n.size() <= 2) continue;
      if (a == n) {
        found(takes_value ? take_value(args, i) : std::optional<std::string>());
        matched = true;
      } else if (takes_value && a.size() > n.size() && a.starts_with(n) && a[n.size()] == '=') {
        found(a.substr(n.size() + 1));
        matched = true;
      }
      if (matched) break;
    }
    if (matched || a[1] == '-') continue;
    for (std::size_t j = 1; j < a.size(); ++j) {
      const bool other_value = tool.short_with_value.find(a[j]) != std::string_view::npos;
      if (a[j] == short_name) {
        if (!takes_value) {
          found(std::nullopt);
        } else if (j + 1 < a.size()) {
          // "-iURL"; clap also reads "-i=URL" as URL.
          found(a.substr(a[j + 1] == '=' ? j + 2 : j + 1));
        } else {
          found(take_value(args, i));
        }
        break;
      }
      if (other_value) {
        if (j + 1 == a.size()) take_value(args, i);  // that option's value, not ours
        break;
      }
    }
  }
}

}  // namespace

std::optional<std::vector<std::string>> tool_arguments(const ToolConfigInput& in,
                                                       const ToolCommand& tool) {
  if (in.argv.empty()) return std::nullopt;
  const std::string_view program = base_name(in.argv[0]);
  std::size_t start = 0;
  if (is_named(program, tool.name) || (!tool.alias.empty() && program == tool.alias)) {
    start = 1;
  } else if (tool.python_module && is_named(program, "python")) {
    auto module = python_module(in.argv);
    if (!module || module->first != tool.name) return std::nullopt;
    start = module->second;
  } else {
    return std::nullopt;
  }
  std::vector<std::string> args;
  for (std::size_t i = start; i < in.argv.size() && in.argv[i] != "--"; ++i) {
    args.push_back(in.argv[i]);
  }
  return args;
}

std::vector<std::string> option_values(const std::vector<std::string>& args,
                                       const ToolCommand& tool,
                                       std::initializer_list<std::string_view> names) {
  std::vector<std::string> out;
  scan_option(args, tool, names, true, [&](const std::optional<std::string>& v) {
    if (v) out.push_back(*v);
  });
  return out;
}

bool has_flag(const std::vector<std::string>& args, const ToolCommand& tool,
              std::initializer_list<std::string_view> names) {
  bool seen = false;
  scan_option(args, tool, names, false, [&](const std::optional<std::string>&) { seen = true; });
  return seen;
}

std::vector<std::string> split_any(std::string_view s, std::string_view separators) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t end = s.find_first_of(separators, pos);
    if (end == std::string_view::npos) end = s.size();
    if (end > pos) out.emplace_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace moat::policy::tools
