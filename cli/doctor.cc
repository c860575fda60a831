// `moat doctor`: renders probe::probe_kernel() as a table grouped by protection layer (DESIGN.md
// §2) or as JSON, ending with the tier verdict and what `moat run` will do with it.
#include "cli/doctor.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sandboxd/daemon/client.h"
#include "sandboxd/probe.h"
#include "sandboxd/watch/watch.h"

namespace moat::cli {
namespace {

using probe::Feature;
using probe::KernelFeatures;

struct Layer {
  std::string name;
  std::vector<Feature> rows;
};

Feature row(std::string name, bool available, std::string detail, std::string fix = {}) {
  return Feature{std::move(name), available, std::move(detail), available ? "" : std::move(fix),
                 false};
}

Feature info(std::string name, std::string detail) {
  return Feature{std::move(name), true, std::move(detail), "", true};
}

Feature renamed(const Feature& f, std::string name) {
  Feature out = f;
  out.name = std::move(name);
  return out;
}

// A Landlock feature that arrived with a given ABI.
Feature landlock_row(const KernelFeatures& k, const std::string& name, int abi,
                     const std::string& what) {
  if (k.landlock_abi >= abi) return row(name, true, what + " (ABI " + std::to_string(abi) + ")");
  std::string have = k.landlock_abi >= 1 ? "this kernel has ABI " + std::to_string(k.landlock_abi)
                                         : "Landlock is missing";
  return row(
      name, false, what + ": " + have,
      "needs Landlock ABI " + std::to_string(abi) + " (" + probe::landlock_abi_kernel(abi) + "+)");
}

Feature bpf_row(const KernelFeatures& k, const std::string& type) {
  if (const Feature* f = probe::find_bpf_program_type(k, type)) return renamed(*f, "bpf " + type);
  return row("bpf " + type, false, "not probed");
}

// sandboxd (optional): is it answering, and what does it give this caller?
Feature sandboxd_row(const KernelFeatures& k) {
  const std::string name = "sandboxd";
  const std::string path = daemon::socket_path();
  auto client = daemon::Client::connect(path);
  if (!client) {
    if (client.error().code == ErrorCode::kNotFound) {
      return info(name, "not running at " + path + (k.is_root
                                                        ? ": root loads the watch per run (6-15 ms)"
                                                        : ": rootless runs have no watch"));
    }
    return row(name, false, client.error().to_string(),
               "restart sandboxd from the same build as moat (README: sandboxd)");
  }
  auto status = client->status();
  if (!status) {
    return row(name, false, status.error().to_string(),
               "restart sandboxd from the same build as moat (README: sandboxd)");
  }
  std::string detail = "running at " + path + ", protocol " +
                       std::to_string(daemon::kProtocolVersion) + ", " +
                       std::to_string(status->sandboxes) + " sandboxes watched; ";
  detail += k.is_root ? "root runs use its loaded watch (no per-run load)"
                      : "rootless runs get the watch and limits.memory through a cgroup it "
                        "delegates";
  if (!k.is_root && !k.cgroups.v2_favordynmods) {
    // Measured on this machine kind: the move took 0.3-13 ms, median ~9 ms of a ~7 ms run.
    detail +=
        "; sandboxd moves each run into that cgroup, and without favordynmods on the "
        "cgroup2 mount the kernel makes the move wait for an RCU grace period (~10 ms "
        "per run): `mount -o remount,favordynmods` on the cgroup2 mount (Linux 6.1+) "
        "removes the wait";
  }
  return info(name, detail);
}

// The watch's own programs, loaded for real (not attached): the verifier, BTF and CO-RE decide.
Feature watch_row(const KernelFeatures& k) {
  const std::string name = "watch programs";
  Status loaded = watch::probe_watch();
  if (loaded) {
    return row(name, true,
               "raw_tp/sched_process_exec, fork, exit, sys_exit loaded: `moat run` as "
               "root reports exec, exit, file changes and refused reads (source: watch)");
  }
  return row(name, false, loaded.error().to_string(),
             k.is_root ? "without it `moat run` as root exits 125; --no-watch or --allow-degraded "
                         "runs without the watch"
                       : "run moat as root for the watch. Rootless runs report file changes "
                         "outside the project from seccomp notifications instead (source: "
                         "file-notify; no execs, no refused reads)");
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string running_as(const KernelFeatures& k) {
  if (k.is_root) return "uid 0 (root): cgroup limits and BPF can be used";
  const std::string who = k.uid == 0 ? "uid 0 inside a user namespace (not host root)"
                                     : "uid " + std::to_string(k.uid) + " (rootless)";
  return who + ": no BPF, no cgroup limits unless a subtree is delegated";
}

std::vector<Layer> build_layers(const KernelFeatures& k) {
  const auto& cg = k.cgroups;
  std::vector<Layer> layers;

  layers.push_back(
      {"File system view",
       {renamed(k.user_ns, "user namespace"), renamed(k.mount_ns, "mount namespace")}});

  layers.push_back({"File access (Landlock)",
                    {renamed(k.landlock, "landlock"),
                     landlock_row(k, "landlock log flags", 7, "denial audit flags")}});

  Feature kill;
  if (cg.v2_kill && cg.can_create) {
    kill = row("cgroup.kill", true, "whole-tree kill at exit, in a cgroup of our own");
  } else {
    kill = row("cgroup.kill", false,
               !cg.can_create ? "unusable: we cannot create a cgroup (" + cg.create_detail + ")"
                              : "no cgroup.kill (Linux 5.14+) in the v2 hierarchy",
               "without it the pid namespace teardown kills the tree; for cgroup.kill run as root "
               "or delegate a cgroup v2 subtree");
  }
  layers.push_back({"Processes",
                    {renamed(k.pid_ns, "pid namespace"), renamed(k.ipc_ns, "ipc namespace"),
                     renamed(k.uts_ns, "uts namespace"), renamed(k.cgroup_ns, "cgroup namespace"),
                     renamed(k.time_ns, "time namespace"),
                     landlock_row(k, "landlock scopes", 6, "signal and abstract-socket scoping"),
                     kill, renamed(k.tiocsti_legacy, "TIOCSTI")}});

  layers.push_back(
      {"Privileges", {renamed(k.no_new_privs, "no_new_privs"), info("running as", running_as(k))}});

  layers.push_back(
      {"Syscalls",
       {renamed(k.seccomp, "seccomp filter"), renamed(k.seccomp_user_notif, "seccomp user notif"),
        renamed(k.io_uring_disabled_sysctl, "io_uring")}});

  layers.push_back(
      {"Network",
       {renamed(k.net_ns, "net namespace"),
        landlock_row(k, "landlock tcp", 4, "TCP bind/connect port rules"),
        bpf_row(k, "cgroup_sock_addr"), bpf_row(k, "cgroup_sock"), bpf_row(k, "cgroup_skb")}});

  // Limits: the v2 controller when there is one, else the v1 hierarchy (root only).
  auto has_v2 = [&](const std::string& c) {
    for (const std::string& x : cg.v2_controllers) {
      if (x == c) return true;
    }
    return false;
  };
  auto limit_row = [&](const std::string& controller, bool v1, const std::string& v1_path) {
    const std::string name = controller + " limit";
    if (has_v2(controller) && cg.can_create) {
      return row(name, true, "cgroup v2 " + controller + " controller at " + cg.v2_path);
    }
    if (v1 && k.is_root) {
      return row(name, true,
                 "cgroup v1 " + controller + " at " + v1_path + " (v2 controllers: " +
                     (cg.v2_controllers.empty() ? "none" : join(cg.v2_controllers, " ")) + ")");
    }
    std::string detail = has_v2(controller)
                             ? "v2 " + controller + " controller, but " + cg.create_detail
                         : v1 ? "cgroup v1 " + controller + " at " + v1_path + " needs root"
                              : "no " + controller + " controller in cgroup v2 or v1";
    std::string fix = k.is_root
                          ? "enable the " + controller + " controller (cgroup v2: +" + controller +
                                " in cgroup.subtree_control); rlimits still apply"
                          : "run as root, or delegate a cgroup v2 subtree with the " + controller +
                                " controller; rlimits still apply";
    return row(name, false, detail, fix);
  };
  Feature v2 = cg.v2_mounted
                   ? row("cgroup v2", true,
                         "at " + cg.v2_path + ", controllers: " +
                             (cg.v2_controllers.empty() ? "none" : join(cg.v2_controllers, " ")))
                   : row("cgroup v2", false, "no cgroup2 mount in /proc/self/mountinfo",
                         "mount -t cgroup2 none /sys/fs/cgroup (or boot with "
                         "systemd.unified_cgroup_hierarchy=1)");
  Feature create = row("cgroup create", cg.can_create, cg.create_detail,
                       k.is_root ? "see the detail"
                                 : "run as root, or have root mkdir + chown a cgroup v2 subtree "
                                   "for this user and start moat inside it");
  layers.push_back({"Limits",
                    {v2, create, limit_row("memory", cg.v1_memory, cg.v1_memory_path),
                     limit_row("pids", cg.v1_pids, cg.v1_pids_path)}});

  layers.push_back(
      {"Watch (BPF)",
       {info("unprivileged bpf",
             k.bpf.unprivileged_disabled.empty()
                 ? "kernel.unprivileged_bpf_disabled absent"
                 : "kernel.unprivileged_bpf_disabled=" + k.bpf.unprivileged_disabled),
        watch_row(k), sandboxd_row(k), bpf_row(k, "socket_filter"), bpf_row(k, "tracepoint"), bpf_row(k, "lsm"),
        bpf_row(k, "fentry"), renamed(k.fanotify_perm, "fanotify perm")}});
  return layers;
}

const char* status_of(const Feature& f) {
  if (f.informational) return "info";
  return f.available ? "ok" : "missing";
}

std::string run_consequence(probe::TierVerdict tier) {
  switch (tier) {
    case probe::TierVerdict::kFull:
      return "`moat run` uses every row marked ok; each MISSING row falls back as its fix says.";
    case probe::TierVerdict::kLandlock:
      return "`moat run` refuses with exit code 125 unless given --allow-tier landlock (or a "
             "profile that allows it); then it runs with Landlock, seccomp, dropped capabilities "
             "and the network gate via seccomp user notification, without namespaces. Network "
             "allowlist mode there needs `landlock tcp` (ABI 4): the gate brokers every TCP "
             "connect on the host's network, DNS goes over TCP to moat's stub, UDP is refused, "
             "and with root the cgroup BPF layer enforces the same addresses.";
    case probe::TierVerdict::kNone:
      return "`moat run` refuses with exit code 125: no tier can be enforced on this kernel.";
  }
  return "";
}

void print_table(const KernelFeatures& k, const probe::TierAssessment& tier,
                 const std::vector<Layer>& layers, double probe_ms) {
  std::printf("moat doctor: Linux %s, uid %u%s, probed in %.1f ms\n", k.kernel_release.c_str(),
              static_cast<unsigned>(k.uid), k.is_root ? " (root)" : "", probe_ms);
  for (const Layer& layer : layers) {
    std::printf("\n%s\n", layer.name.c_str());
    for (const Feature& f : layer.rows) {
      const char* tag = f.informational ? "[info]" : f.available ? "[ok]" : "[MISSING]";
      std::string line = "  " + std::string(tag);
      line.resize(std::max<std::size_t>(line.size() + 1, 12), ' ');
      line += f.name;
      line.resize(std::max<std::size_t>(line.size() + 1, 34), ' ');
      line += f.detail;
      if (!f.available && !f.fix.empty()) line += " — fix: " + f.fix;
      std::printf("%s\n", line.c_str());
    }
  }
  std::printf("\n");
  std::size_t missing = 0;
  for (const Layer& layer : layers) {
    for (const Feature& f : layer.rows) missing += !f.informational && !f.available ? 1 : 0;
  }
  if (tier.tier == probe::TierVerdict::kFull && missing == 0) {
    std::printf("Tier: full (every layer available)\n");
  } else if (tier.tier == probe::TierVerdict::kFull) {
    std::printf(
        "Tier: full (every required layer available; %zu optional feature%s MISSING above)\n",
        missing, missing == 1 ? "" : "s");
  } else {
    std::printf(
        "Tier: %s (%s)\n", probe::tier_name(tier.tier),
        tier.tier == probe::TierVerdict::kLandlock ? "no namespaces" : "too little to sandbox");
    for (const std::string& reason : tier.reasons) std::printf("  - %s\n", reason.c_str());
  }
  std::printf("%s\n", run_consequence(tier.tier).c_str());
}

nlohmann::json to_json(const KernelFeatures& k, const probe::TierAssessment& tier,
                       const std::vector<Layer>& layers, double probe_ms) {
  using nlohmann::json;
  json out;
  out["kernel_release"] = k.kernel_release;
  out["uid"] = k.uid;
  out["is_root"] = k.is_root;
  out["probe_ms"] = probe_ms;
  out["landlock"] = {{"abi", k.landlock_abi},
                     {"tcp", k.landlock_tcp},
                     {"scopes", k.landlock_scopes},
                     {"log_flags", k.landlock_log_flags}};
  const auto& cg = k.cgroups;
  out["cgroups"] = {{"v2_mounted", cg.v2_mounted},         {"v2_path", cg.v2_path},
                    {"v2_controllers", cg.v2_controllers}, {"v1_memory", cg.v1_memory},
                    {"v1_memory_path", cg.v1_memory_path}, {"v1_pids", cg.v1_pids},
                    {"v1_pids_path", cg.v1_pids_path},     {"can_create", cg.can_create},
                    {"create_detail", cg.create_detail},   {"v2_kill", cg.v2_kill}};
  out["bpf"] = {{"syscall_allowed", k.bpf.syscall_allowed},
                {"unprivileged_disabled", k.bpf.unprivileged_disabled}};
  json jl = json::array();
  for (const Layer& layer : layers) {
    json rows = json::array();
    for (const Feature& f : layer.rows) {
      rows.push_back({{"name", f.name},
                      {"status", status_of(f)},
                      {"available", f.available},
                      {"detail", f.detail},
                      {"fix", f.fix}});
    }
    jl.push_back({{"layer", layer.name}, {"features", rows}});
  }
  out["layers"] = jl;
  out["tier"] = {{"verdict", probe::tier_name(tier.tier)},
                 {"reasons", tier.reasons},
                 {"run", run_consequence(tier.tier)}};
  return out;
}

}  // namespace

int doctor_main(bool json) {
  const auto start = std::chrono::steady_clock::now();
  const KernelFeatures k = probe::probe_kernel();
  const double probe_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const probe::TierAssessment tier = probe::assess_tier(k);
  const std::vector<Layer> layers = build_layers(k);
  if (json) {
    std::printf("%s\n", to_json(k, tier, layers, probe_ms).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    print_table(k, tier, layers, probe_ms);
  }
  std::fflush(stdout);
  return tier.tier == probe::TierVerdict::kFull ? 0 : 1;
}

}  // namespace moat::cli
