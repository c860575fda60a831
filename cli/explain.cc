// `moat explain`: what a profile allows, in plain words, and which layers this kernel gives.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/context.h"
#include "cli/run.h"
#include "policy/syscall_rules.h"
#include "sandboxd/probe.h"

namespace moat::cli {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string where(const policy::SourceRef& ref) {
  if (ref.line == 0) return ref.file;
  return ref.file + ":" + std::to_string(ref.line);
}

void list_paths(const policy::Plan& plan, const char* title, unsigned want, unsigned reject) {
  bool any = false;
  for (const policy::PathRule& r : plan.paths) {
    if ((r.access & want) != want || (r.access & reject) != 0) continue;
    if (!any) std::printf("%s\n", title);
    any = true;
    const char* note = r.path == plan.tmpdir ? "(a private, empty tmpfs) "
                       : exists(r.path)      ? ""
                                             : "(absent now) ";
    std::printf("  %-40s %sfrom %s\n", r.path.c_str(), note, where(r.origin).c_str());
  }
}

std::string human_bytes(std::uint64_t v) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (v >= 1024 && v % 1024 == 0 && u < 4) {
    v /= 1024;
    ++u;
  }
  return std::to_string(v) + " " + units[u];
}

}  // namespace

int explain_main(const std::string& profile, const policy::Overrides& overrides,
                 const std::vector<std::string>& command) {
  policy::Context ctx = gather_context();
  ctx.argv = command;
  policy::CompileOutput out = policy::compile_profile(profile, ctx, overrides);
  if (print_diagnostics(out.diagnostics) || !out.plan) return 125;
  const policy::Plan& plan = *out.plan;

  std::printf("Profile %s", plan.profile_name.c_str());
  if (!plan.profile_files.empty()) {
    std::printf(" (");
    for (size_t i = 0; i < plan.profile_files.size(); ++i) {
      std::printf("%s%s", i ? " <- " : "", plan.profile_files[i].c_str());
    }
    std::printf(")");
  }
  if (!plan.description.empty()) std::printf("\n  %s", plan.description.c_str());
  std::printf("\nFor the project %s, working directory %s, home %s\n", plan.project.c_str(),
              plan.cwd.c_str(), plan.home.c_str());
  if (!plan.tool_files.empty()) {
    // The files behind ${npm.registries} and friends, and git's configuration (where the hooks
    // are); the others were looked for, not found (a directory was only looked at).
    std::string present;
    for (const std::string& f : plan.tool_files) {
      struct stat st {};
      if (::stat(f.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) present += "\n  " + f;
    }
    std::printf("Read from the tools' and git's own configuration:%s\n",
                present.empty() ? " (no file found: defaults and environment only)"
                                : present.c_str());
  }
  std::printf("\n");

  std::printf("The command sees a new, empty root file system with only these paths in it.\n");
  list_paths(plan, "It may WRITE (and read) here:", policy::kAccessWrite, 0);
  list_paths(plan, "It may READ and EXECUTE here:", policy::kAccessExec, policy::kAccessWrite);
  list_paths(plan, "It may only READ here:", policy::kAccessRead,
             policy::kAccessWrite | policy::kAccessExec);
  std::printf(
      "Private and empty at every run, discarded after it: %s (TMPDIR), %s (HOME, except "
      "the paths above), /dev/shm\n",
      plan.tmpdir.c_str(), plan.home.c_str());

  std::printf("\nNever readable (masked even where a grant covers them):\n");
  for (const policy::DenyRule& d : plan.deny) {
    std::printf("  %-40s from %s\n", d.path.c_str(), where(d.origin).c_str());
  }
  if (!plan.redacted.empty()) {
    std::printf("\nShown as a copy without credentials (the real file above stays masked):\n");
    for (const policy::RedactedFile& r : plan.redacted) {
      std::printf("  %-40s from %s\n", r.path.c_str(), where(r.origin).c_str());
    }
  }
  std::printf("\nRead-only even inside writable paths, even before they exist:\n");
  std::map<std::string, std::vector<std::string>> groups;
  for (const policy::ProtectRule& p : plan.protect) groups[p.protection].push_back(p.path);
  for (const auto& [name, paths] : groups) {
    std::printf("  [%s]\n", name.c_str());
    for (const std::string& p : paths) {
      if (p.size() > 2 && p.compare(p.size() - 2, 2, "/*") == 0) {
        std::printf(
            "    %s  (every entry it holds when the run starts, but the writable paths "
            "above; new ones may be created)\n",
            p.c_str());
      } else if (p.find("/*/") != std::string::npos) {
        std::printf("    %s  (in each directory there when the run starts)\n", p.c_str());
      } else {
        std::printf("    %s\n", p.c_str());
      }
    }
  }
  if (!plan.unprotected.empty()) {
    std::printf("  LIFTED by the profile (unprotect):");
    for (const std::string& n : plan.unprotected) std::printf(" %s", n.c_str());
    std::printf("\n");
  }

  std::printf("\nEnvironment: %zu variables passed", plan.env.size());
  if (!plan.dropped_env.empty()) {
    std::printf("; dropped because they look like secrets:");
    for (const std::string& n : plan.dropped_env) std::printf(" %s", n.c_str());
  }
  std::printf("\n");
  if (plan.network == policy::NetworkMode::kAllowlist) {
    std::printf(
        "Network: allowlist. Only loopback exists inside; DNS is answered by moat (other "
        "names get NXDOMAIN and are never asked upstream); every TCP connect goes through "
        "the gate, which connects only to addresses handed out for these rules:\n");
    for (const policy::NetRule& r : plan.net_allow) {
      std::printf("  %-40s from %s\n", r.text.c_str(), where(r.origin).c_str());
    }
    if (plan.net_allow.empty() && plan.net_hosts.empty()) {
      std::printf("  (none: no host is reachable; a profile that extends this one lists them)\n");
    }
    for (const policy::StaticHost& h : plan.net_hosts) {
      std::printf("  %-40s from %s\n", (h.name + " = " + h.address).c_str(),
                  where(h.origin).c_str());
    }
    std::printf(
        "  UDP (other than DNS to moat), raw sockets, loopback and link-local addresses of "
        "the host, and private addresses from DNS answers are refused.\n"
        "  In tier landlock (no network namespace) the host's network is shared: connect() to "
        "port 53 of any address reaches moat's stub (glibc is told to ask over TCP), UDP, SCTP "
        "and TCP Fast Open are refused by seccomp, Landlock lets no TCP socket connect or bind "
        "by itself (the gate hands over sockets it connected), and the host's loopback is "
        "refused. With root, cgroup BPF programs allow only the stub, the address rules and "
        "the addresses the stub handed out, in either tier.\n");
  } else {
    std::printf("Network: %s\n", plan.network == policy::NetworkMode::kNone
                                     ? "none (a private network namespace with only loopback)"
                                     : "HOST (no network isolation)");
  }
  const policy::Limits& l = plan.limits;
  std::printf("Limits:");
  if (l.processes) std::printf(" processes %llu;", static_cast<unsigned long long>(*l.processes));
  if (l.memory_bytes) std::printf(" memory %s;", human_bytes(*l.memory_bytes).c_str());
  if (l.time_ms) std::printf(" time %llu s;", static_cast<unsigned long long>(*l.time_ms / 1000));
  if (l.file_size_bytes) std::printf(" file size %s;", human_bytes(*l.file_size_bytes).c_str());
  if (l.open_files)
    std::printf(" open files %llu;", static_cast<unsigned long long>(*l.open_files));
  std::printf("\n\nAlways, whatever the profile:\n");
  std::printf(
      "  new user, mount, pid, ipc, uts, cgroup and network namespaces; setsid (no "
      "terminal); every capability dropped; no-new-privileges; no core dumps;\n"
      "  every process of the sandbox is killed when the command exits.\n");
  std::printf("  System calls refused:\n");
  std::map<std::string, std::vector<std::string>> by_reason;
  for (const policy::SyscallRule& r : policy::default_syscall_rules()) {
    auto& names = by_reason[r.why];
    if (names.empty() || names.back() != r.name) names.push_back(r.name);
  }
  for (const auto& [why, names] : by_reason) {
    std::printf("    %s:", why.c_str());
    for (const std::string& n : names) std::printf(" %s", n.c_str());
    std::printf("\n");
  }
  std::printf("  32-bit (i386) and x32 system calls kill the process.\n");

  probe::KernelFeatures kernel = probe::probe_kernel();
  probe::TierAssessment tier = probe::assess_tier(kernel);
  int abi = kernel.landlock_abi;
  std::printf(
      "\nOn this kernel (%s): tier %s; Landlock ABI %d%s; memory limit %s; pids limit %s.\n",
      kernel.kernel_release.c_str(), probe::tier_name(tier.tier), abi > 0 ? abi : 0,
      abi >= 6 ? " (files, TCP ports, signal and socket scopes)" : "",
      kernel.is_root &&
              (kernel.cgroups.v1_memory ||
               std::find(kernel.cgroups.v2_controllers.begin(), kernel.cgroups.v2_controllers.end(),
                         "memory") != kernel.cgroups.v2_controllers.end())
          ? "available"
          : "needs root",
      kernel.is_root ? "cgroup" : "RLIMIT_NPROC in the user namespace");
  for (const std::string& reason : tier.reasons) std::printf("  %s\n", reason.c_str());
  std::printf("Tier required by the profile: %s. `moat doctor` shows every layer.\n",
              plan.min_tier == policy::Tier::kFull ? "full" : "landlock (weaker, explicit)");
  return 0;
}

}  // namespace moat::cli
