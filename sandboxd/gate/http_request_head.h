// HTTP/1.x request-head parsing for the network gate: attacker bytes in, the Host name out.
// Strict by design: anything an origin server or proxy could read differently is kMalformed.
//
// How the gate uses this (policy lives in the gate, not here):
//  - Feed the whole buffer the client has sent so far after every read; kNeedMore → read more;
//    kDone → the connection is bound only if `host` equals the name the address was resolved for;
//    anything else → refuse. kHttp2 is the HTTP/2 prior-knowledge preface ("PRI * HTTP/2.0"):
//    refuse it by name (its :authority lives in HPACK-compressed frames we do not decode).
//  - kNotHttp only means "does not start like an HTTP/1.x request line": the connection is not
//    bound by Host, and must be refused unless another parser (TLS) binds it or a rule allows
//    opaque traffic. Bytes that start like a request (a token and a space) are judged as HTTP,
//    never passed off as "not HTTP", so a sloppy server cannot be reached around the check.
//  - The binding covers the first request only. On a keep-alive connection the next request may
//    name another Host; a gate that relays further requests must parse each head (use
//    `head_length`, `content_length` and `chunked` to find it) or close after the first response.
//    `upgrade` is set when the client asks to switch protocols (h2c, WebSocket): after the switch
//    there are no more heads to check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "policy/result.h"
#include "sandboxd/gate/tls_client_hello.h"  // ParseState, check_dns_host_name

namespace moat::gate {

// A stable reason for kNotHttp / kMalformed, for tests and events (never branch on `error` text).
enum class HttpDefect {
  kNone,
  kNotRequestLine,  // no method token followed by a space (kNotHttp)
  kTooLarge,        // no end of head within kMaxHttpHeadBytes
  kBadLineEnding,   // bare LF, bare CR, or a leading empty line
  kBadRequestLine,  // not exactly "method SP target SP version", or a bad target
  kBadVersion,      // not HTTP/1.0 or HTTP/1.1
  kConnect,         // CONNECT: no tunnels through the gate
  kObsFold,         // a header line starting with SP/HTAB (RFC 9112 §5.2)
  kBadHeaderName,   // empty, non-token (e.g. a space before ':'), or no ':'
  kBadHeaderValue,  // NUL or another control byte in a value
  kDuplicateHost,   // more than one Host header: request smuggling
  kMissingHost,     // HTTP/1.1 without Host, or with an empty one
  kBadHost,         // Host (or the target's authority) is not host[:port]
  kHostMismatch,    // absolute-form target and Host name different hosts or ports
  kBadFraming,      // Content-Length / Transfer-Encoding a server could read differently
};

struct HttpRequestInfo {
  std::string method;
  std::string target;            // as sent: origin-form "/x", absolute-form "http://h/x", or "*"
  std::string host;              // lowercased, port stripped; "[v6]" keeps its brackets
  std::optional<uint16_t> port;  // from Host (or the absolute-form target when it has no Host)
  int minor_version = 1;         // 0 or 1
  size_t head_length = 0;        // bytes up to and including the CRLFCRLF
  std::optional<uint64_t> content_length;
  bool chunked = false;  // Transfer-Encoding ends in chunked
  bool upgrade = false;  // an Upgrade header is present
};

struct HttpHeadResult {
  ParseState state = ParseState::kNeedMore;  // kNeedMore, kDone, kNotHttp, kHttp2 or kMalformed
  HttpRequestInfo info;                      // meaningful only when state == kDone
  std::string error;                         // for people; empty for kNeedMore and kDone
  HttpDefect defect = HttpDefect::kNone;     // stable form of `error`
};

// The request head, CRLFCRLF included, must fit in this; larger is kMalformed.
inline constexpr size_t kMaxHttpHeadBytes = 16 * 1024;

// Parses an HTTP/1.x request head (RFC 9112) from the first bytes the client sent. Rules beyond
// the grammar, each closing a way to make the gate and the server see different hosts:
//  - exactly one Host header; HTTP/1.1 requires it, non-empty; HTTP/1.0 may omit it (host is then
//    empty, or the absolute-form target's host);
//  - an absolute-form target (http:// or https://) must name the same host and port as Host (the
//    server uses the target and ignores Host, RFC 9112 §3.2.2); no userinfo;
//  - CONNECT is refused; so are obs-fold, bare LF or CR, leading empty lines, NUL and other
//    control bytes, header names with spaces or other non-token bytes, and HTTP versions other
//    than 1.0 and 1.1;
//  - Host is a DNS name (the SNI rules), a dotted-quad IPv4 address, or a bracketed IPv6
//    address, with an optional port 1..65535;
//  - framing: one Content-Length of digits only, Transfer-Encoding only in HTTP/1.1 and ending in
//    chunked, never both (the classic smuggling pairs).
// Never reads outside `bytes_so_far`; cost is linear in min(size, kMaxHttpHeadBytes).
HttpHeadResult parse_http_request_head(std::span<const uint8_t> bytes_so_far);

// The failure as a moat::Error (code kInvalidArgument), for the gate's refusal event and logs.
// Only meaningful when result.state is kNotHttp, kHttp2 or kMalformed.
Error to_error(const HttpHeadResult& result);

}  // namespace moat::gate
