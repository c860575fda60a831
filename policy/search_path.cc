// The profile search path: default directories, name lookup (later directory wins) and listing.
// Only reads directories and files; a missing directory is not an error.
#include "policy/search_path.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "policy/raw_node.h"
#include "policy/resolve.h"

namespace moat::policy {

namespace {

std::string stem_of(const std::string& filename) {
  for (const char* ext : {".yaml", ".yml"}) {
    const std::string e(ext);
    if (filename.size() > e.size() && filename.ends_with(e)) {
      return filename.substr(0, filename.size() - e.size());
    }
  }
  return "";
}

std::string read_description(const std::string& path) {
  DiagnosticSink sink;
  std::optional<RawNode> root = load_raw_file(path, SourceRef{path, 0, 0}, 1, sink);
  if (!root || root->kind != RawNode::Kind::kMap) return "";
  for (const auto& [key, value] : root->entries) {
    if (key.text == "description" && value.kind == RawNode::Kind::kScalar) return value.text;
  }
  return "";
}

}  // namespace

std::vector<std::string> default_search_path(const std::string& home) {
  std::vector<std::string> dirs = {MOAT_BUILTIN_PROFILES_DIR, "/etc/moat/profiles"};
  if (!home.empty()) dirs.push_back(home + "/.config/moat/profiles");
  return dirs;
}

bool is_path_reference(const std::string& ref) {
  return ref.find('/') != std::string::npos || ref.ends_with(".yaml") || ref.ends_with(".yml");
}

bool is_valid_profile_name(const std::string& name) {
  if (name.empty() || name[0] == '.' || name.size() > 200) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

std::optional<std::string> find_profile(const std::string& name,
                                        const std::vector<std::string>& search_path,
                                        const std::string& skip) {
  if (!is_valid_profile_name(name)) return std::nullopt;
  for (auto dir = search_path.rbegin(); dir != search_path.rend(); ++dir) {
    for (const char* ext : {".yaml", ".yml"}) {
      const std::string candidate = absolute_path(*dir + "/" + name + ext, "/");
      if (candidate == skip) continue;
      std::error_code ec;
      if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
    }
  }
  return std::nullopt;
}

std::vector<ProfileInfo> list_profiles(const std::vector<std::string>& search_path) {
  // name -> files, highest priority first
  std::map<std::string, std::vector<std::string>> found;
  for (auto dir = search_path.rbegin(); dir != search_path.rend(); ++dir) {
    std::error_code ec;
    std::vector<std::string> files;
    for (std::filesystem::directory_iterator it(*dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::error_code ec2;
      if (!it->is_regular_file(ec2)) continue;
      const std::string filename = it->path().filename().string();
      if (stem_of(filename).empty() || !is_valid_profile_name(stem_of(filename))) continue;
      files.push_back(filename);
    }
    std::sort(files.begin(), files.end());  // .yaml before .yml: the lookup order
    for (const std::string& f : files) found[stem_of(f)].push_back(*dir + "/" + f);
  }
  std::vector<ProfileInfo> out;
  for (const auto& [name, paths] : found) {
    for (std::size_t i = 0; i < paths.size(); ++i) {
      out.push_back(ProfileInfo{name, paths[i], read_description(paths[i]), i > 0});
    }
  }
  return out;
}

}  // namespace moat::policy
