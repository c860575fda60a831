// Parent-side preparation: turns a Plan into a ChildSpec (mount table, Landlock rules, seccomp
// program, argv/env) by looking at the host's paths. Runs before clone; changes nothing but
// placeholders for protected paths that do not exist yet (removed again by the launcher).
#pragma once

#include <string>
#include <vector>

#include "policy/plan.h"
#include "policy/result.h"
#include "sandboxd/launcher/child_spec.h"
#include "sandboxd/sys/unique_fd.h"

namespace moat::launcher {

struct PrepareOptions {
  bool namespaces = true;  // tier full; false: tier landlock (no mounts)
  int landlock_abi = 0;    // from the probe
  bool running_as_root = false;
  // Tier landlock only: a private directory on the host standing in for ${TMPDIR}.
  std::string private_tmpdir;
  // Allowlist mode: connect() goes to the gate (seccomp notification), and without a network
  // namespace seccomp also refuses the IP sockets the gate cannot broker. false only for the
  // test-only run of the in-kernel layer alone (MOAT_TEST_ONLY_LAYER=kernel).
  bool gate_seccomp = true;
  // No eBPF watch (no root): file-changing calls notify the supervisor (file_notifier.h).
  bool notify_file_changes = false;
  // Tier landlock as root: chmod-family calls go to the supervisor (mode_change_notify_rules).
  bool broker_mode_changes = false;
  // --allow-degraded: a protected path that cannot be protected (a symlink on its way inside a
  // writable tree) is listed in Prepared::unprotected instead of refusing the run.
  bool allow_unprotected = false;
};

struct Placeholder {
  std::string path;      // for messages
  std::string root;      // the writable tree's real path on the host (symlinks allowed above it)
  std::string relative;  // below root; created and removed without following any symlink
  bool directory = false;
  std::string content;   // what a file placeholder holds; removed only if it still does
};

struct Prepared {
  ChildSpec spec;
  std::vector<Placeholder> placeholders;  // created on the host; remove after the run
  // A shared flock on every empty file this run binds read-only at a protected path, made by it
  // or by another run in the same project. Held until the sandbox is gone: a run removes a
  // placeholder only when it can lock it exclusively, because unlinking a file on the host
  // detaches the mounts on it in every other namespace (Linux >= 3.18) and would lift a running
  // sandbox's protection. Release before remove_placeholders.
  std::vector<sys::UniqueFd> placeholder_locks;
  std::vector<std::string> skipped;       // grants whose path does not exist (for explain/warnings)
  // Tier landlock only: writable directories in which nothing new can be created, because a
  // protected path sits below them and Landlock rights are inherited by whole subtrees.
  std::vector<std::string> narrowed;
  // With allow_unprotected: protected paths left unprotected, and why.
  std::vector<std::string> unprotected;
};

Result<Prepared> setup_child_spec(const policy::Plan& plan, const std::vector<std::string>& argv,
                                  const PrepareOptions& options);

// Removes placeholders that are still what this run put there and that no other run holds (see
// Prepared::placeholder_locks). Called by the parent after the sandbox is gone.
void remove_placeholders(const std::vector<Placeholder>& placeholders);

// Landlock rights for our access bits, for a directory or a file, limited to what `abi` knows.
std::uint64_t landlock_rights(unsigned access, bool directory, int abi);

}  // namespace moat::launcher
