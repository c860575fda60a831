// The kernel side of the gate's name binding: loads bpf/name_binding.bpf.c (an sk_msg verdict
// program on a SOCKHASH) and implements gate::KernelBinding over its maps and ring.
#pragma once

#include <memory>

#include "policy/result.h"
#include "sandboxd/gate/kernel_binding.h"

namespace moat::bpfnet {

// The check itself, as the gate sees it plus what its owner needs to keep count (sandboxd).
class NameCheck : public gate::KernelBinding {
 public:
  // False once the connection left the check: passed (taken out), or closed by its holder.
  virtual bool still_bound(std::uint64_t connection) const = 0;
};

// Loads the program and its maps, attaches it to the map. Needs CAP_BPF and CAP_NET_ADMIN.
Result<std::unique_ptr<NameCheck>> load_name_binding();

// What a verdict's reason code means, in decide_binding's words (for tests and the log).
gate::BindingDecision describe_kernel_verdict(bool refused, unsigned reason, unsigned protocol,
                                              std::string_view seen, std::string_view expected);

}  // namespace moat::bpfnet
