// Without root there is no eBPF watch; the supervisor still sees the sandbox's attempts to change
// files outside its write paths. seccomp sends a user notification for file-changing calls only
// (opens with write, create or truncate flags; mkdir, unlink, rename, link, symlink, truncate),
// filtered in the kernel on the flags, so reads cost nothing. Each one is answered CONTINUE: the
// kernel's own layers (mounts, Landlock) decide, this only reports. A change outside the usual
// places (project, temp, caches) becomes an event: `create`/`write`/... where a grant or the
// private home takes it, else `deny` (predicted: no grant covers it, so Landlock or a read-only
// mount refuses it). Paths are read from the process's memory after the call was made; a process
// that rewrites them in between only misleads its own report, never the enforcement.
#pragma once

#include <linux/seccomp.h>

#include <string>
#include <vector>

#include "sandboxd/report/event_log.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::supervisor {

struct FileNotifierRoots {
  std::vector<std::string> usual;     // not reported: project, temp dirs, /dev, caches
  std::string home;                   // as the summary judges "usual" (report::is_usual_write)
  std::vector<std::string> writable;  // every write grant and private tmpfs (home, /tmp)
  // What refuses a change no grant covers: "mount" in tier full (everything else is a read-only
  // mount, EROFS comes first), "landlock" in tier landlock.
  std::string refusing_layer = "mount";
  // Tier landlock as root: chmod-family and file-time calls (utime, utimes, futimesat,
  // utimensat) arrive here (mode_change_notify_rules) and are performed by the supervisor itself
  // when the file's real path lies in one of these (the write grants), and the file is the
  // command's own; refused (EPERM) anywhere else. Never answered CONTINUE: the path is resolved
  // once, here, so no rewrite can redirect it. (Landlock governs neither.)
  bool broker_mode_changes = false;
  std::vector<std::string> mode_change_roots;
  bool report_mode_refusals = true;  // false when the watch reports the failed call already
};

class FileNotifier {
 public:
  FileNotifier(report::EventLog& events, FileNotifierRoots roots);
  ~FileNotifier();
  FileNotifier(const FileNotifier&) = delete;
  FileNotifier& operator=(const FileNotifier&) = delete;

  // One notification of a file-changing call (from the gate's loop, which owns the listener in
  // allowlist mode). Always answers it.
  void handle(int notify_fd, const seccomp_notif& request);
  // Without the gate the listener is ours, served from the launcher's own poll loop (idle while
  // the command runs): no thread to start, wake and join on every run.
  void adopt(sys::UniqueFd listener) { listener_ = std::move(listener); }
  int listener_fd() const { return listener_.get(); }  // -1: none (yet, or any more)
  // `revents` of the listener from poll: receives and answers one notification; on HUP (every
  // sandboxed task is gone) or an error, drops the listener.
  void serve(short revents);

 private:
  // Tier landlock as root: chmod and file-time calls, performed here (see FileNotifierRoots).
  static bool is_brokered(long nr);
  void broker_metadata_change(int notify_fd, const seccomp_notif& request);

  report::EventLog& events_;
  FileNotifierRoots roots_;
  sys::UniqueFd listener_;
  std::vector<char> buffer_;  // the kernel's seccomp_notif size, asked once
};

}  // namespace moat::supervisor
