// Schema check of one profile (version 1): RawNode -> Profile. Unknown keys, wrong types and bad
// values are all reported (with "did you mean"), never just the first one.
#include <functional>
#include <map>

#include "policy/profile.h"
#include "policy/suggest.h"
#include "policy/units.h"

namespace moat::policy {

namespace {

using Kind = RawNode::Kind;

const std::vector<std::string> kTopKeys = {"version", "description", "extends",  "filesystem",
                                           "env",     "network",     "limits",   "require",
                                           "unprotect", "learned"};
const std::vector<std::string> kLearnedKeys = {"command", "date"};
const std::vector<std::string> kFsKeys = {"read", "write", "exec", "deny", "protect", "redact"};
const std::vector<std::string> kEnvKeys = {"keep", "set"};
const std::vector<std::string> kNetworkKeys = {"mode", "allow", "hosts"};
const std::vector<std::string> kNetworkModes = {"none", "host", "allowlist"};
const std::vector<std::string> kLimitKeys = {"processes", "memory", "time", "file-size",
                                             "open-files"};
const std::vector<std::string> kRequireKeys = {"tier"};
const std::vector<std::string> kTiers = {"full", "landlock"};

class Validator {
 public:
  Validator(const std::string& file, DiagnosticSink& sink) : sink_(sink) { out_.file = file; }

  Profile run(const RawNode& root) {
    if (root.kind == Kind::kNull) {
      sink_.error(root.at, 1, "missing-key", "the profile is empty: 'version: 1' is required",
                  "start the file with 'version: 1'");
      return std::move(out_);
    }
    if (!expect(root, Kind::kMap, "the profile")) return std::move(out_);
    bool has_version = false;
    for (const auto& [key, value] : root.entries) {
      if (!key_ok(key, kTopKeys, "a top-level key")) continue;
      const std::string& k = key.text;
      if (k == "version") {
        has_version = true;
        version(key, value);
      } else if (k == "description") {
        if (value.kind != Kind::kNull && expect(value, Kind::kScalar, "'description'")) {
          out_.description = value.text;
        }
      } else if (k == "extends") {
        string_list(key, value, out_.extends, true);
      } else if (k == "filesystem") {
        section(key, value, kFsKeys, "a filesystem key", [&](const RawNode& sk, const RawNode& sv) {
          std::map<std::string, std::vector<Entry>*> lists = {
              {"read", &out_.read}, {"write", &out_.write},     {"exec", &out_.exec},
              {"deny", &out_.deny}, {"protect", &out_.protect}, {"redact", &out_.redact}};
          string_list(sk, sv, *lists.at(sk.text), false);
        });
      } else if (k == "env") {
        section(key, value, kEnvKeys, "an env key", [&](const RawNode& sk, const RawNode& sv) {
          if (sk.text == "keep") {
            string_list(sk, sv, out_.env_keep, false);
            for (const Entry& e : out_.env_keep) env_name(e, true);
          } else {
            env_set(sk, sv);
          }
        });
      } else if (k == "network") {
        section(key, value, kNetworkKeys, "a network key", [&](const RawNode& sk, const RawNode& sv) {
          if (sk.text == "mode") {
            network_mode(sv);
          } else if (sk.text == "allow") {
            string_list(sk, sv, out_.net_allow, false);
          } else {
            static_hosts(sv);
          }
        });
      } else if (k == "limits") {
        section(key, value, kLimitKeys, "a limits key", [&](const RawNode& sk, const RawNode& sv) {
          limit(sk, sv);
        });
      } else if (k == "require") {
        section(key, value, kRequireKeys, "a require key", [&](const RawNode&, const RawNode& sv) {
          tier(sv);
        });
      } else if (k == "unprotect") {
        string_list(key, value, out_.unprotect, false);
      } else if (k == "learned") {
        section(key, value, kLearnedKeys, "a learned key", [&](const RawNode& sk, const RawNode& sv) {
          if (!expect(sv, Kind::kScalar, "'" + sk.text + "'")) return;
          if (sk.text == "command") out_.learned_from = entry(sv);
        });
      }
    }
    if (!has_version) {
      sink_.error(root.at, 1, "missing-key", "'version' is missing",
                  "start the file with 'version: 1'");
    }
    return std::move(out_);
  }

 private:
  bool expect(const RawNode& n, Kind kind, const std::string& what) {
    if (n.kind == kind) return true;
    sink_.error(n.at, n.length, "wrong-type",
                what + " must be " + kind_name(kind) + ", not " + kind_name(n.kind));
    return false;
  }

  bool key_ok(const RawNode& key, const std::vector<std::string>& known, const std::string& what) {
    if (key.kind != Kind::kScalar) {
      sink_.error(key.at, key.length, "wrong-type",
                  std::string("keys must be strings, not ") + kind_name(key.kind));
      return false;
    }
    for (const std::string& k : known) {
      if (k == key.text) return true;
    }
    sink_.error(key.at, key.length, "unknown-key",
                "'" + key.text + "' is not " + what + did_you_mean(key.text, known),
                "valid keys: " + one_of(known));
    return false;
  }

  void section(const RawNode& key, const RawNode& value, const std::vector<std::string>& known,
               const std::string& what,
               const std::function<void(const RawNode&, const RawNode&)>& each) {
    if (value.kind == Kind::kNull) return;  // "filesystem:" with nothing under it
    if (!expect(value, Kind::kMap, "'" + key.text + "'")) return;
    for (const auto& [sk, sv] : value.entries) {
      if (key_ok(sk, known, what)) each(sk, sv);
    }
  }

  static Entry entry(const RawNode& n) {
    return Entry{n.text, n.at, n.length, n.value_col > 0 ? n.value_col : n.at.col};
  }

  // A list of strings; a single string is accepted where `scalar_ok` (extends: base).
  void string_list(const RawNode& key, const RawNode& value, std::vector<Entry>& out,
                   bool scalar_ok) {
    if (value.kind == Kind::kNull) return;
    if (scalar_ok && value.kind == Kind::kScalar) {
      non_empty(value, key.text);
      out.push_back(entry(value));
      return;
    }
    if (value.kind != Kind::kSequence) {
      sink_.error(value.at, value.length, "wrong-type",
                  "'" + key.text + "' must be a list" + (scalar_ok ? " or a string" : "") +
                      ", not " + kind_name(value.kind),
                  value.kind == Kind::kScalar ? "write it as a list: " + key.text + ": [" +
                                                    value.text + "]"
                                              : "");
      return;
    }
    for (const RawNode& item : value.items) {
      if (!expect(item, Kind::kScalar, "each entry of '" + key.text + "'")) continue;
      if (non_empty(item, key.text)) out.push_back(entry(item));
    }
  }

  bool non_empty(const RawNode& n, const std::string& key) {
    if (!n.text.empty()) return true;
    sink_.error(n.at, n.length, "bad-value", "empty entry in '" + key + "'");
    return false;
  }

  void version(const RawNode& key, const RawNode& value) {
    if (!expect(value, Kind::kScalar, "'version'")) return;
    if (value.text != "1") {
      sink_.error(value.at, value.length, "bad-version",
                  "unsupported profile version '" + value.text + "'",
                  "this moat reads 'version: 1'");
    }
    (void)key;
  }

  // Environment variable names; patterns may use '*'.
  bool env_name(const Entry& e, bool pattern) {
    bool ok = !e.text.empty();
    for (char c : e.text) {
      const bool word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_' || (pattern && c == '*');
      ok = ok && word;
    }
    if (!ok) {
      sink_.error(e.at, e.length, "bad-env-name",
                  "'" + e.text + "' is not a valid environment variable " +
                      (pattern ? "pattern" : "name"),
                  pattern ? "use letters, digits, '_' and '*' (any characters)"
                          : "use letters, digits and '_'");
    }
    return ok;
  }

  void env_set(const RawNode& key, const RawNode& value) {
    if (value.kind == Kind::kNull) return;
    if (!expect(value, Kind::kMap, "'" + key.text + "'")) return;
    for (const auto& [name, val] : value.entries) {
      if (!expect(name, Kind::kScalar, "a variable name")) continue;
      if (!env_name(entry(name), false)) continue;
      if (val.kind == Kind::kNull) {
        out_.env_set.emplace_back(entry(name), Entry{"", name.at, name.length, name.at.col});
        continue;
      }
      if (!expect(val, Kind::kScalar, "the value of '" + name.text + "'")) continue;
      out_.env_set.emplace_back(entry(name), entry(val));
    }
  }

  void network_mode(const RawNode& value) {
    if (!expect(value, Kind::kScalar, "'mode'")) return;
    if (value.text == "none") {
      out_.network.emplace(NetworkMode::kNone, value.at);
    } else if (value.text == "host") {
      out_.network.emplace(NetworkMode::kHost, value.at);
    } else if (value.text == "allowlist") {
      out_.network.emplace(NetworkMode::kAllowlist, value.at);
    } else {
      sink_.error(value.at, value.length, "bad-value",
                  "'" + value.text + "' is not a network mode" +
                      did_you_mean(value.text, kNetworkModes),
                  "use 'none', 'host' or 'allowlist'");
    }
  }

  // hosts: { registry.test: 10.77.0.2 }
  void static_hosts(const RawNode& value) {
    if (value.kind == Kind::kNull) return;
    if (!expect(value, Kind::kMap, "'hosts'")) return;
    for (const auto& [name, address] : value.entries) {
      if (!expect(address, Kind::kScalar, "the address of '" + name.text + "'")) continue;
      out_.net_hosts.emplace_back(entry(name), entry(address));
    }
  }

  void tier(const RawNode& value) {
    if (!expect(value, Kind::kScalar, "'tier'")) return;
    if (value.text == "full") {
      out_.tier.emplace(Tier::kFull, value.at);
    } else if (value.text == "landlock") {
      out_.tier.emplace(Tier::kLandlock, value.at);
    } else {
      sink_.error(value.at, value.length, "bad-value",
                  "'" + value.text + "' is not a tier" + did_you_mean(value.text, kTiers),
                  "use 'full' or 'landlock'");
    }
  }

  void limit(const RawNode& key, const RawNode& value) {
    const std::string& k = key.text;
    LimitEntry* target = k == "processes"   ? &out_.processes
                         : k == "memory"    ? &out_.memory
                         : k == "time"      ? &out_.time
                         : k == "file-size" ? &out_.file_size
                                            : &out_.open_files;
    if (!expect(value, Kind::kScalar, "'" + k + "'")) return;
    if (value.text == "none") {
      *target = LimitEntry{true, std::nullopt, value.at};
      return;
    }
    ParsedNumber parsed = (k == "memory" || k == "file-size") ? parse_size(value.text)
                          : k == "time"                       ? parse_duration_ms(value.text)
                                                              : parse_count(value.text);
    if (auto* err = std::get_if<std::string>(&parsed)) {
      const std::string code = (k == "memory" || k == "file-size") ? "bad-size"
                               : k == "time"                       ? "bad-duration"
                                                                   : "bad-number";
      sink_.error(value.at, value.length, code, "'" + k + "': " + *err,
                  "or 'none' for no limit");
      return;
    }
    *target = LimitEntry{true, std::get<std::uint64_t>(parsed), value.at};
  }

  DiagnosticSink& sink_;
  Profile out_;
};

}  // namespace

Profile validate_profile(const RawNode& root, const std::string& file, DiagnosticSink& sink) {
  return Validator(file, sink).run(root);
}

void merge_profile(Profile& acc, const Profile& child) {
  auto append = [](std::vector<Entry>& to, const std::vector<Entry>& from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  if (!child.description.empty()) acc.description = child.description;
  append(acc.read, child.read);
  append(acc.write, child.write);
  append(acc.exec, child.exec);
  append(acc.deny, child.deny);
  append(acc.protect, child.protect);
  append(acc.redact, child.redact);
  append(acc.env_keep, child.env_keep);
  append(acc.unprotect, child.unprotect);
  for (const auto& kv : child.env_set) acc.env_set.push_back(kv);  // later names replace
  if (child.network) acc.network = child.network;
  append(acc.net_allow, child.net_allow);
  for (const auto& kv : child.net_hosts) acc.net_hosts.push_back(kv);
  if (child.tier) acc.tier = child.tier;
  if (child.learned_from) acc.learned_from = child.learned_from;
  for (auto [a, c] : {std::pair{&acc.processes, &child.processes},
                      std::pair{&acc.memory, &child.memory}, std::pair{&acc.time, &child.time},
                      std::pair{&acc.file_size, &child.file_size},
                      std::pair{&acc.open_files, &child.open_files}}) {
    if (c->present) *a = *c;
  }
  acc.file = child.file;
}

}  // namespace moat::policy
