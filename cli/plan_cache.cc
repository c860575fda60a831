// Entries are files named by a hash of the inputs (plan_cache_format.h); the full input text is
// stored too and compared, so a hash collision is a miss. Files are 0600 in a 0700 directory we own.
#include "cli/plan_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/plan_cache_format.h"

namespace moat::cli {
namespace {

// Always under the home (not $XDG_CACHE_HOME): that is where the mandatory `moat-state`
// protection keeps it read-only for sandboxed commands.
std::string cache_dir(const policy::Context& ctx) { return ctx.home + "/.cache/moat/plans"; }

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// What a file or directory looks like now; any edit, replacement or creation changes it.
FileStamp stamp(const std::string& path) {
  FileStamp out;
  out.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return out;
  out.exists = true;
  out.dev = static_cast<std::uint64_t>(st.st_dev);
  out.ino = static_cast<std::uint64_t>(st.st_ino);
  out.size = static_cast<std::int64_t>(st.st_size);
  out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  out.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return out;
}

// The profile files and the tool configuration files (.npmrc, ...) the plan was built from;
// an absent file is stamped as absent, so creating it is a miss too.
std::string stamps(const policy::Plan& plan, const policy::Context& ctx) {
  std::vector<FileStamp> out;
  out.push_back(stamp("/proc/self/exe"));
  for (const std::string& dir : ctx.search_path) out.push_back(stamp(dir));
  for (const std::string& file : plan.profile_files) out.push_back(stamp(file));
  for (const std::string& file : plan.tool_files) out.push_back(stamp(file));
  return encode_stamps(out);
}

bool trustworthy(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
         (st.st_mode & 022) == 0;
}

std::optional<CachedCompile> lookup(const std::string& file, const std::string& inputs,
                                    const policy::Context& ctx) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  if (!trustworthy(fd)) {
    ::close(fd);
    return std::nullopt;
  }
  std::string text;
  char buf[16384];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto entry = decode_cache_entry(text);
  if (!entry || entry->inputs != inputs) return std::nullopt;
  if (entry->stamps != stamps(entry->plan, ctx)) return std::nullopt;
  return CachedCompile{std::move(entry->plan), std::move(entry->diagnostics)};
}

void store(const std::string& dir, const std::string& file, const std::string& inputs,
           const policy::CompileOutput& out, const policy::Context& ctx) {
  std::string parent = dir.substr(0, dir.rfind('/'));
  ::mkdir(parent.substr(0, parent.rfind('/')).c_str(), 0700);
  ::mkdir(parent.c_str(), 0700);
  ::mkdir(dir.c_str(), 0700);
  CacheEntry entry;
  entry.inputs = inputs;
  entry.plan = *out.plan;
  entry.stamps = stamps(*out.plan, ctx);
  for (const policy::Diagnostic& d : out.diagnostics) {
    entry.diagnostics.push_back(policy::format_diagnostic(d));
  }
  std::string text = encode_cache_entry(entry);
  std::string tmp = file + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;  // a cache we cannot write is only slower
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace

policy::CompileOutput compile_profile_cached(const std::string& name_or_path,
                                             const policy::Context& ctx,
                                             const policy::Overrides& overrides,
                                             std::vector<std::string>* replayed_warnings) {
  const char* off = std::getenv("MOAT_NO_PLAN_CACHE");
  if ((off != nullptr && off[0] != '\0' && off[0] != '0') || ctx.home.empty() ||
      ctx.home == "/") {
    return policy::compile_profile(name_or_path, ctx, overrides);
  }
  std::string inputs = encode_inputs(name_or_path, ctx, overrides);
  std::string dir = cache_dir(ctx);
  char name[32];
  std::snprintf(name, sizeof(name), "%016llx.plan",
                static_cast<unsigned long long>(fnv1a(inputs)));
  std::string file = dir + "/" + name;
  if (auto hit = lookup(file, inputs, ctx)) {
    *replayed_warnings = std::move(hit->diagnostics);
    policy::CompileOutput out;
    out.plan = std::move(hit->plan);
    return out;
  }
  policy::CompileOutput out = policy::compile_profile(name_or_path, ctx, overrides);
  if (out.plan) store(dir, file, inputs, out, ctx);
  return out;
}

}  // namespace moat::cli
