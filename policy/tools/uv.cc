// uv's index configuration; see uv.h. The TOML reader below knows what uv's index settings use
// (tables, arrays of tables, strings, booleans, arrays of strings and of inline tables) and
// reports anything else it cannot skip as an error naming the file and line.
#include "policy/tools/uv.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "policy/tools/common.h"
#include "policy/tools/pip.h"
#include "policy/variables.h"

namespace moat::policy::tools {
namespace {

std::vector<std::string> split_on(std::string_view s, std::string_view separators) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find_first_of(separators, pos);
    if (end == std::string_view::npos) end = s.size();
    if (end > pos) out.emplace_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// --- a small TOML reader ------------------------------------------------------------------------
using Table = std::map<std::string, std::string>;  // key -> string ("true"/"false" for booleans)

struct TomlValue {
  std::optional<std::string> scalar;  // a string or a boolean
  std::vector<std::string> strings;   // an array of strings
  std::vector<Table> tables;          // an array of inline tables
};

struct TomlDoc {
  std::map<std::string, TomlValue> values;           // "table.key" ("key" at the root)
  std::map<std::string, std::vector<Table>> arrays;  // [[table]] -> its tables
};

class TomlReader {
 public:
  TomlReader(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  Result<TomlDoc> read() {
    TomlDoc doc;
    std::string table;
    Table* array_table = nullptr;
    while (skip_blank_lines()) {
      const int line = line_;
      if (peek() == '[') {
        const bool array = text_.compare(pos_, 2, "[[") == 0;
        pos_ += array ? 2 : 1;
        size_t end = text_.find(array ? "]]" : "]", pos_);
        if (end == std::string::npos || text_.find('\n', pos_) < end)
          return error(line, "unclosed table header");
        table = trim(text_.substr(pos_, end - pos_));
        pos_ = end + (array ? 2 : 1);
        array_table = nullptr;
        if (array) {
          doc.arrays[table].emplace_back();
          array_table = &doc.arrays[table].back();
        }
        if (!end_of_line()) return error(line, "text after a table header");
        continue;
      }
      std::string key = read_key();
      if (key.empty() || !consume('=')) return error(line, "expected key = value");
      Result<TomlValue> value = read_value();
      if (!value) return value.error();
      if (!end_of_line()) return error(line, "text after a value");
      if (array_table) {
        if (value->scalar) (*array_table)[key] = *value->scalar;
      } else {
        doc.values[table.empty() ? key : table + "." + key] = std::move(*value);
      }
    }
    return doc;
  }

 private:
  static std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r'))
      ++pos_;
  }
  void skip_comment() {
    if (peek() == '#') {
      while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
    }
  }
  // Inside arrays and inline tables values may span lines.
  void skip_space_and_newlines() {
    for (;;) {
      skip_spaces();
      skip_comment();
      if (peek() != '\n') return;
      ++pos_;
      ++line_;
    }
  }
  bool skip_blank_lines() {
    skip_space_and_newlines();
    return pos_ < text_.size();
  }
  bool end_of_line() {
    skip_spaces();
    skip_comment();
    if (pos_ >= text_.size()) return true;
    if (text_[pos_] != '\n') return false;
    ++pos_;
    ++line_;
    return true;
  }
  bool consume(char c) {
    skip_spaces();
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  std::string read_key() {
    skip_spaces();
    if (peek() == '"' || peek() == '\'') {
      Result<std::string> s = read_string();
      return s ? *s : std::string();
    }
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-' ||
            text_[pos_] == '_' || text_[pos_] == '.')) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  Result<std::string> read_string() {
    const int line = line_;
    const char quote = text_[pos_++];
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != quote && text_[pos_] != '\n') {
      char c = text_[pos_++];
      if (c == '\\' && quote == '"' && pos_ < text_.size()) {
        char e = text_[pos_++];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        continue;
      }
      out += c;
    }
    if (peek() != quote) return error(line, "unterminated string");
    ++pos_;
    return out;
  }
  Result<TomlValue> read_value() {
    skip_spaces();
    const int line = line_;
    TomlValue v;
    const char c = peek();
    if (c == '"' || c == '\'') {
      if (text_.compare(pos_, 3, std::string(3, c)) == 0)
        return error(line, "multi-line strings are not supported here");
      Result<std::string> s = read_string();
      if (!s) return s.error();
      v.scalar = *s;
      return v;
    }
    if (text_.compare(pos_, 4, "true") == 0 || text_.compare(pos_, 5, "false") == 0) {
      v.scalar = text_[pos_] == 't' ? "true" : "false";
      pos_ += text_[pos_] == 't' ? 4 : 5;
      return v;
    }
    if (c == '[') {
      ++pos_;
      for (;;) {
        skip_space_and_newlines();
        if (peek() == ']') {
          ++pos_;
          return v;
        }
        if (peek() == '{') {
          Result<Table> t = read_inline_table();
          if (!t) return t.error();
          v.tables.push_back(std::move(*t));
        } else {
          Result<TomlValue> item = read_value();
          if (!item) return item.error();
          if (item->scalar) v.strings.push_back(*item->scalar);
        }
        skip_space_and_newlines();
        if (peek() == ',')
          ++pos_;
        else if (peek() != ']')
          return error(line_, "expected ',' or ']' in an array");
      }
    }
    if (c == '{') {
      Result<Table> t = read_inline_table();
      if (!t) return t.error();
      v.tables.push_back(std::move(*t));
      return v;
    }
    // Numbers and dates: not used by the settings we read; skip to the end of the token.
    size_t start = pos_;
    while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_])) &&
           text_[pos_] != ',' && text_[pos_] != ']' && text_[pos_] != '}' && text_[pos_] != '#') {
      ++pos_;
    }
    if (pos_ == start) return error(line, "expected a value");
    return v;
  }
  Result<Table> read_inline_table() {
    ++pos_;  // '{'
    Table t;
    for (;;) {
      skip_spaces();
      if (peek() == '}') {
        ++pos_;
        return t;
      }
      const int line = line_;
      std::string key = read_key();
      if (key.empty() || !consume('='))
        return error(line, "expected key = value in an inline table");
      Result<TomlValue> value = read_value();
      if (!value) return value.error();
      if (value->scalar) t[key] = *value->scalar;
      skip_spaces();
      if (peek() == ',')
        ++pos_;
      else if (peek() != '}')
        return error(line, "expected ',' or '}' in an inline table");
    }
  }
  Error error(int line, const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument,
                      path_ + ":" + std::to_string(line) + ": cannot read this TOML: " + what,
                      "uv itself would refuse the file; fix it");
  }

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
  int line_ = 1;
};

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
Level level_from(const TomlDoc& doc, const std::string& prefix) {
  Level l;
  for (const std::string& table : {prefix, prefix + "pip."}) {
    auto get = [&](const char* key) -> const TomlValue* {
      auto it = doc.values.find(table + key);
      return it == doc.values.end() ? nullptr : &it->second;
    };
    if (const TomlValue* v = get("index-url"); v && v->scalar)
      add_unique(l.default_index, *v->scalar);
    if (const TomlValue* v = get("extra-index-url")) {
      for (const std::string& s : v->strings) add_unique(l.indexes, s);
    }
    if (const TomlValue* v = get("find-links")) {
      for (const std::string& s : v->strings) add_unique(l.find_links, s);
    }
    if (const TomlValue* v = get("no-index"); v && v->scalar) l.no_index = *v->scalar == "true";
  }
  if (auto it = doc.values.find(prefix + "cache-dir");
      it != doc.values.end() && it->second.scalar) {
    l.cache_dir = *it->second.scalar;
  }
  std::vector<Table> tables;
  if (auto it = doc.arrays.find(prefix + "index"); it != doc.arrays.end()) tables = it->second;
  if (auto it = doc.values.find(prefix + "index"); it != doc.values.end()) {
    tables.insert(tables.end(), it->second.tables.begin(), it->second.tables.end());
  }
  for (const Table& t : tables) {
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
  Level env;
  if (auto v = env_value(in, "UV_DEFAULT_INDEX"); v && !v->empty())
    add_unique(env.default_index, *v);
  if (auto v = env_value(in, "UV_INDEX_URL"); v && !v->empty()) add_unique(env.default_index, *v);
  if (auto v = env_value(in, "UV_INDEX")) {
    for (const std::string& e : split_on(*v, " \t\n")) add_unique(env.indexes, index_url_of(e));
  }
  if (auto v = env_value(in, "UV_EXTRA_INDEX_URL")) {
    for (const std::string& e : split_on(*v, " \t\n")) add_unique(env.indexes, e);
  }
  if (auto v = env_value(in, "UV_FIND_LINKS")) {
    for (const std::string& e : split_on(*v, ",")) add_unique(env.find_links, e);
  }
  if (auto v = env_value(in, "UV_CACHE_DIR"); v && !v->empty()) env.cache_dir = *v;
  if (auto v = env_value(in, "UV_NO_INDEX"); v && !v->empty())
    env.no_index = *v != "0" && *v != "false";
  levels.push_back(env);

  const std::optional<std::string> no_config = env_value(in, "UV_NO_CONFIG");
  if (!no_config || no_config->empty() || *no_config == "0" || *no_config == "false") {
    std::vector<std::pair<std::string, std::string>> files;  // path, prefix; lowest first
    std::string xdg_dirs = env_value(in, "XDG_CONFIG_DIRS").value_or("");
    if (xdg_dirs.empty()) xdg_dirs = "/etc/xdg";
    for (const std::string& d : split_on(xdg_dirs, ":"))
      files.push_back({normalize_path(d + "/uv/uv.toml"), ""});
    files.push_back({"/etc/uv/uv.toml", ""});
    if (auto cf = env_value(in, "UV_CONFIG_FILE"); cf && !cf->empty()) {
      files.push_back({absolute(in, *cf), ""});
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
      Result<TomlDoc> doc = TomlReader(path, *text).read();
      if (!doc) return doc.error();
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
