// The tier verdict (DESIGN.md §2): which protections a run can count on, from probed features.
// Pure: reads a KernelFeatures, touches nothing.
#include "sandboxd/probe.h"

namespace moat::probe {
namespace {

std::string missing_reason(const Feature& f) {
  std::string out = f.name + " is missing: " + f.detail;
  if (!f.fix.empty()) out += " — fix: " + f.fix;
  return out;
}

}  // namespace

const char* tier_name(TierVerdict tier) {
  switch (tier) {
    case TierVerdict::kFull:
      return "full";
    case TierVerdict::kLandlock:
      return "landlock";
    case TierVerdict::kNone:
      return "none";
  }
  return "none";
}

TierAssessment assess_tier(const KernelFeatures& k) {
  TierAssessment out;
  const Feature* namespaces[] = {&k.user_ns, &k.mount_ns, &k.pid_ns,
                                 &k.net_ns,  &k.ipc_ns,   &k.uts_ns};
  bool have_namespaces = true;
  for (const Feature* ns : namespaces) {
    if (!ns->available) {
      have_namespaces = false;
      out.reasons.push_back(missing_reason(*ns));
    }
  }
  const bool have_landlock = k.landlock_abi >= 1;
  if (!have_landlock) out.reasons.push_back(missing_reason(k.landlock));
  const bool have_seccomp = k.seccomp.available && k.no_new_privs.available;
  if (!k.no_new_privs.available) out.reasons.push_back(missing_reason(k.no_new_privs));
  if (!k.seccomp.available) out.reasons.push_back(missing_reason(k.seccomp));

  if (have_namespaces && have_landlock && have_seccomp) {
    out.tier = TierVerdict::kFull;
  } else if (have_landlock && have_seccomp) {
    out.tier = TierVerdict::kLandlock;
  } else {
    out.tier = TierVerdict::kNone;
  }
  return out;
}

}  // namespace moat::probe
