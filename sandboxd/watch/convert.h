// Turns decoded watch records into report events (docs/events.md): exec, exit, write, create,
// delete, rename, chmod, and deny for refused file operations. Pure apart from the injected
// /proc lookups, so every rule here is unit-tested.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "sandboxd/report/event_log.h"
#include "sandboxd/watch/process_table.h"
#include "sandboxd/watch/records.h"

namespace moat::watch {

// Where relative paths are resolved when the watch's own records do not say: the live process.
class ProcLookup {
 public:
  virtual ~ProcLookup() = default;
  virtual std::optional<std::string> fd_path(pid_t pid, int fd) const = 0;  // /proc/PID/fd/N
  virtual std::optional<std::string> cwd(pid_t pid) const = 0;              // /proc/PID/cwd
  // readlink of a link in the host's /proc: "/proc/PID/task/TID/fd/N", "/proc/PID/root/proc/..."
  virtual std::optional<std::string> link(const std::string& proc_path) const = 0;
};

// readlink of the real /proc files; nullopt once the process is gone.
class LiveProcLookup : public ProcLookup {
 public:
  std::optional<std::string> fd_path(pid_t pid, int fd) const override;
  std::optional<std::string> cwd(pid_t pid) const override;
  std::optional<std::string> link(const std::string& proc_path) const override;
};

struct ResolvedPath {
  std::string path;
  bool relative = false;  // could not be resolved: `path` is as the process passed it
  bool unresolved = false;  // a /proc link that could not be read any more: `path` is the link
  bool not_a_file = false;  // a /proc fd link to a pipe, socket or anonymous inode
};

// PATH relative to DIRFD (AT_FDCWD: the working directory): absolute paths are kept; otherwise
// the directory is the watched cwd (known_cwd, kept current by exec and chdir records), else
// /proc/PID/cwd or /proc/PID/fd/DIRFD while the process lives. Lexically normalised ("a/../b"
// is "b"; symbolic links are not followed).
ResolvedPath resolve_path(const std::string& path, int dirfd, pid_t pid,
                          const std::string& known_cwd, const ProcLookup& lookup);

// PATH (absolute, normalised) through the process's own /proc links: /proc/{self,thread-self,N}
// [/task/T]/{fd/N,cwd,root}[/REST], N and T the sandbox's pids, is the file the link names, read
// from the host's /proc (PID and TID are the record's) while the process lives; `unresolved`
// with PATH as given once it cannot be read. nullopt when PATH goes through no such link.
std::optional<ResolvedPath> resolve_proc_link(const std::string& path, pid_t pid, pid_t tid,
                                              const ProcLookup& lookup);

// "EACCES" for EACCES...; "E<n>" for numbers without a name here.
std::string errno_name(int err);

// Which layer most likely refused a file operation, from its errno alone (the kernel does not
// say): EACCES -> landlock (Landlock's answer; also plain permission bits), EROFS -> mount
// (read-only bind), EPERM -> seccomp (our filter's answer; also immutable files, capabilities).
// "" for errors that are not refusals (ENOENT, EEXIST...): those are not reported.
std::string deny_layer(int err);

// Files whose opens are not worth an event: /dev/null, /dev/tty, /dev/pts/*, /proc/self/* (a
// path through a /proc link is resolved first: only the process's own /proc files are left).
bool is_noise(const std::string& path);

report::Event exec_event(const ExecRecord& r, const Process& p);
report::Event exit_event(const ExitRecord& r, const Process& p);
// nullopt when the operation is not reported: a read-only open, noise, a failure that is not
// a refusal, or a process still in the sandbox's own setup (no exec yet).
std::optional<report::Event> file_event(const FileRecord& r, const Process& p,
                                        const ProcLookup& lookup);

// The exec'd file, absolute: as passed to execve, resolved against the exec's cwd, normalised.
std::string exe_path(const ExecRecord& r);

}  // namespace moat::watch
