// Name binding for connections allowed by a host rule: the gate relays them and reads the
// client's first bytes; a TLS SNI or HTTP Host that names another host is refused (domain
// fronting on shared addresses). The relaying itself is RelayEngine's (relay_engine.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace moat::gate {

enum class Binding {
  kNeedMore,  // not enough bytes to decide
  kAllowed,   // the name matches, or the protocol carries no name (bound to the address only)
  kRefused,
};

struct BindingDecision {
  Binding binding = Binding::kNeedMore;
  std::string protocol;  // "tls", "http", "other"
  std::string seen;      // the SNI or Host the client sent
  std::string reason;
};

// Pure: decides from the bytes the client sent so far. TLS (first byte 0x16) must carry an SNI
// equal to `expected_name` and no ECH; HTTP/1.x must send Host: expected_name (port ignored);
// HTTP/2 prior knowledge and malformed heads are refused; anything else (SSH, database
// protocols) is allowed, bound to the address alone.
BindingDecision decide_binding(std::span<const std::uint8_t> first_bytes,
                               std::string_view expected_name);

}  // namespace moat::gate
