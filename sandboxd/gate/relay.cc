// The decision reads at most the first request head or ClientHello; it is pure, so the relay can
// ask again after every read.
#include "sandboxd/gate/relay.h"

#include <string>

#include "sandboxd/gate/http_request_head.h"
#include "sandboxd/gate/tls_client_hello.h"

namespace moat::gate {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

BindingDecision decide_binding(std::span<const std::uint8_t> bytes, std::string_view expected) {
  BindingDecision d;
  if (bytes.empty()) return d;
  const std::string want = lower(expected);
  if (bytes[0] == 0x16) {
    d.protocol = "tls";
    ClientHelloResult hello = parse_client_hello(bytes);
    if (hello.state == ParseState::kNeedMore) return d;
    if (hello.state != ParseState::kDone) {
      d.binding = Binding::kRefused;
      d.reason = "TLS ClientHello refused: " + hello.error;
      return d;
    }
    if (hello.info.has_ech) {
      d.binding = Binding::kRefused;
      d.reason = "encrypted ClientHello (ECH) hides the server name from the gate";
      return d;
    }
    if (!hello.info.sni) {
      d.binding = Binding::kRefused;
      d.reason = "TLS without SNI to an address allowed for " + want;
      return d;
    }
    d.seen = *hello.info.sni;
    d.binding = d.seen == want ? Binding::kAllowed : Binding::kRefused;
    d.reason = d.binding == Binding::kAllowed
                   ? "SNI " + d.seen + " matches"
                   : "SNI " + d.seen + " does not match " + want + " (domain fronting)";
    return d;
  }
  // An SSLv2-compatible ClientHello (high bit, message type 1) is TLS without a name: refused
  // like one, never relayed as "other" bytes.
  if ((bytes[0] & 0x80) != 0) {
    ClientHelloResult hello = parse_client_hello(bytes);
    if (hello.state == ParseState::kNeedMore) return d;
    if (hello.state == ParseState::kMalformed) {
      d.protocol = "tls";
      d.binding = Binding::kRefused;
      d.reason = "TLS ClientHello refused: " + hello.error;
      return d;
    }
  }
  HttpHeadResult head = parse_http_request_head(bytes);
  if (head.state == ParseState::kNotHttp) {
    d.protocol = "other";
    d.binding = Binding::kAllowed;
    d.reason = "not TLS or HTTP: bound to the address only";
    return d;
  }
  d.protocol = "http";
  if (head.state == ParseState::kNeedMore) return d;
  if (head.state != ParseState::kDone) {
    d.binding = Binding::kRefused;
    d.reason = head.state == ParseState::kHttp2 ? "HTTP/2 without TLS carries no checkable host"
                                                : "HTTP request refused: " + head.error;
    return d;
  }
  d.seen = head.info.host;
  d.binding = d.seen == want ? Binding::kAllowed : Binding::kRefused;
  d.reason = d.binding == Binding::kAllowed
                 ? "Host " + d.seen + " matches"
                 : "Host " + (d.seen.empty() ? std::string("(none)") : d.seen) +
                       " does not match " + want + " (domain fronting)";
  return d;
}

}  // namespace moat::gate
