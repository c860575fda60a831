// Probes which BPF program types this kernel lets us load, by loading two-instruction programs
// with the raw bpf(2) syscall (no libbpf: its own feature probe is wrong on 6.18, see KERNEL.md).
#include <linux/bpf.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>

#include "sandboxd/probe_internal.h"

namespace moat::probe::detail {
namespace {

constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

struct ProgramSpec {
  const char* name;  // the Feature name, also used by find_bpf_program_type()
  bpf_prog_type type;
  std::uint32_t expected_attach_type;  // 0 when the type takes none
  int return_value;      // r0: what the program returns (1 = allow for cgroup programs)
  const char* btf_func;  // attach target for trampoline programs, nullptr otherwise
  const char* used_for;  // what moat uses it for
};

constexpr ProgramSpec kPrograms[] = {
    {"socket_filter", BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, nullptr, "bpf(2) itself"},
    {"tracepoint", BPF_PROG_TYPE_TRACEPOINT, 0, 0, nullptr, "exec/fork/exit and syscall events"},
    {"cgroup_sock_addr", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, 1, nullptr,
     "connect4/6 and sendmsg4/6 allowlist per sandbox cgroup"},
    {"cgroup_sock", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, 1, nullptr,
     "sock_create: raw/packet sockets per sandbox cgroup"},
    {"cgroup_skb", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, 1, nullptr,
     "egress packet accounting per sandbox cgroup"},
    {"lsm", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, 0, "bpf_lsm_file_open",
     "BPF-LSM file/exec/connect denial per cgroup"},
    {"fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, 0, "vfs_write",
     "cheap kernel function tracing (file writes)"},
};

struct LoadOutcome {
  int err = 0;      // 0: loaded
  std::string log;  // first line of the verifier log, when it said anything
};

LoadOutcome load(const ProgramSpec& spec, std::uint32_t btf_id, bool with_log) {
  // r0 = imm; exit
  bpf_insn insns[2];
  std::memset(insns, 0, sizeof insns);
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[0].dst_reg = BPF_REG_0;
  insns[0].imm = spec.return_value;
  insns[1].code = BPF_JMP | BPF_EXIT;

  static const char kLicense[] = "GPL";
  char log[4096];
  log[0] = '\0';
  bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = spec.type;
  attr.insns = reinterpret_cast<std::uint64_t>(insns);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<std::uint64_t>(kLicense);
  attr.expected_attach_type = spec.expected_attach_type;
  attr.attach_btf_id = btf_id;
  if (with_log) {
    attr.log_level = 1;
    attr.log_buf = reinterpret_cast<std::uint64_t>(log);
    attr.log_size = sizeof log;
  }
  std::strncpy(attr.prog_name, "moat_probe", sizeof attr.prog_name - 1);

  LoadOutcome out;
  long fd = ::syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd >= 0) {
    ::close(static_cast<int>(fd));
    return out;
  }
  out.err = errno;
  log[sizeof log - 1] = '\0';
  std::string text(log);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  // The last line is where the verifier gave up; that is the one that explains.
  std::size_t nl = text.rfind('\n');
  out.log = nl == std::string::npos ? text : text.substr(nl + 1);
  return out;
}

// "bpf" in the active LSM list, when securityfs lets us read it.
std::optional<bool> bpf_lsm_active() {
  auto lsms = read_sysctl("/sys/kernel/security/lsm");
  if (!lsms) return std::nullopt;
  return ("," + *lsms + ",").find(",bpf,") != std::string::npos;
}

}  // namespace

KernelFeatures::Bpf probe_bpf(bool is_root) {
  KernelFeatures::Bpf bpf;
  bpf.unprivileged_disabled =
      read_sysctl("/proc/sys/kernel/unprivileged_bpf_disabled").value_or("");
  const std::string unpriv_note =
      bpf.unprivileged_disabled.empty()
          ? std::string()
          : "kernel.unprivileged_bpf_disabled=" + bpf.unprivileged_disabled;

  // Trampoline programs need BTF ids. Skip the ~5 MB read when bpf(2) refuses us anyway.
  LoadOutcome first = load(kPrograms[0], 0, false);
  const bool refused_outright = first.err == EPERM || first.err == ENOSYS;
  std::vector<std::string> btf_names;
  for (const ProgramSpec& spec : kPrograms) {
    if (spec.btf_func != nullptr) btf_names.push_back(spec.btf_func);
  }
  std::vector<std::uint32_t> btf_ids(btf_names.size(), 0);
  std::string btf_problem;
  if (!refused_outright) {
    auto ids = btf_find_funcs_in_file(kVmlinuxBtf, btf_names);
    if (ids.ok()) {
      btf_ids = std::move(*ids);
    } else {
      btf_problem = ids.error().to_string();
    }
  }

  std::size_t btf_index = 0;
  for (const ProgramSpec& spec : kPrograms) {
    Feature f{spec.name, false, "", "", false};
    std::uint32_t btf_id = 0;
    std::string what = std::string("BPF_PROG_LOAD(") + spec.name;
    if (spec.btf_func != nullptr) {
      btf_id = btf_ids[btf_index++];
      what += std::string(", attach ") + spec.btf_func;
      if (btf_id != 0) what += " btf_id " + std::to_string(btf_id);
    }
    what += ")";

    if (spec.btf_func != nullptr && btf_id == 0 && !refused_outright) {
      f.detail = what + " not tried: " +
                 (btf_problem.empty() ? std::string(spec.btf_func) + " not in " + kVmlinuxBtf
                                      : btf_problem);
      f.fix = "needs CONFIG_DEBUG_INFO_BTF=y";
      bpf.program_types.push_back(std::move(f));
      continue;
    }

    LoadOutcome outcome = &spec == &kPrograms[0] ? first : load(spec, btf_id, false);
    if (outcome.err != 0 && !refused_outright && outcome.err != ENOSYS) {
      outcome = load(spec, btf_id, true);  // again, to hear what the verifier says
    }
    if (outcome.err == 0) {
      f.available = true;
      f.detail = std::string(spec.used_for) + ": " + what + " ok";
      bpf.syscall_allowed = true;
      bpf.program_types.push_back(std::move(f));
      continue;
    }

    f.detail = std::string(spec.used_for) + ": " + what + ": " + errno_text(outcome.err);
    f.detail += outcome.log.empty() ? (is_root ? ", verifier log empty" : "")
                                    : ", verifier: " + outcome.log;
    const bool trampoline = spec.btf_func != nullptr;
    if (outcome.err == ENOSYS) {
      f.fix = "rebuild the kernel with CONFIG_BPF_SYSCALL=y";
    } else if (outcome.err == EPERM && !is_root) {
      if (!unpriv_note.empty()) f.detail += " [" + unpriv_note + "]";
      f.fix = "run moat as root: BPF is root-only here";
    } else if (trampoline) {
      std::optional<bool> lsm_on = bpf_lsm_active();
      if (spec.type == BPF_PROG_TYPE_LSM && lsm_on.has_value() && !*lsm_on) {
        f.fix = "add `bpf` to the lsm= boot parameter (CONFIG_BPF_LSM=y); ";
      }
      f.fix +=
          "trampoline programs need CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS and a kernel that "
          "lets them attach; moat falls back to Landlock, seccomp, cgroup sock_addr programs "
          "and tracepoints";
    } else if (outcome.err == EPERM) {
      f.fix = "refused even to root: kernel lockdown or the caller's seccomp filter";
    } else {
      f.fix = "this program type is not supported by the kernel build";
    }
    bpf.program_types.push_back(std::move(f));
  }
  return bpf;
}

}  // namespace moat::probe::detail
