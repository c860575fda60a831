// yarn's variables, for both generations: berry (2+) reads .yarnrc.yml (npmRegistryServer,
// npmScopes.*.npmRegistryServer, cacheFolder), classic (1.x) reads .yarnrc and npm's .npmrc.
// Which yarn runs is not known here, so the registries are the union of what both would use.
#include <algorithm>
#include <cctype>

#include "policy/tools/npm.h"
#include "policy/tools/npmrc.h"
#include "policy/variables.h"

namespace moat::policy::tools {
namespace {

using Flat = std::map<std::string, std::string>;

std::string strip(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string v(s.substr(b, e - b));
  if (v.size() >= 2 && ((v.front() == '"' && v.back() == '"') ||
                        (v.front() == '\'' && v.back() == '\''))) {
    v = v.substr(1, v.size() - 2);
  }
  return v;
}

// The block-mapping subset of YAML that .yarnrc.yml files use, flattened to "a.b.c" keys. The
// loader is the only yaml-cpp user (policy/ keeps that one dependency in one place); settings
// outside this subset (flow maps, lists) are skipped, and none of them names a registry.
Flat parse_yarnrc_yml(const std::string& text) {
  Flat out;
  std::vector<std::pair<std::size_t, std::string>> stack;  // indent, key
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    std::size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos || line[indent] == '#' || line[indent] == '-') continue;
    // A comment starts at " #" outside quotes; registry URLs have no spaces.
    if (auto hash = line.find(" #"); hash != std::string::npos) line.resize(hash);
    std::size_t colon = std::string::npos;
    char quote = 0;
    for (std::size_t i = indent; i < line.size(); ++i) {
      if (quote) {
        if (line[i] == quote) quote = 0;
      } else if (line[i] == '"' || line[i] == '\'') {
        quote = line[i];
      } else if (line[i] == ':' && (i + 1 == line.size() || line[i + 1] == ' ')) {
        colon = i;
        break;
      }
    }
    if (colon == std::string::npos) continue;
    while (!stack.empty() && stack.back().first >= indent) stack.pop_back();
    const std::string key = strip(std::string_view(line).substr(indent, colon - indent));
    const std::string value = strip(std::string_view(line).substr(colon + 1));
    std::string path;
    for (const auto& [i, k] : stack) path += k + ".";
    path += key;
    if (value.empty()) {
      stack.emplace_back(indent, key);
    } else {
      out[path] = value;
    }
  }
  return out;
}

// yarn classic's .yarnrc: `key value` or `key "value"` per line.
Flat parse_yarnrc(const std::string& text) {
  Flat out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = strip(std::string_view(text).substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    std::size_t sep;
    if (line[0] == '"') {
      sep = line.find('"', 1);
      if (sep == std::string::npos) continue;
      ++sep;
    } else {
      sep = line.find_first_of(" \t");
    }
    if (sep == std::string::npos) continue;
    out[strip(std::string_view(line).substr(0, sep))] = strip(std::string_view(line).substr(sep));
  }
  return out;
}

std::string parent(const std::string& dir) {
  const std::size_t slash = dir.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

struct YarnFiles {
  std::vector<std::pair<std::string, Flat>> berry;    // (dir of the file, settings), home first
  std::vector<std::pair<std::string, Flat>> classic;  // then from / down to the working dir
};

// yarn reads the rc file of every directory from the working one up to the root, the closer the
// stronger, and the one in the home.
YarnFiles read_yarn_files(const ToolConfigInput& in) {
  YarnFiles f;
  std::vector<std::string> dirs;
  for (std::string d = normalize_path(in.cwd);; d = parent(d)) {
    dirs.insert(dirs.begin(), d);
    if (d == "/") break;
  }
  dirs.insert(dirs.begin(), in.home);
  std::vector<std::string> seen;
  for (const std::string& d : dirs) {
    if (std::find(seen.begin(), seen.end(), d) != seen.end()) continue;
    seen.push_back(d);
    const std::string base = d == "/" ? "" : d;
    if (auto t = in.read_file(base + "/.yarnrc.yml")) f.berry.emplace_back(d, parse_yarnrc_yml(*t));
    if (auto t = in.read_file(base + "/.yarnrc")) f.classic.emplace_back(d, parse_yarnrc(*t));
  }
  return f;
}

// yarn classic's `--registry URL` on the wrapped command, or "".
std::string command_line_registry(const ToolConfigInput& in) {
  std::optional<std::vector<std::string>> args = tool_arguments(in, kYarnCommand);
  if (!args) return {};
  return command_line_registries(*args, kYarnCommand, false)["registry"];
}

}  // namespace

// The default registry yarn fetches from: berry's (YARN_NPM_REGISTRY_SERVER, else the closest
// .yarnrc.yml), else classic's (YARN_REGISTRY, else the closest .yarnrc), else npm's. Inside the
// sandbox the home is private, so the profile hands this to yarn in the environment.
Result<ToolValues> yarn_registry(const ToolConfigInput& in) {
  const YarnFiles f = read_yarn_files(in);  // home first, then from / down: the last wins
  auto last = [](const std::vector<std::pair<std::string, Flat>>& files, const char* key) {
    std::string found;
    for (const auto& [dir, flat] : files) {
      if (auto it = flat.find(key); it != flat.end() && !it->second.empty()) found = it->second;
    }
    return found;
  };
  // yarn classic's --registry first (berry refuses the option), then the environment and files.
  std::string url = command_line_registry(in);
  if (!url.empty()) return ToolValues{url_without_userinfo(url)};  // handed into the sandbox
  if (auto v = env_value(in, "YARN_NPM_REGISTRY_SERVER"); v && !v->empty()) {
    url = *v;
  } else if (url = last(f.berry, "npmRegistryServer"); url.empty()) {
    if (auto c = env_value(in, "YARN_REGISTRY"); c && !c->empty()) {
      url = *c;
    } else if (url = last(f.classic, "registry"); url.empty()) {
      auto cfg = load_npm_config(in, {"npm_config_"});
      if (!cfg) return cfg.error();
      url = cfg->get("registry").value_or("");
    }
  }
  if (url.empty()) return no_registry("yarn");
  return ToolValues{url_without_userinfo(url)};
}

Result<ToolValues> yarn_registries(const ToolConfigInput& in) {
  const YarnFiles f = read_yarn_files(in);
  ToolValues out;
  auto add = [&](const std::string& url, const std::string& source) -> Result<void> {
    if (url.empty()) return {};
    auto r = registry_rule(url, source);
    if (!r) return r.error();
    add_unique(out, *r);
    return {};
  };
  for (const auto& [dir, flat] : f.berry) {
    for (const auto& [key, value] : flat) {
      if (key == "npmRegistryServer" ||
          (key.starts_with("npmScopes.") && key.ends_with(".npmRegistryServer"))) {
        if (auto r = add(value, dir + "/.yarnrc.yml: " + key); !r) return r.error();
      }
    }
  }
  if (auto v = env_value(in, "YARN_NPM_REGISTRY_SERVER")) {
    if (auto r = add(*v, "YARN_NPM_REGISTRY_SERVER"); !r) return r.error();
  }
  for (const auto& [dir, flat] : f.classic) {
    for (const auto& [key, value] : flat) {
      if (key == "registry" || (key.starts_with("@") && key.ends_with(":registry"))) {
        if (auto r = add(value, dir + "/.yarnrc: " + key); !r) return r.error();
      }
    }
  }
  if (auto v = env_value(in, "YARN_REGISTRY")) {
    if (auto r = add(*v, "YARN_REGISTRY"); !r) return r.error();
  }
  if (auto r = add(command_line_registry(in), "the command line (--registry)"); !r) {
    return r.error();
  }
  // yarn classic also takes npm's registries from .npmrc.
  auto cfg = load_npm_config(in, {"npm_config_"});
  if (!cfg) return cfg.error();
  if (auto reg = cfg->get("registry"); reg && !reg->empty()) {
    auto rules = registry_rules(*cfg, "yarn");
    if (!rules) return rules.error();
    for (const std::string& r : *rules) add_unique(out, r);
  }
  if (out.empty()) return no_registry("yarn");
  return out;
}

Result<ToolValues> yarn_cache(const ToolConfigInput& in) {
  const YarnFiles f = read_yarn_files(in);
  ToolValues out;
  // berry: the global folder holds the shared cache (the default since yarn 4), a cacheFolder
  // setting moves the cache (relative to the file that says so).
  std::string global = in.home + "/.yarn/berry";
  std::string cache;
  // A folder named by a file in or above the project counts only inside the project: the
  // project (or an earlier install script) must not choose a writable directory in the home.
  auto trusted = [&](const std::string& dir, const std::string& path) {
    return dir == in.home || path_within(path, normalize_path(in.project));
  };
  for (const auto& [dir, flat] : f.berry) {
    if (auto g = flat.find("globalFolder"); g != flat.end()) {
      if (std::string p = config_path(g->second, in.home, dir); trusted(dir, p)) global = p;
    }
    if (auto c = flat.find("cacheFolder"); c != flat.end()) {
      if (std::string p = config_path(c->second, in.home, dir); trusted(dir, p)) cache = p;
    }
  }
  if (auto v = env_value(in, "YARN_GLOBAL_FOLDER")) global = config_path(*v, in.home, in.cwd);
  if (auto v = env_value(in, "YARN_CACHE_FOLDER")) cache = config_path(*v, in.home, in.cwd);
  add_unique(out, global);
  if (!cache.empty()) add_unique(out, cache);
  // classic: ~/.cache/yarn (XDG), or cache-folder.
  std::string classic;
  if (auto x = env_value(in, "XDG_CACHE_HOME"); x && !x->empty() && (*x)[0] == '/') {
    classic = *x + "/yarn";
  } else {
    classic = in.home + "/.cache/yarn";
  }
  for (const auto& [dir, flat] : f.classic) {
    if (auto c = flat.find("cache-folder"); c != flat.end()) {
      if (std::string p = config_path(c->second, in.home, dir); trusted(dir, p)) classic = p;
    }
  }
  add_unique(out, classic);
  return out;
}

}  // namespace moat::policy::tools
