// Decoding of the watch's ring-buffer records; see records.h. The layouts are bpf/watch_event.h's,
// whose sizes and offsets both compilers assert.
#include "sandboxd/watch/records.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "bpf/watch_event.h"

namespace moat::watch {
namespace {

RecordHeader header_of(const moat_watch_header& h) {
  return RecordHeader{static_cast<pid_t>(h.pid), static_cast<pid_t>(h.tid),
                      static_cast<pid_t>(h.ppid), h.time_ns};
}

// A NUL-terminated string of at most len bytes at p (len counts the NUL when it is there).
std::string c_string(const char* p, std::size_t len) {
  std::size_t n = 0;
  while (n < len && p[n] != '\0') ++n;
  return std::string(p, n);
}

template <typename T>
bool fits(std::size_t size) {
  return size >= sizeof(T);
}

}  // namespace

std::string cwd_from_walk(std::string_view leaf_first) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos < leaf_first.size()) {
    std::size_t slash = leaf_first.find('/', pos);
    if (slash == std::string_view::npos) slash = leaf_first.size();
    if (slash > pos) parts.push_back(leaf_first.substr(pos, slash - pos));
    pos = slash + 1;
  }
  if (parts.empty()) return "/";
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += '/';
    out += *it;
  }
  return out;
}

std::vector<std::string> split_nul(std::string_view block) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t end = block.find('\0', pos);
    if (end == std::string_view::npos) end = block.size();
    out.emplace_back(block.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::optional<Record> decode_record(const void* data, std::size_t size) {
  if (size < sizeof(moat_watch_header)) return std::nullopt;
  const auto* bytes = static_cast<const char*>(data);
  moat_watch_header h;
  std::memcpy(&h, bytes, sizeof h);
  switch (h.kind) {
    case MOAT_WATCH_EXEC: {
      // Sent without the unused tail of env: copy what came, zero the rest.
      const std::size_t fixed = offsetof(moat_watch_exec, env);
      if (size < fixed) return std::nullopt;
      auto raw = std::make_unique<moat_watch_exec>();
      std::memset(raw.get(), 0, sizeof *raw);
      std::memcpy(raw.get(), bytes, std::min(size, sizeof *raw));
      const moat_watch_exec& e = *raw;
      ExecRecord r;
      r.h = header_of(e.hdr);
      r.filename = c_string(e.filename, std::min<std::size_t>(e.filename_len, sizeof e.filename));
      std::size_t cwd_len = std::min<std::size_t>(e.cwd_len, sizeof e.cwd);
      r.cwd_truncated = (e.flags & MOAT_WATCH_CWD_TRUNCATED) != 0;
      r.cwd = r.cwd_truncated ? std::string() : cwd_from_walk(std::string_view(e.cwd, cwd_len));
      std::size_t argv_len = std::min<std::size_t>(e.argv_len, sizeof e.argv);
      r.argv_truncated = e.argv_total > argv_len;
      std::string_view argv(e.argv, argv_len);
      if (!argv.empty() && argv.back() == '\0') argv.remove_suffix(1);
      r.argv = split_nul(argv);
      std::size_t env_len = std::min<std::size_t>({e.env_len, sizeof e.env, size - fixed});
      r.environment_truncated = e.env_total > env_len;
      r.environment.assign(e.env, env_len);
      r.uid = e.uid;
      return r;
    }
    case MOAT_WATCH_FORK: {
      if (!fits<moat_watch_fork>(size)) return std::nullopt;
      moat_watch_fork f;
      std::memcpy(&f, bytes, sizeof f);
      return ForkRecord{header_of(f.hdr), static_cast<pid_t>(f.child_pid)};
    }
    case MOAT_WATCH_EXIT: {
      if (!fits<moat_watch_exit>(size)) return std::nullopt;
      moat_watch_exit x;
      std::memcpy(&x, bytes, sizeof x);
      return ExitRecord{header_of(x.hdr), static_cast<int>(x.exit_code)};
    }
    case MOAT_WATCH_FILE: {
      const std::size_t fixed = offsetof(moat_watch_file, paths);
      if (size < fixed) return std::nullopt;
      moat_watch_file f;
      std::memcpy(&f, bytes, fixed);
      std::size_t len1 = f.path_len, len2 = f.path2_len;
      if (len1 > MOAT_WATCH_PATH_MAX || len2 > MOAT_WATCH_PATH_MAX || fixed + len1 + len2 > size) {
        return std::nullopt;
      }
      const char* paths = bytes + fixed;
      FileRecord r;
      r.h = header_of(f.hdr);
      r.op = static_cast<Op>(f.op);
      r.flags = f.flags;
      r.mode = f.mode;
      r.dirfd = f.dirfd;
      r.dirfd2 = f.dirfd2;
      r.ret = f.ret;
      r.path = c_string(paths, len1);
      // A full buffer without its NUL: bpf_probe_read_user_str cut the path.
      r.path_truncated = len1 == MOAT_WATCH_PATH_MAX && r.path.size() >= MOAT_WATCH_PATH_MAX - 1;
      r.path2 = c_string(paths + len1, len2);
      r.path2_truncated = len2 == MOAT_WATCH_PATH_MAX && r.path2.size() >= MOAT_WATCH_PATH_MAX - 1;
      return r;
    }
    case MOAT_WATCH_CWD: {
      const std::size_t fixed = offsetof(moat_watch_cwd, cwd);
      if (size < fixed) return std::nullopt;
      moat_watch_cwd c;
      std::memcpy(&c, bytes, fixed);
      std::size_t len = std::min<std::size_t>({c.cwd_len, sizeof c.cwd, size - fixed});
      CwdRecord r;
      r.h = header_of(c.hdr);
      r.truncated = (c.flags & MOAT_WATCH_CWD_TRUNCATED) != 0;
      if (!r.truncated) r.cwd = cwd_from_walk(std::string_view(bytes + fixed, len));
      return r;
    }
    default:
      return std::nullopt;
  }
}

static_assert(static_cast<std::uint32_t>(Op::kOpenat) == MOAT_OP_OPENAT);
static_assert(static_cast<std::uint32_t>(Op::kRenameat2) == MOAT_OP_RENAMEAT2);
static_assert(static_cast<std::uint32_t>(Op::kFchmod) == MOAT_OP_FCHMOD);
static_assert(static_cast<std::uint32_t>(Op::kFchdir) == MOAT_OP_FCHDIR);
static_assert(static_cast<std::uint32_t>(Op::kSymlinkat) == MOAT_OP_SYMLINKAT);
static_assert(static_cast<std::uint32_t>(Op::kTruncate) == MOAT_OP_TRUNCATE);
static_assert(static_cast<std::uint32_t>(Op::kFtruncate) == MOAT_OP_FTRUNCATE);
static_assert(static_cast<std::uint32_t>(Op::kLinkat) == MOAT_OP_LINKAT);
static_assert(static_cast<std::uint32_t>(Op::kLink) + 1 == MOAT_OP_COUNT);

}  // namespace moat::watch
