// Compilation: merged profile + Context + Overrides -> Plan. Expands variables, normalises paths,
// finds contradictions, applies the mandatory protections and filters the environment.
#include "policy/compile.h"

#include <algorithm>
#include <map>
#include <set>

#include "policy/diagnostic_sink.h"
#include "policy/env_filter.h"
#include "policy/git_hooks.h"
#include "policy/git_redact.h"
#include "policy/mandatory.h"
#include "policy/net_rule.h"
#include "policy/profile.h"
#include "policy/resolve.h"
#include "policy/suggest.h"
#include "policy/tool_config.h"
#include "policy/tools/npmrc_redact.h"
#include "policy/variables.h"

namespace moat::policy {

namespace {

const SourceRef kCommandLine{"command line", 0, 0};
const SourceRef kBuiltIn{"built-in", 0, 0};

std::string describe(const SourceRef& at) {
  if (at.line <= 0) return at.file;
  return at.file + ":" + std::to_string(at.line) + ":" + std::to_string(at.col);
}

std::string stem(const std::string& path) {
  std::string base = path.substr(path.rfind('/') + 1);
  for (const char* ext : {".yaml", ".yml"}) {
    if (base.size() > std::string(ext).size() && base.ends_with(ext)) {
      return base.substr(0, base.size() - std::string(ext).size());
    }
  }
  return base;
}

struct Resolved {
  std::string path;
  const Entry* entry = nullptr;  // nullptr for the command line
  SourceRef at;
  int length = 1;
  std::string what;  // "read", "write", ..., for messages
};

class Compiler {
 public:
  // `checking`: `moat check`, which judges the file, not this machine's tool configuration.
  Compiler(const Context& ctx, const Overrides& ov, DiagnosticSink& sink, bool checking)
      : ctx_(ctx), ov_(ov), sink_(sink), checking_(checking) {
    vars_ = {{"HOME", ctx.home}, {"PROJECT", ctx.project}, {"CWD", ctx.cwd},
             {"TMPDIR", ctx.tmpdir}, {"USER", ctx.user}};
    tool_input_.environ = ctx.environ;
    tool_input_.home = ctx.home;
    tool_input_.project = ctx.project;
    tool_input_.cwd = ctx.cwd;
    tool_input_.argv = ctx.argv;
    // Each file is read once per compile: every resolver of a tool reads the tool's whole
    // configuration again (pip's eight resolvers, each every pip.conf level), and git's files
    // are read for the hooks and again for redaction.
    tool_input_.read_file = [this](const std::string& path) -> std::optional<std::string> {
      if (auto it = files_read_.find(path); it != files_read_.end()) return it->second;
      tool_files_.push_back(path);
      std::optional<std::string> text = ctx_.read_file ? ctx_.read_file(path) : std::nullopt;
      files_read_.emplace(path, text);
      return text;
    };
  }

  Plan run(const Profile& raw) {
    const Profile p = expand_tool_variables(raw);
    Plan plan;
    plan.home = ctx_.home;
    plan.project = ctx_.project;
    plan.cwd = ctx_.cwd;
    plan.tmpdir = ctx_.tmpdir;
    plan.user = ctx_.user;

    std::vector<Resolved> grants;
    std::map<std::string, unsigned> bits_of;
    auto add_grants = [&](const std::vector<Entry>& list, const std::string& what, unsigned bits) {
      for (const Entry& e : list) {
        if (auto r = resolve_path(e, what)) {
          grants.push_back(*r);
          bits_of[r->path] |= bits;
        }
      }
    };
    auto add_cli = [&](const std::vector<std::string>& list, const std::string& what,
                       unsigned bits) {
      for (const std::string& s : list) {
        if (auto r = resolve_cli_path(s, what)) {
          grants.push_back(*r);
          bits_of[r->path] |= bits;
        }
      }
    };
    add_grants(p.read, "read", kAccessRead);
    add_grants(p.write, "write", kAccessRead | kAccessWrite);
    add_grants(p.exec, "exec", kAccessRead | kAccessExec);
    add_cli(ov_.allow_read, "--allow-read", kAccessRead);
    add_cli(ov_.allow_write, "--allow-write", kAccessRead | kAccessWrite);
    add_cli(ov_.allow_exec, "--allow-exec", kAccessRead | kAccessExec);
    std::vector<Resolved> deny, protect, redact;
    for (const Entry& e : p.deny) {
      if (auto r = resolve_path(e, "deny")) deny.push_back(*r);
    }
    for (const Entry& e : p.redact) {
      if (auto r = resolve_path(e, "redact")) redact.push_back(*r);
    }
    for (const Entry& e : p.protect) {
      if (auto r = resolve_path(e, "protect")) protect.push_back(*r);
    }

    // Contradictions: the same path granted and denied (or written and protected).
    for (const Resolved& g : grants) {
      for (const Resolved& d : deny) {
        if (g.path == d.path) contradiction(g, d, "denied");
      }
      for (const Resolved& r : redact) {
        if (g.path == r.path) contradiction(g, r, "redacted");
      }
      if ((bits_of[g.path] & kAccessWrite) && g.what.find("write") != std::string::npos) {
        for (const Resolved& pr : protect) {
          if (g.path == pr.path) contradiction(g, pr, "protected");
        }
      }
    }

    const std::set<std::string> lifted = unprotected(p, plan);
    mandatory(grants, lifted, plan);
    git_configured(lifted, plan);

    // Paths: one rule per path, union of bits, first origin.
    std::map<std::string, PathRule> rules;
    for (const Resolved& g : grants) {
      auto [it, inserted] = rules.try_emplace(g.path, PathRule{g.path, 0, g.at});
      it->second.access = bits_of[g.path];
    }
    for (auto& [path, rule] : rules) plan.paths.push_back(rule);
    for (const Resolved& d : deny) plan.deny.push_back(DenyRule{d.path, d.at});
    for (const Resolved& pr : protect) {
      const bool directory = pr.entry->text.ends_with("/");
      plan.protect.push_back(
          ProtectRule{pr.path, "profile", directory, pr.at,
                      directory ? std::string() : std::string(placeholder_content(pr.path))});
    }
    for (const Resolved& r : redact) {
      // The real file is denied whatever happens to the copy (a tier without mounts cannot
      // place one). Read like a tool's configuration, so the plan cache follows the file: a
      // missing one has nothing to hide (denying it would mask the placeholder a protection of
      // the same path makes), and creating it later recompiles the plan.
      if (auto text = tool_input_.read_file(r.path)) {
        plan.deny.push_back(DenyRule{r.path, r.at});
        plan.redacted.push_back(RedactedFile{r.path, tools::redact_npmrc(*text), r.at});
      }
    }
    dedupe_sort(plan.deny);
    dedupe_sort(plan.protect);
    dedupe_sort(plan.redacted);

    plan.network = ov_.network ? *ov_.network
                   : p.network ? p.network->first
                               : NetworkMode::kNone;
    network_rules(p, plan);
    plan.min_tier = p.tier ? p.tier->first : Tier::kFull;
    if (p.learned_from) plan.learned_from = p.learned_from->text;
    plan.limits.processes = p.processes.value;
    plan.limits.memory_bytes = p.memory.value;
    plan.limits.time_ms = ov_.time_ms ? ov_.time_ms : p.time.value;
    plan.limits.file_size_bytes = p.file_size.value;
    plan.limits.open_files = p.open_files.value;

    environment(p, plan);
    plan.tool_files = tool_files_;
    plan.tool_caches = tool_caches_;
    return plan;
  }

 private:
  // ${tool.var} (a name with a dot) comes from a tool's configuration and may have several
  // values: the entry becomes one entry per value, each keeping the entry's position. Done
  // before the ${NAME} expansion, so a value's '$' is escaped as "$$".
  Profile expand_tool_variables(const Profile& raw) {
    Profile p = raw;
    for (std::vector<Entry>* list :
         {&p.read, &p.write, &p.exec, &p.deny, &p.protect, &p.redact, &p.net_allow}) {
      std::vector<Entry> out;
      for (const Entry& e : *list) {
        if (auto texts = tool_expand(e)) {
          for (std::string& t : *texts) {
            Entry copy = e;
            copy.text = std::move(t);
            out.push_back(std::move(copy));
          }
        }
      }
      *list = std::move(out);
    }
    std::vector<std::pair<Entry, Entry>> env;
    for (const auto& [name, value] : p.env_set) {
      auto texts = tool_expand(value);
      if (!texts) continue;
      if (texts->empty()) continue;  // a tool setting that is not set: the name stays unset
      if (texts->size() != 1) {
        sink_.error(value.at, value.length, "bad-value",
                    "'" + value.text + "' has " + std::to_string(texts->size()) +
                        " values; an environment variable takes one",
                    "use a single-valued variable such as ${npm.registry}");
        continue;
      }
      Entry v = value;
      v.text = texts->front();
      env.emplace_back(name, std::move(v));
    }
    p.env_set = std::move(env);
    return p;
  }

  // The entry's text with every ${tool.var} replaced, one text per combination of values;
  // nullopt after reporting an error.
  std::optional<std::vector<std::string>> tool_expand(const Entry& e) {
    const std::string& text = e.text;
    std::vector<std::string> out{""};
    std::size_t i = 0;
    while (i < text.size()) {
      if (text.compare(i, 2, "$$") == 0) {
        for (std::string& o : out) o += "$$";
        i += 2;
        continue;
      }
      const std::size_t close = text.compare(i, 2, "${") == 0 ? text.find('}', i + 2)
                                                              : std::string::npos;
      const std::string name =
          close == std::string::npos ? "" : text.substr(i + 2, close - i - 2);
      if (name.find('.') == std::string::npos) {
        for (std::string& o : out) o += text[i];
        ++i;
        continue;
      }
      SourceRef at = e.at;
      at.col = e.value_col + static_cast<int>(i);
      const int length = static_cast<int>(close - i + 1);
      const ToolResolver resolve = find_tool_resolver(name);
      if (resolve == nullptr) {
        std::vector<std::string> names;
        for (std::string_view n : tool_variable_names()) names.emplace_back(n);
        std::string known;
        for (const std::string& n : names) known += (known.empty() ? "${" : ", ${") + n + "}";
        sink_.error(at, length, "unknown-variable",
                    "unknown variable '${" + name + "}'" + did_you_mean(name, names),
                    "tool variables: " + known);
        return std::nullopt;
      }
      auto [it, fresh] = tool_values_.try_emplace(name, ToolValues{});
      if (fresh) {
        Result<ToolValues> r = resolve(tool_input_);
        if (!r) {
          tool_errors_[name] = r.error();
        } else {
          it->second = std::move(*r);
        }
      }
      if (auto err = tool_errors_.find(name); err != tool_errors_.end()) {
        if (checking_) {
          sink_.warning(at, length, "tool-config",
                        "${" + name + "}: " + err->second.message +
                            " (on this machine; the entry is left out)",
                        err->second.hint);
        } else {
          sink_.error(at, length, "tool-config", "${" + name + "}: " + err->second.message,
                      err->second.hint);
        }
        return std::nullopt;
      }
      if (name.ends_with(".cache") || name.ends_with(".store") || name.ends_with(".state")) {
        for (const std::string& v : it->second) {
          if (std::find(tool_caches_.begin(), tool_caches_.end(), v) == tool_caches_.end()) {
            tool_caches_.push_back(v);
          }
        }
      }
      std::vector<std::string> next;
      for (const std::string& o : out) {
        for (const std::string& v : it->second) {
          std::string escaped;
          for (char c : v) escaped += c == '$' ? std::string("$$") : std::string(1, c);
          next.push_back(o + escaped);
        }
      }
      out = std::move(next);
      i = close + 1;
    }
    return out;
  }

  std::optional<Resolved> resolve_path(const Entry& e, const std::string& what) {
    Expansion x = expand_variables(e.text, vars_, true);
    if (!x.ok) {
      SourceRef at = e.at;
      at.col = e.value_col + static_cast<int>(x.error_offset);
      sink_.error(at, static_cast<int>(x.error_length), x.code, x.message, x.hint);
      return std::nullopt;
    }
    if (x.value.empty() || x.value[0] != '/') {
      sink_.error(e.at, e.length, "relative-path",
                  "'" + e.text + "' is not an absolute path" +
                      (x.value != e.text ? " (it expands to '" + x.value + "')" : ""),
                  "start it with '/', '~/' or a variable such as ${PROJECT}");
      return std::nullopt;
    }
    return Resolved{normalize_path(x.value), &e, e.at, e.length, what};
  }

  std::optional<Resolved> resolve_cli_path(const std::string& text, const std::string& what) {
    Expansion x = expand_variables(text, vars_, true);
    if (!x.ok) {
      sink_.error(kCommandLine, 1, x.code, what + " " + text + ": " + x.message, x.hint);
      return std::nullopt;
    }
    std::string path = x.value;
    if (path.empty()) {
      sink_.error(kCommandLine, 1, "relative-path", what + ": empty path");
      return std::nullopt;
    }
    if (path[0] != '/') path = ctx_.cwd + "/" + path;  // relative to where the user typed it
    return Resolved{normalize_path(path), nullptr, kCommandLine, 1, what};
  }

  void contradiction(const Resolved& grant, const Resolved& other, const std::string& how) {
    sink_.error(grant.at, grant.length, "contradiction",
                (grant.entry ? "" : grant.what + " ") + "'" + grant.path + "' is granted (" +
                    (grant.entry ? grant.what : "command line") + ") and " + how + " (" +
                    other.what + " at " + describe(other.at) + ")",
                "remove one of the two entries");
  }

  std::set<std::string> unprotected(const Profile& p, Plan& plan) {
    const std::vector<std::string> names = mandatory_group_names();
    std::set<std::string> lifted;
    for (const Entry& e : p.unprotect) {
      if (std::find(names.begin(), names.end(), e.text) == names.end()) {
        sink_.error(e.at, e.length, "unknown-protection",
                    "'" + e.text + "' is not a mandatory protection" + did_you_mean(e.text, names),
                    "known protections: " + one_of(names));
        continue;
      }
      lifted.insert(e.text);
    }
    plan.unprotected.assign(lifted.begin(), lifted.end());
    return lifted;
  }

  void mandatory(const std::vector<Resolved>& grants, const std::set<std::string>& lifted,
                 Plan& plan) {
    std::set<std::string> warned;
    for (const MandatoryGroup& g : mandatory_groups()) {
      if (lifted.contains(std::string(g.name))) continue;
      for (std::string_view raw : g.paths) {
        const std::string path = normalize_path(expand_variables(raw, vars_, false).value);
        if (g.deny) {
          plan.deny.push_back(DenyRule{path, kBuiltIn});
        } else {
          plan.protect.push_back(ProtectRule{path, std::string(g.name), raw.ends_with("/"),
                                             kBuiltIn, std::string(placeholder_content(raw))});
        }
        // A grant aimed at (or inside) a protected path does not lift the protection.
        for (const Resolved& r : grants) {
          if (!path_within(r.path, path) || !warned.insert(r.path + "\n" + r.what).second) {
            continue;
          }
          sink_.warning(r.at, r.length, "mandatory-protection",
                        (r.entry ? "" : r.what + " ") + "'" + r.path +
                            "' is covered by the mandatory protection '" + std::string(g.name) +
                            "': it stays " + (g.deny ? "hidden" : "read-only"),
                        "'" + std::string(g.name) + "' protects " + std::string(g.description) +
                            "; to lift it, add 'unprotect: [" + std::string(g.name) +
                            "]' to the profile");
        }
      }
    }
  }

  // What the repository's git configuration adds to the git groups (git_hooks.h): a moved hooks
  // directory, included configuration files and hook runners' command files in the project.
  // Not for `moat check`, which judges the file rather than this machine's repository.
  void git_configured(const std::set<std::string>& lifted, Plan& plan) {
    if (checking_) return;
    const GitHookPaths git = git_hook_paths(tool_input_);
    auto protect = [&](const std::vector<std::string>& paths, const char* group, bool directory) {
      if (lifted.contains(group)) return;
      for (const std::string& path : paths) {
        plan.protect.push_back(
            ProtectRule{path, group, directory, kBuiltIn,
                        directory ? std::string() : std::string(placeholder_content(path))});
      }
    };
    protect(git.hook_dirs, "git-hooks", true);
    protect(git.runner_files, "git-hooks", false);
    protect(git.config_files, "git-config", false);
    // Credentials in the repository's config (a CI checkout's token as an extraheader, a remote
    // URL with user:token@): the sandbox reads a copy without them. Only when there are any, so
    // an ordinary repository keeps its plain read-only bind. The real file is denied too, for a
    // tier that cannot place the copy.
    // The same for the user's git configuration, which base lets every command read
    // (`url."https://TOKEN@host/".insteadOf` is a common way to give CI and developers access).
    // A submodule's own config too: actions/checkout with `submodules: true` writes the same
    // extraheader into every .git/modules/NAME/config.
    std::vector<std::string> configs = {normalize_path(ctx_.project + "/.git/config"),
                                        normalize_path(ctx_.home + "/.gitconfig"),
                                        normalize_path(ctx_.home + "/.config/git/config")};
    for (std::string& config : submodule_configs(tool_input_)) configs.push_back(std::move(config));
    for (const std::string& config : configs) {
      std::optional<std::string> text = tool_input_.read_file(config);
      if (!text) continue;
      std::string redacted = redact_git_config(*text);
      if (redacted == *text) continue;
      plan.deny.push_back(DenyRule{config, kBuiltIn});
      plan.redacted.push_back(RedactedFile{config, std::move(redacted), kBuiltIn});
    }
  }

  template <typename Rule>
  static void dedupe_sort(std::vector<Rule>& rules) {
    std::stable_sort(rules.begin(), rules.end(),
                     [](const Rule& a, const Rule& b) { return a.path < b.path; });
    rules.erase(std::unique(rules.begin(), rules.end(),
                            [](const Rule& a, const Rule& b) { return a.path == b.path; }),
                rules.end());
  }

  void environment(const Profile& p, Plan& plan) {
    std::vector<std::string> patterns;
    for (const Entry& e : p.env_keep) patterns.push_back(e.text);
    EnvFilterResult filtered = filter_environ(ctx_.environ, patterns, ov_.keep_env);
    std::map<std::string, std::string> env;
    for (EnvVar& v : filtered.env) env.emplace(std::move(v.name), std::move(v.value));
    for (const auto& [name, value] : p.env_set) {
      if (name.text == "HOME" || name.text == "TMPDIR") {
        sink_.warning(name.at, name.length, "ignored",
                      "'" + name.text + "' is always set by moat (to ${" + name.text + "})",
                      "remove this entry");
        continue;
      }
      Expansion x = expand_variables(value.text, vars_, false);
      if (!x.ok) {
        SourceRef at = value.at;
        at.col = value.value_col + static_cast<int>(x.error_offset);
        sink_.error(at, static_cast<int>(x.error_length), x.code, x.message, x.hint);
        continue;
      }
      env[name.text] = x.value;
    }
    env["HOME"] = ctx_.home;
    env["TMPDIR"] = ctx_.tmpdir;
    for (auto& [name, value] : env) plan.env.push_back(EnvVar{name, value});
    plan.dropped_env = std::move(filtered.dropped);
  }

  const Context& ctx_;
  const Overrides& ov_;
  // Allowlist rules from the profile and the command line; rules given on the command line
  // select allowlist mode unless --net says otherwise.
  void network_rules(const Profile& p, Plan& plan) {
    for (const Entry& e : p.net_allow) plan.net_allow.push_back({e.text, e.at});
    for (const auto& [name, address] : p.net_hosts) {
      plan.net_hosts.push_back({name.text, address.text, name.at});
    }
    for (const std::string& rule : ov_.allow_hosts) plan.net_allow.push_back({rule, kCommandLine});
    for (const std::string& host : ov_.add_hosts) {
      auto eq = host.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == host.size()) {
        sink_.error(kCommandLine, 1, "bad-value", "--add-host " + host + ": expected NAME=ADDRESS",
                    "for example --add-host registry.test=10.77.0.2");
        continue;
      }
      plan.net_hosts.push_back({host.substr(0, eq), host.substr(eq + 1), kCommandLine});
    }
    if (!ov_.network && !ov_.allow_hosts.empty()) plan.network = NetworkMode::kAllowlist;
    if (ov_.learn_network) {
      plan.network = NetworkMode::kAllowlist;
      plan.learning = true;
    }
    for (const NetRule& r : plan.net_allow) {
      if (auto err = net_rule_error(r.text); !err.empty()) {
        sink_.error(r.origin, static_cast<int>(std::max<std::size_t>(r.text.size(), 1)),
                    "bad-network-rule", err,
                    "write a name (example.org, *.example.org), an address or CIDR (10.0.0.0/8, "
                    "[2001:db8::1]), each with an optional :PORT");
      }
    }
    for (const StaticHost& h : plan.net_hosts) {
      if (auto err = static_host_error(h.name, h.address); !err.empty()) {
        sink_.error(h.origin, static_cast<int>(std::max<std::size_t>(h.name.size(), 1)),
                    "bad-network-rule", "hosts: " + h.name + ": " + err,
                    "a host name mapped to one IPv4 or IPv6 address");
      }
    }
    if (plan.network != NetworkMode::kAllowlist && !plan.net_allow.empty()) {
      const NetRule& r = plan.net_allow.front();
      sink_.error(r.origin, static_cast<int>(std::max<std::size_t>(r.text.size(), 1)),
                  "contradiction", "network rules are given but the network mode is not 'allowlist'",
                  "set 'network: {mode: allowlist}' (or drop --net) to use them");
    }
  }

  DiagnosticSink& sink_;
  bool checking_ = false;
  Variables vars_;
  ToolConfigInput tool_input_;
  std::vector<std::string> tool_files_;
  std::map<std::string, std::optional<std::string>> files_read_;  // path -> content, this compile
  std::vector<std::string> tool_caches_;
  std::map<std::string, ToolValues, std::less<>> tool_values_;
  std::map<std::string, Error, std::less<>> tool_errors_;
};

void check_context(const Context& ctx, DiagnosticSink& sink) {
  const SourceRef at{"context", 0, 0};
  for (const auto& [name, value] : {std::pair<const char*, const std::string&>{"HOME", ctx.home},
                                    {"PROJECT", ctx.project},
                                    {"CWD", ctx.cwd},
                                    {"TMPDIR", ctx.tmpdir}}) {
    if (value.empty() || value[0] != '/') {
      sink.error(at, 1, "bad-context",
                 std::string("${") + name + "} must be an absolute path, not '" + value + "'");
    }
  }
}

// Files in the order they were first reported, then by line and column inside each file, as a
// compiler would print them; diagnostics without a position keep their order, first.
void sort_by_position(std::vector<Diagnostic>& diags) {
  std::map<std::string, std::size_t> file_order;
  for (const Diagnostic& d : diags) file_order.emplace(d.file, file_order.size());
  std::stable_sort(diags.begin(), diags.end(), [&](const Diagnostic& a, const Diagnostic& b) {
    const bool ap = a.line > 0, bp = b.line > 0;
    if (ap != bp) return !ap;
    if (!ap) return false;
    const std::size_t fa = file_order[a.file], fb = file_order[b.file];
    if (fa != fb) return fa < fb;
    return std::pair(a.line, a.col) < std::pair(b.line, b.col);
  });
}

CompileOutput compile(const std::string& ref, bool force_path, const Context& ctx,
                      const Overrides& ov) {
  DiagnosticSink sink;
  CompileOutput out;
  check_context(ctx, sink);
  std::string file;
  if (force_path || is_path_reference(ref)) {
    file = absolute_path(ref, ctx.cwd.empty() ? "/" : ctx.cwd);
  } else if (auto found = find_profile(ref, ctx.search_path)) {
    file = *found;
  } else {
    std::string dirs;
    for (auto d = ctx.search_path.rbegin(); d != ctx.search_path.rend(); ++d) {
      dirs += (dirs.empty() ? "" : ", ") + *d;
    }
    sink.error(kCommandLine, 1, "profile-not-found",
               is_valid_profile_name(ref) ? "no profile named '" + ref + "' on the search path"
                                          : "'" + ref + "' is not a profile name",
               "searched: " + dirs + "; `moat list` shows the profiles, a path loads a file");
    out.diagnostics = sink.take();
    return out;
  }
  Chain chain = load_chain(file, ctx.search_path, sink);
  Profile merged;
  for (const Profile& p : chain.profiles) merge_profile(merged, p);
  if (!chain.profiles.empty()) {
    Plan plan = Compiler(ctx, ov, sink, force_path).run(merged);
    plan.profile_name = force_path || is_path_reference(ref) ? stem(file) : ref;
    plan.profile_files = chain.files;
    plan.description = merged.description;
    if (!sink.has_errors()) out.plan = std::move(plan);
  }
  out.diagnostics = sink.take();
  sort_by_position(out.diagnostics);
  return out;
}

}  // namespace

CompileOutput compile_profile(const std::string& name_or_path, const Context& ctx,
                              const Overrides& ov) {
  return compile(name_or_path, false, ctx, ov);
}

CompileOutput check_profile_file(const std::string& path, const Context& ctx) {
  return compile(path, true, ctx, Overrides{});
}

}  // namespace moat::policy
