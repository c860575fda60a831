// The watch's ring-buffer records (bpf/watch_event.h) decoded into owned C++ values. Pure: the
// bytes come from a BPF program we trust, but every length is still checked against the size.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace moat::watch {

struct RecordHeader {
  pid_t pid = 0;  // thread-group id
  pid_t tid = 0;
  pid_t ppid = 0;             // exec, fork, exit: the real parent's thread-group id
  std::uint64_t boot_ns = 0;  // CLOCK_BOOTTIME
};

struct ExecRecord {
  RecordHeader h;
  std::string filename;  // as passed to execve (may be relative to cwd)
  std::string cwd;       // absolute, as the sandbox sees it; "" when unknown
  bool cwd_truncated = false;
  std::vector<std::string> argv;
  bool argv_truncated = false;
  std::string environment;  // NUL-separated KEY=value entries
  bool environment_truncated = false;
  std::uint32_t uid = 0;
};

struct ForkRecord {
  RecordHeader h;  // h.pid: the parent
  pid_t child = 0;
};

struct ExitRecord {
  RecordHeader h;
  int exit_code = 0;  // wait(2) status
};

// Values of bpf/watch_event.h's enum moat_watch_op.
enum class Op : std::uint32_t {
  kNone = 0,
  kOpenat = 1,
  kOpenat2 = 2,
  kOpen = 3,
  kCreat = 4,
  kUnlinkat = 5,
  kUnlink = 6,
  kRmdir = 7,
  kRenameat = 8,
  kRenameat2 = 9,
  kRename = 10,
  kMkdirat = 11,
  kMkdir = 12,
  kFchmodat = 13,
  kFchmodat2 = 14,
  kChmod = 15,
  kFchmod = 16,
  kChdir = 17,
  kFchdir = 18,
  kSymlinkat = 19,  // path: the link; path2: its target, as written (not resolved)
  kSymlink = 20,
  kTruncate = 21,
  kFtruncate = 22,  // dirfd: the fd
  kLinkat = 23,     // path: the old name; path2: the new one
  kLink = 24,
};

struct FileRecord {
  RecordHeader h;
  Op op = Op::kNone;
  std::uint32_t flags = 0;
  std::uint32_t mode = 0;
  int dirfd = -100;  // AT_FDCWD
  int dirfd2 = -100;
  std::string path;
  bool path_truncated = false;
  std::string path2;  // renames and links: the new name
  bool path2_truncated = false;
  std::int64_t ret = 0;
};

struct CwdRecord {
  RecordHeader h;
  std::string cwd;  // absolute; "" when unknown
  bool truncated = false;
};

using Record = std::variant<ExecRecord, ForkRecord, ExitRecord, FileRecord, CwdRecord>;

// nullopt for a record that is too short for its kind or of an unknown kind.
std::optional<Record> decode_record(const void* data, std::size_t size);

// The walk's leaf-first "c/b/a/" as "/a/b/c"; "/" for an empty walk (the root itself).
std::string cwd_from_walk(std::string_view leaf_first);

// "a\0b\0c\0" -> {"a", "b", "c"}; an unterminated last entry is kept (it was cut).
std::vector<std::string> split_nul(std::string_view block);

}  // namespace moat::watch
