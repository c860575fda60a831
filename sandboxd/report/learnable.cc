// The rule of what `moat learn` grants; see learnable.h.
#include "sandboxd/report/learnable.h"

#include <fnmatch.h>

#include <array>
#include <string_view>

#include "sandboxd/report/run_events.h"

namespace moat::report {
namespace {

// Trees of the system: a write there outlives the run for every user (/etc/cron.d, /usr/local/bin)
// or is the kernel's (/proc, /sys). /root is root's home, a system tree when it is not $HOME.
constexpr std::array<std::string_view, 18> kSystemTrees = {
    "/bin",  "/boot", "/dev", "/etc",  "/lib",  "/lib32", "/lib64", "/libx32", "/opt",
    "/proc", "/root", "/run", "/sbin", "/snap", "/srv",   "/sys",   "/usr",    "/var"};

// Shared temporary directories: below them, a grant names one tool's own directory.
constexpr std::array<std::string_view, 3> kTemporary = {"/tmp", "/var/tmp", "/dev/shm"};

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  for (std::size_t pos = 0; pos < path.size();) {
    std::size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    if (next > pos) out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

// The first N components of PATH match those of PATTERN (fnmatch per component: a file name
// with '*' in it matches itself too).
bool leading_match(const std::vector<std::string_view>& pattern,
                   const std::vector<std::string_view>& path, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (pattern[i] == path[i]) continue;
    if (::fnmatch(std::string(pattern[i]).c_str(), std::string(path[i]).c_str(), 0) != 0) {
      return false;
    }
  }
  return true;
}

bool strictly_below(const std::string& path, std::string_view dir) {
  return path.size() > dir.size() + 1 && is_within(path, std::string(dir));
}

}  // namespace

std::optional<std::string> protected_part(const std::string& path, const LearnLimits& limits) {
  const std::vector<std::string_view> p = components(path);
  for (const std::string& prot : limits.protected_paths) {
    const std::vector<std::string_view> q = components(prot);
    if (q.empty() || q.size() > p.size() || !leading_match(q, p, q.size())) continue;
    std::string part;
    for (std::size_t i = 0; i < q.size(); ++i) part += "/" + std::string(p[i]);
    return part;
  }
  return std::nullopt;
}

std::string why_not_learnable(const std::string& root, const LearnLimits& limits) {
  if (root.empty() || root[0] != '/') return "not an absolute path";
  if (root == "/") return "the root directory";
  if (root == limits.home) return "the home directory itself";
  if (is_within(limits.home, root)) return "it holds the home directory";
  if (is_within(limits.project, root) && root != limits.project) return "it holds the project";
  if (std::optional<std::string> part = protected_part(root, limits)) return "protected";
  const std::vector<std::string_view> r = components(root);
  for (const std::string& prot : limits.protected_paths) {
    // An ancestor of a protected path: granting it would let the run replace the protected
    // path itself (rename a directory over ~/.config/autostart).
    const std::vector<std::string_view> q = components(prot);
    if (q.size() > r.size() && leading_match(q, r, r.size())) {
      return "it holds the protected " + prot;
    }
  }
  const bool in_home = strictly_below(root, limits.home);
  bool in_temporary = false;
  for (std::string_view t : kTemporary) in_temporary = in_temporary || strictly_below(root, t);
  if (!in_home && !in_temporary) {
    for (std::string_view t : kTemporary) {
      if (root == t) return "shared by every user";
    }
    for (std::string_view s : kSystemTrees) {
      if (is_within(root, std::string(s))) return "a system directory: " + std::string(s);
    }
    return "outside the home and the temporary directories";
  }
  for (const std::string& dir : limits.command_dirs) {
    if (is_within(root, dir) || is_within(dir, root)) {
      return "on PATH (" + dir + "): a file there runs in place of a command";
    }
  }
  return {};
}

}  // namespace moat::report
