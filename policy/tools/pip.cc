// pip's configuration, read the way pip 23-25 reads it (pip/_internal/configuration.py and
// cli/parser.py), and the ${pip.*} resolvers. No registry name is written here: the default index
// is read from the installed pip's own source.
#include "policy/tools/pip.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <sstream>

#include "policy/tools/common.h"
#include "policy/variables.h"

namespace moat::policy::tools {
namespace {

// pip's _normalize_name: lower case, '_' as '-'.
std::string normalize_key(std::string key) {
  key = lower(std::move(key));
  std::replace(key.begin(), key.end(), '_', '-');
  return key;
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

struct IniValue {
  std::string section, key, value, from;
  std::string file;  // "" for the environment
};

// Python's configparser as pip uses it (RawConfigParser): [section], `key = value` or
// `key: value`, indented lines continue the previous value, whole-line comments with # or ;.
Result<std::vector<IniValue>> parse_ini(const std::string& path, const std::string& text) {
  std::vector<IniValue> out;
  std::string section;
  bool have_section = false;
  int line_no = 0;
  size_t pos = 0;
  std::optional<size_t> current;  // the value that indented lines continue
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        std::string_view(text).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    const std::string t = trim(line);
    if (t.empty()) continue;
    if (t[0] == '#' || t[0] == ';') continue;
    const bool indented = std::isspace(static_cast<unsigned char>(line[0]));
    if (indented && current) {
      std::string& v = out[*current].value;
      v += v.empty() ? t : "\n" + t;
      continue;
    }
    const std::string where = path + ":" + std::to_string(line_no);
    if (t.front() == '[') {
      size_t close = t.find(']');
      if (close == std::string::npos) {
        return make_error(ErrorCode::kInvalidArgument,
                          where + ": pip cannot parse this line: '" + t + "'",
                          "pip itself refuses this file; fix it (pip config debug shows it)");
      }
      section = t.substr(1, close - 1);
      have_section = true;
      current.reset();
      continue;
    }
    size_t delim = t.find_first_of("=:");
    if (delim == std::string::npos || delim == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        where + ": pip cannot parse this line: '" + t + "'",
                        "pip itself refuses this file; fix it (pip config debug shows it)");
    }
    if (!have_section) {
      return make_error(ErrorCode::kInvalidArgument,
                        where + ": a setting before any [section]: '" + t + "'",
                        "put it under [global] (pip itself refuses this file)");
    }
    out.push_back({section, normalize_key(trim(t.substr(0, delim))), trim(t.substr(delim + 1)),
                   path + " [" + section + "]", path});
    current = out.size() - 1;
  }
  return out;
}

// Absolute path of a value pip treats as a path: `~` is the home, relative is from the cwd.
std::string absolute_path(const ToolConfigInput& in, const std::string& p) {
  if (p == "~" || p.rfind("~/", 0) == 0) return normalize_path(in.home + p.substr(1));
  if (!p.empty() && p[0] == '/') return normalize_path(p);
  return normalize_path(in.cwd + "/" + p);
}

std::optional<bool> parse_bool(std::string v) {
  v = lower(trim(v));
  if (v == "y" || v == "yes" || v == "t" || v == "true" || v == "on" || v == "1") return true;
  if (v == "n" || v == "no" || v == "f" || v == "false" || v == "off" || v == "0") return false;
  return std::nullopt;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool is_remote_url(std::string_view s) {
  return starts_with_ci(s, "http://") || starts_with_ci(s, "https://");
}

// A key = value line of a pyvenv.cfg.
std::string venv_cfg_value(const std::string& cfg, std::string_view key) {
  std::istringstream in(cfg);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    if (trim(std::string_view(line).substr(0, eq)) == key) return trim(line.substr(eq + 1));
  }
  return {};
}

// "3.11.2" -> "3.11"
std::string major_minor(const std::string& version) {
  size_t first = version.find('.');
  if (first == std::string::npos) return {};
  size_t second = version.find('.', first + 1);
  return version.substr(0, second);
}

// The first quoted string at or after `from`.
std::optional<std::string> quoted_after(const std::string& text, size_t from, size_t limit) {
  size_t q = text.find_first_of("\"'", from);
  if (q == std::string::npos || q > from + limit) return std::nullopt;
  size_t end = text.find(text[q], q + 1);
  if (end == std::string::npos) return std::nullopt;
  return text.substr(q + 1, end - q - 1);
}

std::optional<PipDefaultIndex> default_index_from(const ToolConfigInput& in,
                                                  const std::string& pip_dir) {
  const std::string path = pip_dir + "/_internal/models/index.py";
  std::optional<std::string> text = in.read_file(path);
  if (!text) return std::nullopt;
  size_t at = text->find("PyPI = PackageIndex(");
  if (at == std::string::npos) return std::nullopt;
  std::optional<std::string> url = quoted_after(*text, at + 20, 200);
  size_t dom = text->find("file_storage_domain", at);
  if (!url || dom == std::string::npos || dom > at + 400) return std::nullopt;
  std::optional<std::string> domain = quoted_after(*text, dom + 19, 20);
  if (!domain || !is_remote_url(*url)) return std::nullopt;
  // urljoin(url, "simple")
  std::string base = url->substr(0, url->rfind('/') + 1);
  if (base.size() <= url->find("://") + 3) base = *url + "/";
  return PipDefaultIndex{base + "simple", *domain, path};
}

// The local path a find-links entry names, or nullopt for a URL.
std::optional<std::string> local_find_link(const ToolConfigInput& in, const std::string& f) {
  if (is_remote_url(f)) return std::nullopt;
  if (starts_with_ci(f, "file://")) {
    std::string rest = f.substr(7);
    if (starts_with_ci(rest, "localhost/")) rest = rest.substr(9);
    if (!rest.empty() && rest[0] == '/') return normalize_path(rest);
    return std::nullopt;
  }
  if (f.find("://") != std::string::npos) return std::nullopt;  // another scheme: nothing to read
  return absolute_path(in, f);
}

// pipx's --pip-args value split as pipx splits it (Python's shlex.split): white space separates
// words, quotes group them, a backslash outside single quotes keeps the next character.
std::vector<std::string> shell_words(std::string_view s) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < s.size()) {
        word += s[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < s.size()) {
      word += s[++i];
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(std::move(word));
  return out;
}

// pip's own arguments in the wrapped command: those of `pip ...` or `python -m pip ...`, or what
// `pipx install|run` hands to pip (its --index-url, then its --pip-args, as pipx orders them).
// Empty for any other command.
std::vector<std::string> pip_arguments(const ToolConfigInput& in) {
  if (std::optional<std::vector<std::string>> args = tool_arguments(in, kPipCommand)) {
    return *args;
  }
  std::optional<std::vector<std::string>> pipx = tool_arguments(in, kPipxCommand);
  if (!pipx) return {};
  std::vector<std::string> out;
  if (auto url = option_values(*pipx, kPipxCommand, {"--index-url", "-i"}); !url.empty()) {
    out = {"--index-url", url.back()};
  }
  if (auto extra = option_values(*pipx, kPipxCommand, {"--pip-args"}); !extra.empty()) {
    for (std::string& w : shell_words(extra.back())) out.push_back(std::move(w));
  }
  return out;
}

}  // namespace

std::string pip_virtualenv(const ToolConfigInput& in) {
  if (std::optional<std::string> v = env_value(in, "VIRTUAL_ENV"); v && !v->empty()) {
    return absolute_path(in, *v);
  }
  for (const char* name : {".venv", "venv"}) {
    const std::string dir = normalize_path(in.project + "/" + name);
    if (in.read_file(dir + "/pyvenv.cfg")) return dir;
  }
  return {};
}

PipDefaultIndex pip_default_index(const ToolConfigInput& in) {
  // The pip that runs: the virtualenv's, else the first interpreter on PATH we can place.
  std::vector<std::string> candidates;
  auto add_venv = [&](const std::string& venv) {
    std::optional<std::string> cfg = in.read_file(venv + "/pyvenv.cfg");
    if (!cfg) return false;
    std::string version = venv_cfg_value(*cfg, "version");
    if (version.empty()) version = venv_cfg_value(*cfg, "version_info");
    const std::string mm = major_minor(version);
    if (!mm.empty()) candidates.push_back(venv + "/lib/python" + mm + "/site-packages/pip");
    return true;
  };
  if (std::string venv = pip_virtualenv(in); !venv.empty()) add_venv(venv);
  std::string path = env_value(in, "PATH").value_or("/usr/local/bin:/usr/bin:/bin");
  std::string pyenv_root = env_value(in, "PYENV_ROOT").value_or(in.home + "/.pyenv");
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t colon = path.find(':', pos);
    std::string dir = normalize_path(
        path.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos));
    pos = colon == std::string::npos ? path.size() + 1 : colon + 1;
    if (dir.empty() || dir[0] != '/') continue;
    if (add_venv(normalize_path(dir + "/.."))) continue;
    if (dir == normalize_path(pyenv_root + "/shims")) {
      std::string version = env_value(in, "PYENV_VERSION").value_or("");
      if (version.empty()) {
        std::optional<std::string> file = in.read_file(pyenv_root + "/version");
        if (file) version = trim(file->substr(0, file->find('\n')));
      }
      const std::string mm = major_minor(version);
      if (!mm.empty()) {
        candidates.push_back(pyenv_root + "/versions/" + version + "/lib/python" + mm +
                             "/site-packages/pip");
      }
    } else if (dir == "/usr/bin" || dir == "/bin") {
      candidates.push_back("/usr/lib/python3/dist-packages/pip");  // Debian and derivatives
    }
  }
  for (const std::string& c : candidates) {
    if (std::optional<PipDefaultIndex> d = default_index_from(in, c)) return *d;
  }
  return {};
}

Result<PipSettings> read_pip_settings(const ToolConfigInput& in) {
  PipSettings s;
  const std::vector<std::string> cli = pip_arguments(in);
  // --isolated: pip reads neither the user's files nor PIP_* variables.
  const bool isolated = has_flag(cli, kPipCommand, {"--isolated"});
  std::vector<std::string> files;
  const std::optional<std::string> env_file = env_value(in, "PIP_CONFIG_FILE");
  if (env_file != "/dev/null") {
    std::string xdg_dirs = env_value(in, "XDG_CONFIG_DIRS").value_or("");
    if (xdg_dirs.empty()) xdg_dirs = "/etc/xdg";
    size_t pos = 0;
    while (pos <= xdg_dirs.size()) {
      size_t colon = xdg_dirs.find(':', pos);
      std::string dir =
          xdg_dirs.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
      pos = colon == std::string::npos ? xdg_dirs.size() + 1 : colon + 1;
      if (!dir.empty() && dir[0] == '/') files.push_back(normalize_path(dir + "/pip/pip.conf"));
    }
    files.push_back("/etc/pip.conf");
    std::optional<std::string> env_text;
    if (env_file && !env_file->empty()) env_text = in.read_file(absolute_path(in, *env_file));
    // pip skips the user's files when PIP_CONFIG_FILE names a file that exists.
    if (!env_text && !isolated) {
      files.push_back(normalize_path(in.home + "/.pip/pip.conf"));
      std::string xdg_home = env_value(in, "XDG_CONFIG_HOME").value_or("");
      if (xdg_home.empty() || xdg_home[0] != '/') xdg_home = in.home + "/.config";
      files.push_back(normalize_path(xdg_home + "/pip/pip.conf"));
    }
    if (std::string venv = pip_virtualenv(in); !venv.empty()) files.push_back(venv + "/pip.conf");
    if (env_file && !env_file->empty()) files.push_back(absolute_path(in, *env_file));
  }

  // "section.key" -> value: a later file replaces an earlier one's value (pip's OVERRIDE_ORDER).
  std::map<std::string, IniValue> loaded;
  for (const std::string& f : files) {
    std::optional<std::string> text = in.read_file(f);
    if (!text) continue;
    s.config_files.push_back(f);
    Result<std::vector<IniValue>> values = parse_ini(f, *text);
    if (!values) return values.error();
    for (IniValue& v : *values) loaded[v.section + "." + v.key] = std::move(v);
  }
  // [install] over [global], the environment over both; empty values are ignored, as pip does.
  std::map<std::string, IniValue> effective;
  for (const char* section : {"global", "install"}) {
    for (const auto& [name, v] : loaded) {
      if (v.section == section && !v.value.empty()) effective[v.key] = v;
    }
  }
  for (const std::string& e : in.environ) {
    if (isolated || e.rfind("PIP_", 0) != 0) continue;
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq + 1 == e.size()) continue;
    const std::string key = normalize_key(e.substr(4, eq - 4));
    effective[key] = IniValue{":env:", key, e.substr(eq + 1), e.substr(0, eq), ""};
  }
  auto get = [&](const char* key) -> const IniValue* {
    auto it = effective.find(key);
    return it == effective.end() ? nullptr : &it->second;
  };
  if (const IniValue* v = get("index-url")) {
    s.index_url = trim(v->value);
    s.index_url_from = v->from;
  }
  if (const IniValue* v = get("extra-index-url")) s.extra_index_urls = split_words(v->value);
  // A pip.conf inside the project (a virtualenv's there) is the project's to write, and the
  // project may be the attacker: its paths are honoured only inside the project, so it cannot
  // turn the profile's grants into a write grant on the home or a read grant elsewhere.
  auto project_path_ok = [&](const IniValue& v, const std::string& path) {
    return v.file.empty() || !path_within(v.file, in.project) || path_within(path, in.project);
  };
  if (const IniValue* v = get("find-links")) {
    for (const std::string& f : split_words(v->value)) {
      std::optional<std::string> local = local_find_link(in, f);
      if (!local || project_path_ok(*v, *local)) s.find_links.push_back(f);
    }
  }
  if (const IniValue* v = get("trusted-host")) s.trusted_hosts = split_words(v->value);
  if (const IniValue* v = get("target")) {
    std::string target = absolute_path(in, trim(v->value));
    if (project_path_ok(*v, target)) s.target = target;
  }
  if (const IniValue* v = get("no-index")) {
    std::optional<bool> b = parse_bool(v->value);
    if (!b) {
      return make_error(ErrorCode::kInvalidArgument,
                        v->from + ": no-index = '" + v->value + "' is not a boolean",
                        "pip itself refuses it; write yes or no");
    }
    s.no_index = *b;
  }
  if (const IniValue* v = get("cache-dir");
      v && project_path_ok(*v, absolute_path(in, trim(v->value)))) {
    s.cache_dir = absolute_path(in, trim(v->value));
  } else {
    std::string xdg_cache = env_value(in, "XDG_CACHE_HOME").value_or("");
    if (xdg_cache.empty() || xdg_cache[0] != '/') xdg_cache = in.home + "/.cache";
    s.cache_dir = normalize_path(xdg_cache + "/pip");
  }
  // The command line over the environment and files, with pip's own semantics: the options
  // that store a value replace it, the list options (append actions, whose default is the
  // configured list) add to it. The user typed these: paths count wherever they are.
  if (auto v = option_values(cli, kPipCommand, {"--index-url", "-i"});
      !v.empty() && !trim(v.back()).empty()) {
    s.index_url = trim(v.back());
    s.index_url_from = "the command line (--index-url)";
  }
  for (const std::string& u : option_values(cli, kPipCommand, {"--extra-index-url"})) {
    s.extra_index_urls.push_back(u);
  }
  for (const std::string& f : option_values(cli, kPipCommand, {"--find-links", "-f"})) {
    s.find_links.push_back(f);
  }
  for (const std::string& h : option_values(cli, kPipCommand, {"--trusted-host"})) {
    s.trusted_hosts.push_back(h);
  }
  if (auto v = option_values(cli, kPipCommand, {"--target", "-t"});
      !v.empty() && !v.back().empty()) {
    s.target = absolute_path(in, trim(v.back()));
  }
  if (auto v = option_values(cli, kPipCommand, {"--cache-dir"}); !v.empty() && !v.back().empty()) {
    s.cache_dir = absolute_path(in, trim(v.back()));
  }
  if (has_flag(cli, kPipCommand, {"--no-index"})) s.no_index = true;
  // Hosts the indexes serve files from: moat's own key, read from pip's files and environment so
  // it lives next to the index it belongs to. pip ignores sections it does not know.
  if (auto it = loaded.find("moat.file-hosts"); it != loaded.end()) {
    s.file_hosts = split_words(it->second.value);
  }
  if (std::optional<std::string> v = env_value(in, "MOAT_PIP_FILE_HOSTS")) {
    s.file_hosts = split_words(*v);
  }
  return s;
}

Result<ToolValues> pip_indexes(const ToolConfigInput& in) {
  Result<PipSettings> s = read_pip_settings(in);
  if (!s) return s.error();
  ToolValues out;
  if (s->no_index) return out;
  std::string index = s->index_url;
  if (index.empty()) {
    PipDefaultIndex d = pip_default_index(in);
    if (d.simple_url.empty()) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "pip has no index configured (no PIP_INDEX_URL, no index-url in " +
              std::to_string(s->config_files.size()) +
              " pip.conf file(s) read) and pip's own default could not be read from an "
              "installed pip (pip/_internal/models/index.py)",
          "configure the index pip should use: PIP_INDEX_URL=URL, or `pip config set "
          "global.index-url URL`");
    }
    index = d.simple_url;
  }
  add_unique(out, index);
  for (const std::string& u : s->extra_index_urls) add_unique(out, u);
  return out;
}

Result<ToolValues> index_host_rules(const std::string& tool, const ToolValues& indexes,
                                    const std::vector<std::string>& find_links) {
  ToolValues out;
  for (const std::string& u : indexes) {
    std::string rule = url_host_rule(u);
    if (rule.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        tool + "'s index '" + u + "' is not an http(s) URL",
                        "a local index needs no network: use find-links with a directory");
    }
    add_unique(out, rule);
  }
  // A local find-links entry gives no rule (url_host_rule is "", which add_unique skips).
  for (const std::string& f : find_links) add_unique(out, url_host_rule(f));
  return out;
}

Result<ToolValues> pip_index_hosts(const ToolConfigInput& in) {
  Result<ToolValues> indexes = pip_indexes(in);
  if (!indexes) return indexes.error();
  Result<PipSettings> s = read_pip_settings(in);
  if (!s) return s.error();
  return index_host_rules("pip", *indexes, s->find_links);
}

Result<ToolValues> pip_file_hosts(const ToolConfigInput& in) {
  Result<PipSettings> s = read_pip_settings(in);
  if (!s) return s.error();
  ToolValues out;
  for (const std::string& h : s->file_hosts) {
    add_unique(out, is_remote_url(h) ? url_host_rule(h) : lower(h));
  }
  // pip's default index serves its files from another host, which pip's source names: when it
  // is used, by default or named in the configuration (as an index or an extra index).
  if (!s->no_index) {
    PipDefaultIndex d = pip_default_index(in);
    bool uses_default = !d.file_host.empty() && s->index_url.empty();
    const std::string default_rule = d.simple_url.empty() ? "" : url_host_rule(d.simple_url);
    if (!d.file_host.empty() && !default_rule.empty()) {
      if (url_host_rule(s->index_url) == default_rule) uses_default = true;
      for (const std::string& u : s->extra_index_urls) {
        if (url_host_rule(u) == default_rule) uses_default = true;
      }
    }
    if (uses_default) add_unique(out, lower(d.file_host) + ":443");
  }
  return out;
}

Result<ToolValues> pip_find_links(const ToolConfigInput& in) {
  Result<PipSettings> s = read_pip_settings(in);
  if (!s) return s.error();
  ToolValues out;
  for (const std::string& f : s->find_links) {
    if (std::optional<std::string> local = local_find_link(in, f)) add_unique(out, *local);
  }
  return out;
}

Result<ToolValues> pip_cache(const ToolConfigInput& in) {
  Result<PipSettings> s = read_pip_settings(in);
  if (!s) return s.error();
  return ToolValues{s->cache_dir};
}

Result<ToolValues> pip_target(const ToolConfigInput& in) {
  Result<PipSettings> s = read_pip_settings(in);
  if (!s) return s.error();
  ToolValues out;
  add_unique(out, pip_virtualenv(in));
  add_unique(out, s->target);
  return out;
}

Result<ToolValues> pip_config_files(const ToolConfigInput& in) {
  Result<PipSettings> s = read_pip_settings(in);
  if (!s) return s.error();
  return ToolValues(s->config_files);
}

Result<ToolValues> pip_venv_config(const ToolConfigInput& in) {
  const std::string venv = pip_virtualenv(in);
  if (venv.empty() || !in.read_file(venv + "/pyvenv.cfg")) return ToolValues{};
  return ToolValues{venv + "/pip.conf"};
}

Result<ToolValues> pip_venv_startup(const ToolConfigInput& in) {
  const std::string venv = pip_virtualenv(in);
  if (venv.empty()) return ToolValues{};
  ToolValues out;
  for (const char* name :
       {"pyvenv.cfg", "bin/activate", "bin/activate.csh", "bin/activate.fish", "bin/activate.nu",
        "bin/activate.bat", "bin/Activate.ps1", "bin/activate_this.py"}) {
    const std::string path = venv + "/" + name;
    if (in.read_file(path)) out.push_back(path);
  }
  return out;
}

Result<ToolValues> pip_interpreter(const ToolConfigInput& in) {
  const std::string venv = pip_virtualenv(in);
  if (venv.empty()) return ToolValues{};
  std::optional<std::string> cfg = in.read_file(venv + "/pyvenv.cfg");
  if (!cfg) return ToolValues{};
  std::string home = venv_cfg_value(*cfg, "home");
  if (home.empty() || home[0] != '/') return ToolValues{};
  // home is the base interpreter's bin directory; its prefix holds the standard library. The
  // pyvenv.cfg may be the project's (the attacker's) to write: the prefix is granted only if it
  // holds that Python's standard library, so it cannot name ~ or ~/Documents.
  std::string version = venv_cfg_value(*cfg, "version");
  if (version.empty()) version = venv_cfg_value(*cfg, "version_info");
  const std::string prefix = normalize_path(home + "/..");
  const std::string mm = major_minor(version);
  if (mm.empty() || !in.read_file(prefix + "/lib/python" + mm + "/os.py")) return ToolValues{};
  return ToolValues{prefix};
}

}  // namespace moat::policy::tools
