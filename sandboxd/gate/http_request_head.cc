// HTTP/1.x request-head parsing: request line, header lines, Host, target authority, framing.
// Lines are judged in order as they complete, so a verdict never depends on how bytes were split.
#include "sandboxd/gate/http_request_head.h"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <utility>

namespace moat::gate {
namespace {

constexpr size_t kMaxMethodBytes = 32;
constexpr std::string_view kHttp2PrefaceLine = "PRI * HTTP/2.0";

HttpHeadResult fail(ParseState state, HttpDefect defect, std::string error) {
  HttpHeadResult r;
  r.state = state;
  r.defect = defect;
  r.error = std::move(error);
  return r;
}

HttpHeadResult need_more() { return HttpHeadResult{}; }

HttpHeadResult done(HttpRequestInfo info) {
  HttpHeadResult r;
  r.state = ParseState::kDone;
  r.info = std::move(info);
  return r;
}

HttpHeadResult malformed(HttpDefect defect, std::string error) {
  return fail(ParseState::kMalformed, defect, std::move(error));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  if (is_digit(c) || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Decimal digits only (the caller bounds the count, so it cannot overflow).
uint64_t decimal(std::string_view digits) {
  uint64_t value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Four decimal parts 0..255 without leading zeros: inet_aton(3) would read "010" as octal 8, so
// only the one spelling everybody agrees on is accepted.
bool is_dotted_quad(std::string_view s) {
  int parts = 0;
  while (true) {
    const size_t dot = s.find('.');
    const std::string_view part = s.substr(0, dot);
    if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), is_digit)) {
      return false;
    }
    if (part.size() > 1 && part[0] == '0') return false;
    if (decimal(part) > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return parts == 4;
}

struct Authority {
  std::string host;
  std::optional<uint16_t> port;
};

// host [ ":" port ] as in Host and in an absolute-form target (RFC 9110 §7.2, RFC 3986 §3.2.2).
// Returns false and sets *why when it is not one of: DNS name, dotted quad, bracketed IPv6.
bool parse_authority(std::string_view s, Authority& out, std::string* why) {
  if (s.empty()) {
    *why = "is empty";
    return false;
  }
  std::string_view host;
  std::string_view rest;
  if (s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) {
      *why = "has '[' without ']'";
      return false;
    }
    const std::string_view inner = s.substr(1, close - 1);
    // No zone ids ('%'), no IPvFuture: only the characters of an IPv6 address.
    if (inner.empty() || !std::all_of(inner.begin(), inner.end(),
                                      [](char c) { return is_hex(c) || c == ':' || c == '.'; })) {
      *why = "is not a bracketed IPv6 address";
      return false;
    }
    host = s.substr(0, close + 1);
    rest = s.substr(close + 1);
  } else {
    const size_t colon = s.find(':');
    host = s.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
    if (host.find('@') != std::string_view::npos) {
      *why = "has userinfo ('@'), which hides the real host";
      return false;
    }
    if (!is_dotted_quad(host)) {
      std::string name_why;
      if (check_dns_host_name(host, &name_why) != HelloDefect::kNone) {
        *why = "is " + name_why;
        return false;
      }
    }
  }
  out.host = lower(host);
  out.port.reset();
  if (!rest.empty()) {
    if (rest[0] != ':') {
      *why = "has bytes after the IPv6 address that are not a port";
      return false;
    }
    const std::string_view digits = rest.substr(1);
    if (digits.empty() || digits.size() > 5 ||
        !std::all_of(digits.begin(), digits.end(), is_digit)) {
      *why = "has a port that is not 1..65535";
      return false;
    }
    const uint64_t port = decimal(digits);
    if (port < 1 || port > 65535) {
      *why = "has a port that is not 1..65535";
      return false;
    }
    out.port = static_cast<uint16_t>(port);
  }
  return true;
}

// What the request line says, kept until the head is complete.
struct RequestLine {
  bool absolute = false;  // absolute-form target
  uint16_t default_port = 80;
  Authority authority;  // of an absolute-form target
};

HttpHeadResult parse_request_line(std::string_view line, HttpRequestInfo& info, RequestLine& rl) {
  if (line == kHttp2PrefaceLine) {
    return fail(ParseState::kHttp2, HttpDefect::kBadVersion,
                "HTTP/2 prior-knowledge preface: the gate only relays HTTP/1.x in clear text");
  }
  const size_t sp1 = line.find(' ');  // present: the method check found it
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    return malformed(HttpDefect::kBadRequestLine,
                     "request line has no HTTP version (HTTP/0.9 is not relayed)");
  }
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (target.empty() || version.find(' ') != std::string_view::npos) {
    return malformed(HttpDefect::kBadRequestLine,
                     "request line is not 'method SP target SP version' with single spaces");
  }
  if (version == "HTTP/1.1") {
    info.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    info.minor_version = 0;
  } else {
    return malformed(HttpDefect::kBadVersion, "HTTP version is not HTTP/1.0 or HTTP/1.1");
  }
  for (char c : target) {
    if (c < 0x21 || c > 0x7e) {
      return malformed(HttpDefect::kBadRequestLine,
                       "request target has a byte that is not "
                       "visible ASCII");
    }
  }
  info.target = std::string(target);
  if (target[0] == '/') return need_more();
  if (target == "*") {
    if (info.method != "OPTIONS") {
      return malformed(HttpDefect::kBadRequestLine, "asterisk-form target outside OPTIONS");
    }
    return need_more();
  }
  const size_t scheme_end = target.find("://");
  const std::string_view scheme =
      scheme_end == std::string_view::npos ? std::string_view() : target.substr(0, scheme_end);
  if (iequals(scheme, "http")) {
    rl.default_port = 80;
  } else if (iequals(scheme, "https")) {
    rl.default_port = 443;
  } else {
    return malformed(HttpDefect::kBadRequestLine,
                     "request target is neither origin-form (/...) nor an http(s) absolute URI");
  }
  std::string_view authority = target.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  std::string why;
  if (!parse_authority(authority, rl.authority, &why)) {
    return malformed(HttpDefect::kBadHost, "request target's authority " + why);
  }
  rl.absolute = true;
  return need_more();
}

// Header state kept across lines.
struct Headers {
  int host_count = 0;
  std::string host_value;
  bool has_content_length = false;
  std::string transfer_encoding;
  bool has_transfer_encoding = false;
};

HttpHeadResult parse_header_line(std::string_view line, HttpRequestInfo& info, Headers& h) {
  if (line[0] == ' ' || line[0] == '\t') {
    return malformed(HttpDefect::kObsFold,
                     "header line folded onto the previous one (obs-fold, RFC 9112 §5.2)");
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return malformed(HttpDefect::kBadHeaderName, "header line has no ':'");
  }
  const std::string_view name = line.substr(0, colon);
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) {
    // Includes "Host :" — RFC 9112 §5.1 requires rejecting whitespace before the colon.
    return malformed(HttpDefect::kBadHeaderName, "header name is empty or not a token");
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      return malformed(HttpDefect::kBadHeaderValue, "header value has a control byte");
    }
  }
  if (iequals(name, "host")) {
    if (++h.host_count > 1) {
      return malformed(HttpDefect::kDuplicateHost,
                       "more than one Host header: the gate and the server could pick different "
                       "ones (request smuggling)");
    }
    h.host_value = std::string(value);
  } else if (iequals(name, "content-length")) {
    if (h.has_content_length) {
      return malformed(HttpDefect::kBadFraming, "more than one Content-Length header");
    }
    if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), is_digit)) {
      return malformed(HttpDefect::kBadFraming, "Content-Length is not 1 to 18 digits");
    }
    h.has_content_length = true;
    info.content_length = decimal(value);
  } else if (iequals(name, "transfer-encoding")) {
    if (h.has_transfer_encoding) {
      return malformed(HttpDefect::kBadFraming, "more than one Transfer-Encoding header");
    }
    h.has_transfer_encoding = true;
    h.transfer_encoding = std::string(value);
  } else if (iequals(name, "upgrade")) {
    info.upgrade = true;
  }
  return need_more();
}

// Checks that need the whole head: framing, Host presence, Host against the target.
HttpHeadResult finish(HttpRequestInfo info, const RequestLine& rl, const Headers& h) {
  if (h.has_transfer_encoding) {
    if (info.content_length.has_value()) {
      return malformed(HttpDefect::kBadFraming,
                       "both Content-Length and Transfer-Encoding (request smuggling)");
    }
    if (info.minor_version == 0) {
      return malformed(HttpDefect::kBadFraming, "Transfer-Encoding in an HTTP/1.0 request");
    }
    std::string_view te = h.transfer_encoding;
    const size_t comma = te.rfind(',');
    const std::string_view last =
        trim_ows(comma == std::string_view::npos ? te : te.substr(comma + 1));
    if (!iequals(last, "chunked")) {
      return malformed(HttpDefect::kBadFraming, "Transfer-Encoding does not end in chunked");
    }
    info.chunked = true;
  }
  if (h.host_count == 0) {
    if (info.minor_version == 1) {
      return malformed(HttpDefect::kMissingHost, "HTTP/1.1 request without a Host header");
    }
    if (rl.absolute) {  // HTTP/1.0 with an absolute target: the server goes by the target
      info.host = rl.authority.host;
      info.port = rl.authority.port;
    }
    return done(std::move(info));
  }
  if (h.host_value.empty()) {
    return malformed(HttpDefect::kMissingHost, "Host header is empty");
  }
  Authority host;
  std::string why;
  if (!parse_authority(h.host_value, host, &why)) {
    return malformed(HttpDefect::kBadHost, "Host header " + why);
  }
  if (rl.absolute) {
    const uint16_t target_port = rl.authority.port.value_or(rl.default_port);
    const uint16_t host_port = host.port.value_or(rl.default_port);
    if (rl.authority.host != host.host || target_port != host_port) {
      return malformed(HttpDefect::kHostMismatch,
                       "absolute-form target names " + rl.authority.host + ":" +
                           std::to_string(target_port) + " but Host names " + host.host + ":" +
                           std::to_string(host_port));
    }
  }
  info.host = std::move(host.host);
  info.port = host.port;
  return done(std::move(info));
}

}  // namespace

HttpHeadResult parse_http_request_head(std::span<const uint8_t> in) {
  const size_t n = in.size();
  if (n == 0) return need_more();
  if (in[0] == '\r' || in[0] == '\n') {
    // RFC 9112 §2.2 lets a server skip empty lines before the request; we refuse rather than
    // call such a stream "not HTTP" and have it relayed as opaque bytes.
    return malformed(HttpDefect::kBadLineEnding, "empty line before the request line");
  }
  // Does it start like a request line: a token (the method) and a space?
  size_t i = 0;
  while (true) {
    if (i == n) return need_more();
    const char c = static_cast<char>(in[i]);
    if (c == ' ' && i > 0) break;
    if (i == kMaxMethodBytes || !is_tchar(c)) {
      return fail(ParseState::kNotHttp, HttpDefect::kNotRequestLine,
                  "does not start with an HTTP method token and a space");
    }
    ++i;
  }
  HttpRequestInfo info;
  info.method.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(i));
  if (info.method == "CONNECT") {
    return malformed(HttpDefect::kConnect, "CONNECT is refused: no tunnels through the gate");
  }

  RequestLine rl;
  Headers headers;
  const size_t limit = std::min(n, kMaxHttpHeadBytes);
  size_t line_start = 0;
  bool first = true;
  while (true) {
    size_t lf = line_start;
    for (; lf < limit && in[lf] != '\n'; ++lf) {
      // A CR must be followed by LF. Judged only inside the cap, so the verdict for a CR at the
      // cap's edge does not depend on whether the next byte has arrived.
      if (in[lf] == '\r' && lf + 1 < limit && in[lf + 1] != '\n') {
        return malformed(HttpDefect::kBadLineEnding, "bare CR in the request head");
      }
    }
    if (lf == limit) {
      if (n >= kMaxHttpHeadBytes) {
        return malformed(HttpDefect::kTooLarge, "request head is larger than " +
                                                    std::to_string(kMaxHttpHeadBytes) + " bytes");
      }
      return need_more();
    }
    if (lf == line_start || in[lf - 1] != '\r') {
      return malformed(HttpDefect::kBadLineEnding,
                       "bare LF in the request head (lines end in CRLF)");
    }
    const std::string_view line(reinterpret_cast<const char*>(in.data()) + line_start,
                                lf - 1 - line_start);
    line_start = lf + 1;
    HttpHeadResult step;
    if (first) {
      first = false;
      step = parse_request_line(line, info, rl);
    } else if (line.empty()) {
      info.head_length = line_start;
      return finish(std::move(info), rl, headers);
    } else {
      step = parse_header_line(line, info, headers);
    }
    if (step.state != ParseState::kNeedMore) return step;
  }
}

Error to_error(const HttpHeadResult& result) {
  return make_error(
      ErrorCode::kInvalidArgument,
      std::string("HTTP request refused (") + parse_state_name(result.state) + "): " + result.error,
      "the gate binds clear-text HTTP/1.x connections to the name they were "
      "resolved for by the Host header");
}

}  // namespace moat::gate
