// The kernel side of the gate's name binding: loads bpf/name_binding.bpf.c (an sk_msg verdict
// program on a SOCKHASH) and implements gate::KernelBinding over its maps and ring.
#pragma once

#include <memory>

#include "policy/result.h"
#include "sandboxd/gate/kernel_binding.h"

namespace moat::bpfnet {

// Loads the program and its maps, attaches it to the map. Needs CAP_BPF and CAP_NET_ADMIN.
Result<std::unique_ptr<gate::KernelBinding>> load_name_binding();

// What a verdict's reason code means, in decide_binding's words (for tests and the log).
gate::BindingDecision describe_kernel_verdict(bool refused, unsigned reason, unsigned protocol,
                                              std::string_view seen, std::string_view expected);

}  // namespace moat::bpfnet
