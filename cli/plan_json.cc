// Field-by-field mapping of policy::Plan to JSON. Every field is written; reading rejects any
// missing or mistyped field, so a cache written by another version is a miss, never a guess.
#include "cli/plan_json.h"

namespace moat::cli {
namespace {
using nlohmann::json;

json source_json(const policy::SourceRef& s) { return {s.file, s.line, s.col}; }
policy::SourceRef source_from(const json& j) {
  return {j.at(0).get<std::string>(), j.at(1).get<int>(), j.at(2).get<int>()};
}

json optional_json(const std::optional<std::uint64_t>& v) { return v ? json(*v) : json(); }
std::optional<std::uint64_t> optional_from(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::uint64_t>();
}

}  // namespace

json plan_to_json(const policy::Plan& p) {
  json j;
  j["profile_name"] = p.profile_name;
  j["profile_files"] = p.profile_files;
  j["description"] = p.description;
  j["tool_files"] = p.tool_files;
  j["tool_caches"] = p.tool_caches;
  json paths = json::array();
  for (const auto& r : p.paths) paths.push_back({r.path, r.access, source_json(r.origin)});
  j["paths"] = paths;
  json deny = json::array();
  for (const auto& d : p.deny) deny.push_back({d.path, source_json(d.origin)});
  j["deny"] = deny;
  json protect = json::array();
  for (const auto& r : p.protect) {
    protect.push_back({r.path, r.protection, r.directory, source_json(r.origin), r.placeholder});
  }
  j["protect"] = protect;
  json redacted = json::array();
  for (const auto& r : p.redacted) redacted.push_back({r.path, r.content, source_json(r.origin)});
  j["redacted"] = redacted;
  j["unprotected"] = p.unprotected;
  json env = json::array();
  for (const auto& e : p.env) env.push_back({e.name, e.value});
  j["env"] = env;
  j["dropped_env"] = p.dropped_env;
  j["network"] = p.network == policy::NetworkMode::kHost        ? "host"
                 : p.network == policy::NetworkMode::kAllowlist ? "allowlist"
                                                                : "none";
  json allow = json::array();
  for (const auto& r : p.net_allow) allow.push_back({r.text, source_json(r.origin)});
  j["net_allow"] = allow;
  json hosts = json::array();
  for (const auto& h : p.net_hosts) hosts.push_back({h.name, h.address, source_json(h.origin)});
  j["net_hosts"] = hosts;
  j["limits"] = {optional_json(p.limits.processes), optional_json(p.limits.memory_bytes),
                 optional_json(p.limits.time_ms), optional_json(p.limits.file_size_bytes),
                 optional_json(p.limits.open_files)};
  j["min_tier"] = p.min_tier == policy::Tier::kLandlock ? "landlock" : "full";
  j["learning"] = p.learning;
  j["learned_from"] = p.learned_from;
  j["home"] = p.home;
  j["project"] = p.project;
  j["cwd"] = p.cwd;
  j["tmpdir"] = p.tmpdir;
  j["user"] = p.user;
  return j;
}

std::optional<policy::Plan> plan_from_json(const json& j) {
  try {
    policy::Plan p;
    p.profile_name = j.at("profile_name").get<std::string>();
    p.profile_files = j.at("profile_files").get<std::vector<std::string>>();
    p.description = j.value("description", std::string());
    p.tool_files = j.at("tool_files").get<std::vector<std::string>>();
    p.tool_caches = j.at("tool_caches").get<std::vector<std::string>>();
    for (const auto& r : j.at("paths")) {
      p.paths.push_back(
          {r.at(0).get<std::string>(), r.at(1).get<unsigned>(), source_from(r.at(2))});
    }
    for (const auto& d : j.at("deny")) {
      p.deny.push_back({d.at(0).get<std::string>(), source_from(d.at(1))});
    }
    for (const auto& r : j.at("protect")) {
      p.protect.push_back({r.at(0).get<std::string>(), r.at(1).get<std::string>(),
                           r.at(2).get<bool>(), source_from(r.at(3)), r.at(4).get<std::string>()});
    }
    if (j.contains("redacted")) {
      for (const auto& r : j.at("redacted")) {
        p.redacted.push_back(
            {r.at(0).get<std::string>(), r.at(1).get<std::string>(), source_from(r.at(2))});
      }
    }
    p.unprotected = j.at("unprotected").get<std::vector<std::string>>();
    for (const auto& e : j.at("env")) {
      p.env.push_back({e.at(0).get<std::string>(), e.at(1).get<std::string>()});
    }
    p.dropped_env = j.at("dropped_env").get<std::vector<std::string>>();
    std::string network = j.at("network").get<std::string>();
    if (network == "host") {
      p.network = policy::NetworkMode::kHost;
    } else if (network == "allowlist") {
      p.network = policy::NetworkMode::kAllowlist;
    } else if (network == "none") {
      p.network = policy::NetworkMode::kNone;
    } else {
      return std::nullopt;
    }
    for (const auto& r : j.at("net_allow")) {
      p.net_allow.push_back({r.at(0).get<std::string>(), source_from(r.at(1))});
    }
    for (const auto& h : j.at("net_hosts")) {
      p.net_hosts.push_back(
          {h.at(0).get<std::string>(), h.at(1).get<std::string>(), source_from(h.at(2))});
    }
    const json& l = j.at("limits");
    p.limits = {optional_from(l.at(0)), optional_from(l.at(1)), optional_from(l.at(2)),
                optional_from(l.at(3)), optional_from(l.at(4))};
    std::string tier = j.at("min_tier").get<std::string>();
    if (tier != "full" && tier != "landlock") return std::nullopt;
    p.min_tier = tier == "landlock" ? policy::Tier::kLandlock : policy::Tier::kFull;
    p.learning = j.at("learning").get<bool>();
    p.learned_from = j.at("learned_from").get<std::string>();
    p.home = j.at("home").get<std::string>();
    p.project = j.at("project").get<std::string>();
    p.cwd = j.at("cwd").get<std::string>();
    p.tmpdir = j.at("tmpdir").get<std::string>();
    p.user = j.at("user").get<std::string>();
    return p;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace moat::cli
