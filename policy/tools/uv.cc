// uv's index configuration; see uv.h. The files are read by the resolvers' TOML reader
// (toml.h): a file it cannot read is an error naming the file and line.
#include "policy/tools/uv.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "policy/tools/common.h"
#include "policy/tools/pip.h"
#include "policy/tools/toml.h"
#include "policy/variables.h"

namespace moat::policy::tools {
namespace {

// --- uv's settings ------------------------------------------------------------------------------
struct Level {
  std::vector<std::string> default_index;  // at most one
  std::vector<std::string> indexes;
  std::vector<std::string> find_links;
  std::optional<std::string> cache_dir;
  std::optional<bool> no_index;
};

std::string absolute(const ToolConfigInput& in, const std::string& p) {
  if (p == "~" || p.rfind("~/", 0) == 0) return normalize_path(in.home + p.substr(1));
  if (!p.empty() && p[0] == '/') return normalize_path(p);
  return normalize_path(in.cwd + "/" + p);
}

// One file's index settings under `prefix` ("" for uv.toml, "tool.uv." for pyproject.toml). The
// `pip` table (for `uv pip`) counts too: its indexes are reachable by the same commands.
Level level_from(const TomlValues& doc, const std::string& prefix) {
  Level l;
  for (const std::string& table : {prefix, prefix + "pip."}) {
    auto get = [&](const char* key) -> const std::string* {
      auto it = doc.find(table + key);
      return it == doc.end() ? nullptr : &it->second;
    };
    if (const std::string* v = get("index-url")) add_unique(l.default_index, *v);
    for (const std::string& s : toml_array(doc, table + "extra-index-url")) {
      add_unique(l.indexes, s);
    }
    for (const std::string& s : toml_array(doc, table + "find-links")) add_unique(l.find_links, s);
    if (const std::string* v = get("no-index")) l.no_index = *v == "true";
  }
  if (auto it = doc.find(prefix + "cache-dir"); it != doc.end()) l.cache_dir = it->second;
  // [[index]] tables and `index = [{...}]` alike.
  for (const TomlValues& t : toml_tables(doc, prefix + "index")) {
    auto url = t.find("url");
    if (url == t.end()) continue;
    auto def = t.find("default");
    if (def != t.end() && def->second == "true")
      add_unique(l.default_index, url->second);
    else
      add_unique(l.indexes, url->second);
  }
  return l;
}

std::string index_url_of(const std::string& entry) {
  // UV_INDEX entries may be named: "name=https://..."
  size_t eq = entry.find('=');
  size_t scheme = entry.find("://");
  return eq != std::string::npos && (scheme == std::string::npos || eq < scheme)
             ? entry.substr(eq + 1)
             : entry;
}

}  // namespace

Result<UvSettings> read_uv_settings(const ToolConfigInput& in) {
  UvSettings s;
  std::vector<Level> levels;  // highest precedence first
  // The command line (`uv pip install`, `uv sync`, `uvx`, ...) over the environment. The user
  // typed it: its paths count wherever they are.
  const std::vector<std::string> cli =
      tool_arguments(in, kUvCommand).value_or(std::vector<std::string>{});
  Level args;
  auto last = [&](std::initializer_list<std::string_view> names) -> std::optional<std::string> {
    std::vector<std::string> v = option_values(cli, kUvCommand, names);
    if (v.empty() || v.back().empty()) return std::nullopt;
    return v.back();
  };
  if (auto v = last({"--default-index"})) add_unique(args.default_index, *v);
  if (auto v = last({"--index-url", "-i"})) add_unique(args.default_index, *v);
  for (const std::string& v : option_values(cli, kUvCommand, {"--index"})) {
    for (const std::string& e : split_any(v, " \t\n")) add_unique(args.indexes, index_url_of(e));
  }
  for (const std::string& v : option_values(cli, kUvCommand, {"--extra-index-url"})) {
    for (const std::string& e : split_any(v, " \t\n")) add_unique(args.indexes, e);
  }
  for (const std::string& v : option_values(cli, kUvCommand, {"--find-links", "-f"})) {
    for (const std::string& e : split_any(v, ",")) add_unique(args.find_links, e);
  }
  if (auto v = last({"--cache-dir"})) args.cache_dir = *v;
  if (has_flag(cli, kUvCommand, {"--no-index"})) args.no_index = true;
  levels.push_back(args);

  Level env;
  if (auto v = env_value(in, "UV_DEFAULT_INDEX"); v && !v->empty())
    add_unique(env.default_index, *v);
  if (auto v = env_value(in, "UV_INDEX_URL"); v && !v->empty()) add_unique(env.default_index, *v);
  if (auto v = env_value(in, "UV_INDEX")) {
    for (const std::string& e : split_any(*v, " \t\n")) add_unique(env.indexes, index_url_of(e));
  }
  if (auto v = env_value(in, "UV_EXTRA_INDEX_URL")) {
    for (const std::string& e : split_any(*v, " \t\n")) add_unique(env.indexes, e);
  }
  if (auto v = env_value(in, "UV_FIND_LINKS")) {
    for (const std::string& e : split_any(*v, ",")) add_unique(env.find_links, e);
  }
  if (auto v = env_value(in, "UV_CACHE_DIR"); v && !v->empty()) env.cache_dir = *v;
  if (auto v = env_value(in, "UV_NO_INDEX"); v && !v->empty())
    env.no_index = *v != "0" && *v != "false";
  levels.push_back(env);

  const std::optional<std::string> no_config = env_value(in, "UV_NO_CONFIG");
  const bool read_files =
      !has_flag(cli, kUvCommand, {"--no-config"}) &&
      (!no_config || no_config->empty() || *no_config == "0" || *no_config == "false");
  if (read_files) {
    std::vector<std::pair<std::string, std::string>> files;  // path, prefix; lowest first
    std::string xdg_dirs = env_value(in, "XDG_CONFIG_DIRS").value_or("");
    if (xdg_dirs.empty()) xdg_dirs = "/etc/xdg";
    for (const std::string& d : split_any(xdg_dirs, ":"))
      files.push_back({normalize_path(d + "/uv/uv.toml"), ""});
    files.push_back({"/etc/uv/uv.toml", ""});
    std::optional<std::string> config_file = last({"--config-file"});
    if (!config_file) config_file = env_value(in, "UV_CONFIG_FILE");
    if (config_file && !config_file->empty()) {
      files.push_back({absolute(in, *config_file), ""});
    } else {
      std::string xdg_home = env_value(in, "XDG_CONFIG_HOME").value_or("");
      if (xdg_home.empty() || xdg_home[0] != '/') xdg_home = in.home + "/.config";
      files.push_back({normalize_path(xdg_home + "/uv/uv.toml"), ""});
      // The project: uv.toml, else pyproject.toml's [tool.uv], in the project's root.
      const std::string uv_toml = normalize_path(in.project + "/uv.toml");
      if (in.read_file(uv_toml))
        files.push_back({uv_toml, ""});
      else
        files.push_back({normalize_path(in.project + "/pyproject.toml"), "tool.uv."});
    }
    std::vector<Level> from_files;
    for (const auto& [path, prefix] : files) {
      std::optional<std::string> text = in.read_file(path);
      if (!text) continue;
      s.config_files.push_back(path);
      Result<TomlValues> doc = parse_toml(*text);
      if (!doc) {
        return make_error(ErrorCode::kInvalidArgument, path + ":" + doc.error().message,
                          "uv itself would refuse the file; fix it");
      }
      Level level = level_from(*doc, prefix);
      if (path_within(path, in.project)) {
        // The project's files are the project's to write, and the project may be the attacker:
        // their paths count only inside the project (no write grant on the home through a
        // cache-dir, no read grant elsewhere through find-links).
        if (level.cache_dir && !path_within(absolute(in, *level.cache_dir), in.project)) {
          level.cache_dir.reset();
        }
        std::vector<std::string> kept;
        for (const std::string& f : level.find_links) {
          const bool file_url = f.rfind("file://", 0) == 0;
          const bool remote = f.find("://") != std::string::npos && !file_url;
          if (remote || path_within(absolute(in, file_url ? f.substr(7) : f), in.project)) {
            kept.push_back(f);
          }
        }
        level.find_links = std::move(kept);
      }
      from_files.push_back(std::move(level));
    }
    levels.insert(levels.end(), from_files.rbegin(), from_files.rend());
  }

  std::optional<std::string> cache;
  std::optional<bool> no_index;
  for (const Level& l : levels) {
    if (!l.default_index.empty() && !s.default_configured) {
      s.indexes.insert(s.indexes.begin(), l.default_index.front());
      s.default_configured = true;
    }
    for (const std::string& i : l.indexes) add_unique(s.indexes, i);
    for (const std::string& f : l.find_links) add_unique(s.find_links, f);
    if (!cache && l.cache_dir) cache = l.cache_dir;
    if (!no_index && l.no_index) no_index = l.no_index;
  }
  s.no_index = no_index.value_or(false);
  if (cache) {
    s.cache_dir = absolute(in, *cache);
  } else {
    std::string xdg_cache = env_value(in, "XDG_CACHE_HOME").value_or("");
    if (xdg_cache.empty() || xdg_cache[0] != '/') xdg_cache = in.home + "/.cache";
    s.cache_dir = normalize_path(xdg_cache + "/uv");
  }
  return s;
}

Result<ToolValues> uv_indexes(const ToolConfigInput& in) {
  Result<UvSettings> s = read_uv_settings(in);
  if (!s) return s.error();
  if (s->no_index) return ToolValues{};
  if (!s->default_configured) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "uv has no default index configured (UV_DEFAULT_INDEX, index-url or an [[index]] with "
        "default = true in " +
            std::to_string(s->config_files.size()) +
            " uv.toml/pyproject.toml file(s) read), and uv's built-in default is compiled into "
            "uv where moat cannot read it",
        "configure it: UV_DEFAULT_INDEX=URL, or in ~/.config/uv/uv.toml: [[index]] url = \"URL\" "
        "default = true");
  }
  return ToolValues(s->indexes);
}

Result<ToolValues> uv_index_hosts(const ToolConfigInput& in) {
  Result<ToolValues> indexes = uv_indexes(in);
  if (!indexes) return indexes.error();
  Result<UvSettings> s = read_uv_settings(in);
  if (!s) return s.error();
  return index_host_rules("uv", *indexes, s->find_links);
}

Result<ToolValues> uv_find_links(const ToolConfigInput& in) {
  Result<UvSettings> s = read_uv_settings(in);
  if (!s) return s.error();
  ToolValues out;
  for (const std::string& f : s->find_links) {
    if (f.find("://") != std::string::npos) {
      if (f.rfind("file://", 0) == 0 && f.size() > 7 && f[7] == '/')
        add_unique(out, normalize_path(f.substr(7)));
      continue;
    }
    add_unique(out, absolute(in, f));
  }
  return out;
}

Result<ToolValues> uv_cache(const ToolConfigInput& in) {
  Result<UvSettings> s = read_uv_settings(in);
  if (!s) return s.error();
  return ToolValues{s->cache_dir};
}

Result<ToolValues> uv_config_files(const ToolConfigInput& in) {
  Result<UvSettings> s = read_uv_settings(in);
  if (!s) return s.error();
  return ToolValues(s->config_files);
}

}  // namespace moat::policy::tools
