// Name binding checked in the kernel (as root), so that a connection allowed for a name needs no
// relay: the gate hands the sandbox its own upstream socket, and a program on that socket reads
// the client's first bytes before they leave (bpf/name_binding.bpf.c). The gate sees only this
// interface; sandboxd/bpf_net implements it with libbpf.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "policy/result.h"
#include "sandboxd/gate/relay.h"  // BindingDecision

namespace moat::gate {

// Which name-bound connections the kernel check takes: TLS is what it reads, and 443 is where
// TLS is; clear-text HTTP (port 80, registries on other ports) needs every request's Host
// checked, which only the relay does.
inline constexpr std::uint16_t kKernelBindingPort = 443;

struct KernelVerdict {
  std::uint64_t connection = 0;
  BindingDecision decision;  // kAllowed or kRefused, with the protocol, the SNI seen and why
  // The same as the program's codes (bpf/name_binding.h), for sandboxd to pass on.
  unsigned reason = 0;
  unsigned protocol = 0;
};

class KernelBinding {
 public:
  virtual ~KernelBinding() = default;
  // Puts SOCK (connected, not yet handed over) under the check for NAME (lowercase). The socket
  // stays the sandbox's alone: nothing here keeps it open.
  virtual Status bind(int sock, std::uint64_t connection, std::string_view name) = 0;
  // Readable when verdicts are waiting; -1 when there is nothing to poll (the check is
  // sandboxd's: take_verdicts() asks it, and the gate calls it every 100 ms while it waits).
  virtual int poll_fd() const = 0;
  // The verdicts reported since the last call (through sandboxd: the refusals only). A
  // connection that passed is taken out of the check (its later sends cost nothing); a refused
  // one stays refused.
  virtual std::vector<KernelVerdict> take_verdicts() = 0;
};

}  // namespace moat::gate
