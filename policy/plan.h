// The compiled Plan: everything the launcher needs to build one sandbox, as plain data.
// Produced by policy/compile.cc from a validated profile; consumed by sandboxd/launcher.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moat::policy {

enum class NetworkMode { kNone, kHost, kAllowlist };
enum class Tier { kFull, kLandlock };

// What a path rule grants. Write and exec imply read.
enum AccessBits : unsigned {
  kAccessRead = 1u,
  kAccessWrite = 2u,
  kAccessExec = 4u,
};

// Where a rule came from, for diagnostics and `moat explain`.
struct SourceRef {
  std::string file;  // profile file, or "command line", or "built-in"
  int line = 0;
  int col = 0;
};

struct PathRule {
  std::string path;     // absolute, lexically normalised, variables expanded; may not exist
  unsigned access = 0;  // AccessBits, union over every rule naming this path
  SourceRef origin;
};

// A path made invisible inside the sandbox (masked), whatever grants cover it.
struct DenyRule {
  std::string path;
  SourceRef origin;
};

// A path kept read-only inside a writable tree, enforced even when it does not exist yet.
struct ProtectRule {
  std::string path;
  std::string protection;  // name of the mandatory protection ("git-hooks"), or "profile"
  bool directory = false;  // written with a trailing "/" (shown by explain; placeholders are files)
  SourceRef origin;
  std::string placeholder;  // content of a file placeholder (empty: an empty file)
};

// A file shown inside as a copy without its credentials (`filesystem.redact`); the real file is
// denied, so it stays unreadable wherever the copy cannot be placed.
struct RedactedFile {
  std::string path;
  std::string content;
  SourceRef origin;
};

struct Limits {
  std::optional<std::uint64_t> processes;
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> time_ms;
  std::optional<std::uint64_t> file_size_bytes;
  std::optional<std::uint64_t> open_files;
};

// A network allowlist rule as written ("example.org", "*.example.org:443", "10.0.0.0/8:5432");
// its grammar is checked by policy/net_rule.h when the profile is compiled.
struct NetRule {
  std::string text;
  SourceRef origin;
};

// A static host name (like docker's --add-host): the stub answers `name` with `address`.
struct StaticHost {
  std::string name;
  std::string address;
  SourceRef origin;
};

struct EnvVar {
  std::string name;
  std::string value;
};

struct Plan {
  std::string profile_name;                // "base", or the file's stem
  std::vector<std::string> profile_files;  // every file loaded, the root of `extends` first
  std::string description;                 // the profile's one line (the last one in the chain)
  // Every configuration file a tool resolver asked for, present or not, in order: the plan
  // depends on each (a new or edited .npmrc changes it).
  std::vector<std::string> tool_files;
  // Directories a tool variable named as the tool's cache, store or state (${npm.cache}): writes
  // there are the tool's ordinary work, not news for the summary.
  std::vector<std::string> tool_caches;
  std::vector<PathRule> paths;             // one entry per path, sorted by path
  std::vector<DenyRule> deny;
  std::vector<ProtectRule> protect;
  std::vector<RedactedFile> redacted;      // sorted by path; each path is in `deny` as well
  std::vector<std::string> unprotected;    // mandatory protections lifted by a named override
  std::vector<EnvVar> env;                 // the command's whole environment, sorted by name
  std::vector<std::string> dropped_env;    // names dropped because they look like secrets
  NetworkMode network = NetworkMode::kNone;
  std::vector<NetRule> net_allow;       // allowlist mode: what may be reached
  std::vector<StaticHost> net_hosts;    // allowlist mode: names answered without asking upstream
  Limits limits;
  Tier min_tier = Tier::kFull;  // the weakest tier this profile accepts
  // `moat learn`, never from a profile: allowlist mode that allows every host (special
  // addresses still refused) and records it, and the home as a copy-on-write overlay of the real
  // one (secrets still masked): the run reads what it needs, its writes succeed and vanish.
  bool learning = false;
  // Written by `moat learn` (the profile's `learned:` section): runs report drift from it.
  std::string learned_from;  // the command it was learned from; empty if not learned
  std::string home;             // ${HOME}
  std::string project;          // ${PROJECT}
  std::string cwd;              // ${CWD}: the command starts here
  std::string tmpdir;           // ${TMPDIR}: the sandbox's private temporary directory
  std::string user;             // ${USER}
};

}  // namespace moat::policy
