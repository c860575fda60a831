// Telling yarn classic from berry by the files yarn itself reads to pick its version (see
// yarn_generation.h); pure, through the injected reader.
#include "policy/yarn_generation.h"

#include <cctype>

#include "policy/tools/common.h"
#include "policy/variables.h"

namespace moat::policy {
namespace {

std::string parent(const std::string& dir) {
  const std::size_t slash = dir.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

// The string value of top-level-looking "key": "value" in a JSON text; "" when absent. A full
// JSON parser is not needed for two well-known fields, and policy/ stays free of one.
std::string json_string(const std::string& text, const std::string& key) {
  const std::string quoted = "\"" + key + "\"";
  const std::size_t at = text.find(quoted);
  if (at == std::string::npos) return {};
  std::size_t i = at + quoted.size();
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i >= text.size() || text[i] != ':') return {};
  ++i;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i >= text.size() || text[i] != '"') return {};
  const std::size_t close = text.find('"', i + 1);
  if (close == std::string::npos) return {};
  return text.substr(i + 1, close - i - 1);
}

// "1.22.22" -> 1, "4.1.0+sha224..." -> 4; -1 when it does not start with a number.
int major_of(const std::string& version) {
  int major = -1;
  for (char c : version) {
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    major = (major < 0 ? 0 : major * 10) + (c - '0');
    if (major > 1000) return -1;
  }
  return major;
}

bool has_yarn_path(const std::string& yml) {
  std::size_t pos = 0;
  while (pos < yml.size()) {
    std::size_t end = yml.find('\n', pos);
    if (end == std::string::npos) end = yml.size();
    if (yml.compare(pos, 9, "yarnPath:") == 0) return true;
    pos = end + 1;
  }
  return false;
}

YarnDetection by_major(int major, std::string why) {
  return {major >= 2 ? YarnGeneration::kBerry : YarnGeneration::kClassic, std::move(why)};
}

}  // namespace

YarnDetection detect_yarn_generation(const ToolConfigInput& in, const std::string& binary) {
  std::string package_manager, package_json;
  for (std::string dir = normalize_path(in.cwd);; dir = parent(dir)) {
    const std::string base = dir == "/" ? "" : dir;
    if (auto yml = in.read_file(base + "/.yarnrc.yml"); yml && has_yarn_path(*yml)) {
      return {YarnGeneration::kBerry, base + "/.yarnrc.yml sets yarnPath"};
    }
    if (package_json.empty()) {
      if (auto pkg = in.read_file(base + "/package.json")) {
        package_json = base + "/package.json";
        package_manager = json_string(*pkg, "packageManager");
      }
    }
    if (dir == "/") break;
  }
  if (package_manager.starts_with("yarn@")) {
    const int major = major_of(package_manager.substr(5));
    if (major >= 1)
      return by_major(major, package_json + ": \"packageManager\": \"" + package_manager + "\"");
  }
  // The yarn package the binary belongs to: bin/yarn.js -> ../package.json (npm's layout,
  // Debian's /usr/share/nodejs/yarn), or a berry bundle beside its package.json.
  std::string dir = parent(normalize_path(binary));
  for (int up = 0; up < 3 && dir != "/"; ++up, dir = parent(dir)) {
    auto pkg = in.read_file(dir + "/package.json");
    if (!pkg) continue;
    const std::string name = json_string(*pkg, "name");
    if (name != "yarn" && name != "@yarnpkg/cli-dist" && name != "@yarnpkg/cli") continue;
    const std::string version = json_string(*pkg, "version");
    const int major = major_of(version);
    if (major >= 1) return by_major(major, dir + "/package.json: " + name + " " + version);
  }
  return {YarnGeneration::kClassic,
          "no yarnPath, packageManager or yarn package.json found: classic, corepack's default"};
}

}  // namespace moat::policy
