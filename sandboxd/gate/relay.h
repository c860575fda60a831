// Name binding for connections allowed by a host rule: the gate relays them and reads the
// client's first bytes; a TLS SNI or HTTP Host that names another host is refused (domain
// fronting on shared addresses). After the check, bytes move with splice(2), never copied.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
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

// Relays between `client` (the socket the sandbox holds the other end of) and `upstream` until
// both directions end; server-to-client bytes flow from the start (server-first protocols work),
// client-to-server bytes only after decide_binding allowed them. Calls `on_decision` once.
// Does not close the descriptors. Blocks: run it on a thread of its own.
void relay_bound(int client, int upstream, std::string expected_name,
                 const std::function<void(const BindingDecision&)>& on_decision,
                 const std::atomic<bool>& stopping);

// A connected TCP pair on the host's loopback: the sandbox gets `outer`, the gate keeps `inner`.
// Returns false (errno set) on failure. Safe to call from several threads at once.
bool make_loopback_pair(int* outer, int* inner);

}  // namespace moat::gate
