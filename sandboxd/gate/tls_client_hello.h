// TLS ClientHello parsing for the network gate: attacker bytes in, the SNI host name out.
// Also owns ParseState (shared with http_request_head.h) and the DNS host-name check both use.
//
// How the gate uses this (policy lives in the gate, not here):
//  - Feed the whole buffer of bytes the sandboxed client has sent so far, after every read. On
//    kNeedMore wait for at least `bytes_needed_hint` more bytes; on anything but kDone refuse.
//  - kNotTls only means "this is not TLS": the connection is then not bound to a name by SNI, and
//    the gate must refuse it unless another parser (HTTP) binds it or a rule allows opaque traffic.
//  - On kDone the binding holds only if `sni` is present and equals the name the destination
//    address was resolved for. An absent SNI is a mismatch: without it a shared (CDN) address
//    serves whichever tenant the encrypted HTTP Host names, which is exactly domain fronting.
//  - ECH (`has_ech`): with Encrypted Client Hello the visible SNI is the outer, *public* name
//    (e.g. the CDN's cloudflare-ech.com) and the real destination is in the encrypted inner
//    ClientHello the gate cannot read. So an ECH hello must be treated as a mismatch, even when
//    the outer SNI matches, unless the rule for that name allows ECH explicitly. The legacy ESNI
//    draft extension (0xffce) sets `has_ech` too: it hides the name the same way.
//  - Only the first ClientHello is inspected. After a HelloRetryRequest the client sends a second
//    plaintext ClientHello; RFC 8446 §4.1.2 requires it to keep the same server_name, but a gate
//    that wants certainty must parse that one as well.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"

namespace moat::gate {

// Where a parse of a connection's first bytes stands. Each parser returns only the states it
// documents; every state except kNeedMore is final: more bytes never change it.
enum class ParseState {
  kNeedMore,   // a valid prefix so far; read more (both parsers)
  kDone,       // complete and valid; the info is filled in (both parsers)
  kNotTls,     // the first bytes are not a TLS handshake record (TLS parser only)
  kNotHttp,    // the first bytes do not start an HTTP/1.x request line (HTTP parser only)
  kHttp2,      // HTTP/2 prior-knowledge preface "PRI * HTTP/2.0" (HTTP parser only)
  kMalformed,  // claims to be TLS / HTTP but breaks the protocol or our limits: refuse
};

// "need-more", "done", "not-tls", "not-http", "http2-preface", "malformed".
const char* parse_state_name(ParseState state);

// A stable reason for kNotTls / kMalformed, for tests and events (never branch on `error` text).
enum class HelloDefect {
  kNone,
  kNotHandshakeRecord,  // first byte is not 22 (kNotTls)
  kSslv2Hello,          // SSLv2-compatible ClientHello: cannot carry SNI (kMalformed)
  kRecordVersion,       // record version major is not 3
  kRecordLength,        // empty or over-long (> 2^14) record
  kInterleavedRecord,   // a non-handshake record before the ClientHello was complete
  kTooLarge,            // the ClientHello exceeds kMaxClientHelloBytes
  kNotClientHello,      // the first handshake message is not a ClientHello
  kBadBody,             // a length or field of the ClientHello is inconsistent
  kDuplicateExtension,  // the same extension type twice (RFC 8446 §4.2)
  kBadServerName,       // server_name extension: empty, several entries, non host_name type
  kBadHostName,         // the host_name is not a valid DNS name
  kIpLiteral,           // the host_name is an IP address (RFC 6066 §3 forbids)
  kBadAlpn,             // malformed ALPN extension (RFC 7301)
};

struct ClientHelloInfo {
  std::optional<std::string> sni;  // lowercased host_name; absent if no server_name extension
  bool has_ech = false;            // encrypted_client_hello (0xfe0d) or legacy ESNI (0xffce)
  uint16_t legacy_version = 0;     // ClientHello.legacy_version (0x0303 for TLS 1.2 and 1.3)
  std::vector<std::string> alpn;   // protocol names in the client's order (may be binary)
};

struct ClientHelloResult {
  ParseState state = ParseState::kNeedMore;  // kNeedMore, kDone, kNotTls or kMalformed
  ClientHelloInfo info;                      // meaningful only when state == kDone
  std::string error;                         // for people; empty unless kNotTls / kMalformed
  size_t bytes_needed_hint = 0;              // kNeedMore: at least this many more bytes
  HelloDefect defect = HelloDefect::kNone;   // stable form of `error`
};

// The whole ClientHello handshake message (header included) and the wire bytes examined to find
// it are both capped here; larger is kMalformed. Real hellos are < 2 KiB (post-quantum key shares
// push them to ~1.8 KiB), so this leaves ample room while bounding the gate's buffer.
inline constexpr size_t kMaxClientHelloBytes = 64 * 1024;

// Parses the first bytes the client sent. The handshake message is reassembled across TLS records
// of content type 22 (a ClientHello may span several); bytes after it are ignored.
//
// An SSLv2-compatible ClientHello (first byte with the high bit set, message type 1) is
// kMalformed, not kNotTls: it is a TLS hello that OpenSSL still accepts for TLS <= 1.2, yet it has
// no extensions and so no SNI. Calling it "not TLS" would invite the gate to relay it as opaque
// traffic, a way round the name binding.
//
// Never reads outside `bytes_so_far`; cost is linear in min(size, kMaxClientHelloBytes).
ClientHelloResult parse_client_hello(std::span<const uint8_t> bytes_so_far);

// The SNI rules (RFC 6066 §3 with RFC 1123 LDH labels), shared with the HTTP Host check: 1..253
// bytes, labels 1..63 of [A-Za-z0-9-] not starting or ending with '-', no empty label (so no
// leading or trailing dot), and not an IPv4 literal in any inet_aton(3) spelling (the last label
// may not be all digits or 0x-hex, which also rejects "127.1" and "0x7f000001"). Upper case is
// accepted; callers lowercase. Returns the defect (kNone when valid) and sets *why for people.
HelloDefect check_dns_host_name(std::string_view name, std::string* why);

// The failure as a moat::Error (code kInvalidArgument), for the gate's refusal event and logs.
// Only meaningful when result.state is kNotTls or kMalformed.
Error to_error(const ClientHelloResult& result);

}  // namespace moat::gate
