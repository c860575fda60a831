// Internal: npm's configuration layers (builtin, global, user, project, environment) read through
// the injected reader, with npm's own rules for env expansion and npm_config_* names.
#include "policy/tools/npmrc.h"

#include <algorithm>
#include <cctype>

#include "policy/env_filter.h"
#include "policy/variables.h"

namespace moat::policy::tools {
namespace {

// npm's rule: ${NAME} is replaced when NAME is set, left as written when it is not; ${NAME?}
// becomes empty when it is not set. A backslash before '$' keeps it literal.
std::string replace_env(std::string_view text, const ToolConfigInput& in, bool from_project) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const std::size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        // No '}' after this one means none after any later "${" either: the rest is literal
        // (searching again from each "${" would be quadratic in a hostile project's file).
        out += text.substr(i);
        break;
      }
      std::string name(text.substr(i + 2, close - i - 2));
      const bool optional = !name.empty() && name.back() == '?';
      if (optional) name.pop_back();
      std::optional<std::string> v;
      if (!from_project || !looks_secret(name)) v = env_value(in, name);
      if (v) {
        out += *v;
      } else if (!optional) {
        out += text.substr(i, close - i + 1);
      }
      i = close;
      continue;
    }
    out += text[i];
  }
  return out;
}

std::string unquote(const std::string& v) {
  if (v.size() >= 2 && ((v.front() == '"' && v.back() == '"') ||
                        (v.front() == '\'' && v.back() == '\''))) {
    return v.substr(1, v.size() - 2);
  }
  return v;
}

std::string dirname_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

// npm installs in these places; its builtin npmrc (if the packager wrote one) sits next to it.
// Debian's npm package lives under /usr/share/nodejs/npm, npm's own installer under lib/.
const char* const kBuiltinNpmrc[] = {"/usr/share/nodejs/npm/npmrc",
                                     "/usr/lib/node_modules/npm/npmrc",
                                     "/usr/local/lib/node_modules/npm/npmrc"};

// Where npm keeps its settings' definitions, defaults included, relative to npm's own directory.
constexpr const char* kNpmDefinitions = "node_modules/@npmcli/config/lib/definitions/definitions.js";

// npm's directories: beside each PATH entry's bin/ (the npm a shell would run: /usr/bin ->
// /usr/lib/node_modules/npm, nvm's and volta's prefixes alike), then the packagers' places.
std::vector<std::string> npm_directories(const ToolConfigInput& in) {
  std::vector<std::string> dirs;
  if (auto path = env_value(in, "PATH")) {
    std::size_t start = 0;
    while (start <= path->size()) {
      const std::size_t end = std::min(path->find(':', start), path->size());
      const std::string entry = path->substr(start, end - start);
      if (!entry.empty() && entry[0] == '/') {
        dirs.push_back(normalize_path(entry + "/../lib/node_modules/npm"));
      }
      start = end + 1;
    }
  }
  for (const char* builtin : kBuiltinNpmrc) {
    const std::string file = builtin;
    dirs.push_back(file.substr(0, file.rfind('/')));
  }
  return dirs;
}

// The default of npm's `registry` setting as npm's definitions file writes it:
//   registry: new Definition('registry', { default: 'https://...', ...
// nullopt if the file does not have that shape (another npm major version).
std::optional<std::string> registry_default(const std::string& definitions) {
  for (const char* opening : {"Definition('registry'", "Definition(\"registry\""}) {
    const std::size_t at = definitions.find(opening);
    if (at == std::string::npos) continue;
    const std::size_t key = definitions.find("default:", at);
    if (key == std::string::npos || key - at > 400) return std::nullopt;
    std::size_t i = key + 8;
    while (i < definitions.size() && (definitions[i] == ' ' || definitions[i] == '\n')) ++i;
    if (i >= definitions.size() || (definitions[i] != '\'' && definitions[i] != '"')) {
      return std::nullopt;
    }
    const std::size_t close = definitions.find(definitions[i], i + 1);
    if (close == std::string::npos || close - i > 512) return std::nullopt;
    return definitions.substr(i + 1, close - i - 1);
  }
  return std::nullopt;
}

}  // namespace

Result<std::map<std::string, std::string>> parse_npmrc(const std::string& text,
                                                       const std::string& file,
                                                       const ToolConfigInput& in,
                                                       bool from_project) {
  (void)file;  // npm accepts any line; nothing here is an error
  std::map<std::string, std::string> out;
  std::string section;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = trim(std::string_view(text).substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(std::string_view(line).substr(1, line.size() - 2));
      continue;
    }
    const std::size_t eq = line.find('=');
    std::string key = trim(std::string_view(line).substr(0, eq));
    std::string value = eq == std::string::npos ? "true" : trim(line.substr(eq + 1));
    if (key.ends_with("[]")) key.resize(key.size() - 2);
    key = unquote(replace_env(key, in, from_project));
    if (!section.empty()) key = section + "." + key;
    out[key] = unquote(replace_env(value, in, from_project));
  }
  return out;
}

std::optional<std::string> NpmConfig::get(const std::string& key) const {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (auto f = it->values.find(key); f != it->values.end()) return f->second;
  }
  return std::nullopt;
}

std::optional<std::string> NpmConfig::get_outside_project(const std::string& key) const {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (it->project) continue;
    if (auto f = it->values.find(key); f != it->values.end()) return f->second;
  }
  return std::nullopt;
}

std::map<std::string, std::string> NpmConfig::scoped_registries() const {
  std::map<std::string, std::string> out;
  for (const NpmLayer& layer : layers) {  // lowest first: later layers overwrite
    for (const auto& [key, value] : layer.values) {
      if (key.size() > 10 && key[0] == '@' && key.ends_with(":registry")) out[key] = value;
    }
  }
  return out;
}

std::map<std::string, std::string> command_line_registries(const std::vector<std::string>& args,
                                                           const ToolCommand& tool,
                                                           bool npm_shorthand) {
  std::map<std::string, std::string> out;
  std::vector<std::string> urls = npm_shorthand
                                      ? option_values(args, tool, {"--registry", "--reg", "-reg"})
                                      : option_values(args, tool, {"--registry"});
  if (!urls.empty() && !urls.back().empty()) out["registry"] = urls.back();
  for (const std::string& a : args) {
    const std::size_t eq = a.find('=');
    if (!a.starts_with("--@") || eq == std::string::npos) continue;
    const std::string key = a.substr(2, eq - 2);
    if (key.size() > 10 && key.ends_with(":registry") && eq + 1 < a.size()) {
      out[key] = a.substr(eq + 1);
    }
  }
  return out;
}

Result<NpmConfig> load_npm_config(const ToolConfigInput& in,
                                  const std::vector<std::string>& env_prefixes,
                                  const std::vector<std::string>& tool_files,
                                  const ToolCommand* command) {
  NpmConfig cfg;
  auto read_layer = [&](const std::string& path) -> Result<bool> {
    auto text = in.read_file(path);
    if (!text) return false;
    auto values = parse_npmrc(*text, path, in, path_within(path, in.project));
    if (!values) return values.error();
    cfg.layers.push_back(NpmLayer{path, std::move(*values)});
    return true;
  };

  NpmLayer env{"environment", {}};
  for (const std::string& e : in.environ) {
    const std::size_t eq = e.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = lower(e.substr(0, eq));
    for (const std::string& prefix : env_prefixes) {
      if (name.size() <= prefix.size() || !name.starts_with(prefix)) continue;
      std::string key = name.substr(prefix.size());
      for (std::size_t i = 1; i < key.size(); ++i) {
        if (key[i] == '_') key[i] = '-';
      }
      env.values[key] = e.substr(eq + 1);
    }
  }

  // Lowest of all: npm's own default registry, read from the npm that is installed (moat never
  // names a registry; npm does, in its code). The first npm found is the one a shell would run.
  for (const std::string& dir : npm_directories(in)) {
    const std::string definitions = dir + "/" + kNpmDefinitions;
    auto text = in.read_file(definitions);
    if (!text) continue;
    if (auto url = registry_default(*text); url && registry_rule(*url, definitions).ok()) {
      cfg.layers.push_back(NpmLayer{definitions + " (npm's default)", {{"registry", *url}}});
    }
    break;
  }
  for (const char* builtin : kBuiltinNpmrc) {
    auto r = read_layer(builtin);
    if (!r) return r.error();
  }
  auto earlier = [&](const std::string& key) -> std::optional<std::string> {
    if (auto f = env.values.find(key); f != env.values.end()) return f->second;
    return cfg.get(key);
  };
  // The global file follows the prefix (npm: $PREFIX, else the directory above node's bin/,
  // which is /usr for the packaged node).
  std::string prefix = "/usr";
  if (auto p = env_value(in, "PREFIX")) prefix = *p;
  if (auto p = earlier("prefix")) prefix = config_path(*p, in.home, in.cwd);
  cfg.globalconfig = prefix + "/etc/npmrc";
  if (auto g = earlier("globalconfig")) cfg.globalconfig = config_path(*g, in.home, in.cwd);
  cfg.userconfig = in.home + "/.npmrc";
  if (auto u = earlier("userconfig")) cfg.userconfig = config_path(*u, in.home, in.cwd);

  // npm works in the nearest directory upwards holding package.json (node_modules alone
  // is not seen here: the reader reads files), else the working directory.
  cfg.local_prefix = in.cwd;
  for (std::string dir = normalize_path(in.cwd);; dir = dirname_of(dir)) {
    if (in.read_file(dir == "/" ? "/package.json" : dir + "/package.json")) {
      cfg.local_prefix = dir;
      break;
    }
    if (dir == "/") break;
  }
  const std::string project_rc =
      (cfg.local_prefix == "/" ? "" : cfg.local_prefix) + "/.npmrc";

  std::vector<std::string> files = {cfg.globalconfig};
  files.insert(files.end(), tool_files.begin(), tool_files.end());
  files.push_back(cfg.userconfig);
  for (const std::string& path : files) {
    auto r = read_layer(path);
    if (!r) return r.error();
  }
  if (project_rc != cfg.userconfig && project_rc != cfg.globalconfig) {
    auto r = read_layer(project_rc);
    if (!r) return r.error();
    if (*r) cfg.layers.back().project = true;
  }
  cfg.layers.push_back(std::move(env));
  if (command != nullptr) {
    if (auto args = tool_arguments(in, *command)) {
      auto values = command_line_registries(*args, *command, command == &kNpmCommand);
      if (!values.empty()) cfg.layers.push_back(NpmLayer{"the command line", std::move(values)});
    }
  }
  return cfg;
}

// Neither npm's configuration nor the installed npm's own defaults name a registry (no npm
// found beside PATH, or one whose definitions moat cannot read), and moat's source never names
// one: an error that says how to write it down once.
Error no_registry(const std::string& tool) {
  return make_error(ErrorCode::kInvalidArgument, tool + " has no registry configured",
                    "name it once, e.g. npm config set registry \"$(npm config get registry)\" "
                    "(writes ~/.npmrc), or set npm_config_registry");
}


// Every registry npm may fetch from, as host:port rules: the default one and each scope's.
Result<ToolValues> registry_rules(const NpmConfig& cfg, const std::string& tool) {
  auto reg = cfg.get("registry");
  if (!reg || reg->empty()) return no_registry(tool);
  ToolValues out;
  auto rule = registry_rule(*reg, "registry");
  if (!rule) return rule.error();
  add_unique(out, *rule);
  for (const auto& [key, url] : cfg.scoped_registries()) {
    auto r = registry_rule(url, key);
    if (!r) return r.error();
    add_unique(out, *r);
  }
  return out;
}

}  // namespace moat::policy::tools
