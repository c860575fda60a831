// Origin detection; see origin.h. Everything here reads bytes a sandboxed process chose, so it
// only ever copies bounded substrings and never interprets them further.
#include "sandboxd/report/origin.h"

#include <cctype>

namespace moat::report {
namespace {

constexpr size_t kMaxFieldLength = 214;  // npm's limit on package names; enough for versions

std::string bounded(std::string_view value) {
  return std::string(value.substr(0, kMaxFieldLength));
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string Origin::describe() const {
  std::string out = tool.empty() ? std::string("?") : tool;
  if (!package.empty()) out += " " + package;
  if (!version.empty()) out += "@" + version;
  if (!script.empty()) out += " " + script;
  return out;
}

Origin origin_from_environment(std::string_view block) {
  Origin origin;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t end = block.find('\0', pos);
    if (end == std::string_view::npos) break;  // truncated: the entry may be cut short
    std::string_view entry = block.substr(pos, end - pos);
    pos = end + 1;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = entry.substr(0, eq);
    std::string_view value = entry.substr(eq + 1);
    if (key == "npm_package_name") {
      origin.package = bounded(value);
    } else if (key == "npm_package_version") {
      origin.version = bounded(value);
    } else if (key == "npm_lifecycle_event") {
      origin.script = bounded(value);
    }
  }
  if (!origin.empty()) origin.tool = "npm";
  return origin;
}

Origin origin_from_pip_build(std::string_view cwd) {
  Origin origin;
  size_t at = cwd.rfind("/pip-install-");
  if (at != std::string_view::npos) {
    // .../pip-install-XXXX/<name>_<32 hex>[/sub/dir]
    size_t name_start = cwd.find('/', at + 1);
    if (name_start == std::string_view::npos) return origin;
    ++name_start;
    size_t name_end = cwd.find('/', name_start);
    std::string_view dir = cwd.substr(name_start, name_end == std::string_view::npos
                                                      ? std::string_view::npos
                                                      : name_end - name_start);
    size_t underscore = dir.rfind('_');
    if (underscore == std::string_view::npos || underscore == 0) return origin;
    std::string_view suffix = dir.substr(underscore + 1);
    if (suffix.size() != 32 || !is_hex(suffix)) return origin;
    origin.package = bounded(dir.substr(0, underscore));
  } else if (cwd.find("/pip-req-build-") == std::string_view::npos) {
    return origin;
  }
  origin.tool = "pip";
  origin.script = "build";
  origin.dependency = true;
  return origin;
}

bool under_node_modules(std::string_view path) {
  constexpr std::string_view kName = "node_modules";
  for (size_t at = path.find(kName); at != std::string_view::npos; at = path.find(kName, at + 1)) {
    const bool starts = at == 0 || path[at - 1] == '/';
    const size_t end = at + kName.size();
    const bool ends = end == path.size() || path[end] == '/';
    if (starts && ends) return true;
  }
  return false;
}

Origin resolve_origin(std::string_view environ_block, std::string_view cwd, const Origin& parent) {
  // Inside a package's own code, the package answers for everything: a child that sets another
  // package's (or the project's) variables does not change whom it works for.
  if (parent.dependency) return parent;
  Origin own = origin_from_environment(environ_block);
  if (own.empty()) own = origin_from_pip_build(cwd);
  if (own.empty()) return parent;
  const bool same = own.tool == parent.tool && own.package == parent.package &&
                    own.version == parent.version && own.script == parent.script;
  own.dependency = own.dependency || (!same && under_node_modules(cwd));
  return own;
}

}  // namespace moat::report
