// TLS ClientHello parsing: record reassembly, the ClientHello body, server_name and ALPN.
// Every read goes through Reader, which checks the length first: these bytes come from the sandbox.
#include "sandboxd/gate/tls_client_hello.h"

#include <algorithm>
#include <utility>

namespace moat::gate {
namespace {

constexpr uint8_t kContentHandshake = 22;
constexpr uint8_t kHandshakeClientHello = 1;
constexpr size_t kRecordHeaderBytes = 5;
constexpr size_t kHandshakeHeaderBytes = 4;
constexpr size_t kMaxRecordPayload = 1 << 14;  // RFC 8446 §5.1: TLSPlaintext.length <= 2^14
constexpr uint16_t kExtServerName = 0;
constexpr uint16_t kExtAlpn = 16;
constexpr uint16_t kExtEncryptedClientHello = 0xfe0d;
constexpr uint16_t kExtLegacyEsni = 0xffce;  // draft-ietf-tls-esni-00..02, shipped by Firefox
constexpr uint8_t kNameTypeHostName = 0;

// A cursor over untrusted bytes. Every accessor checks the remaining length before reading and
// returns false, consuming nothing, when the field does not fit.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t remaining() const { return bytes_.size() - pos_; }
  bool empty() const { return remaining() == 0; }

  bool u8(uint8_t& out) {
    if (remaining() < 1) return false;
    out = bytes_[pos_];
    pos_ += 1;
    return true;
  }
  bool u16(uint16_t& out) {
    if (remaining() < 2) return false;
    out = static_cast<uint16_t>((bytes_[pos_] << 8) | bytes_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool take(size_t n, std::span<const uint8_t>& out) {
    if (remaining() < n) return false;
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // A vector with a 1- or 2-byte length prefix (TLS presentation language `<lo..hi>`).
  bool vec8(std::span<const uint8_t>& out) {
    uint8_t n = 0;
    return u8(n) && take(n, out);
  }
  bool vec16(std::span<const uint8_t>& out) {
    uint16_t n = 0;
    return u16(n) && take(n, out);
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

ClientHelloResult fail(ParseState state, HelloDefect defect, std::string error) {
  ClientHelloResult r;
  r.state = state;
  r.defect = defect;
  r.error = std::move(error);
  return r;
}

ClientHelloResult malformed(HelloDefect defect, std::string error) {
  return fail(ParseState::kMalformed, defect, std::move(error));
}

ClientHelloResult done(ClientHelloInfo info) {
  ClientHelloResult r;
  r.state = ParseState::kDone;
  r.info = std::move(info);
  return r;
}

ClientHelloResult need_more(size_t hint) {
  ClientHelloResult r;
  r.state = ParseState::kNeedMore;
  r.bytes_needed_hint = std::max<size_t>(hint, 1);
  return r;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
std::string hex_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return {'0', 'x', "0123456789abcdef"[u >> 4], "0123456789abcdef"[u & 0xf]};
}
bool is_alnum(char c) { return is_digit(c) || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z'); }

// server_name (RFC 6066 §3). The gate and the server must agree on which name was asked for, so
// anything two implementations could read differently is refused rather than interpreted: more
// than one entry (some servers take the first, some the last), or a name type other than
// host_name (its length encoding is unknown, so the rest cannot be parsed reliably).
ClientHelloResult parse_server_name(std::span<const uint8_t> data, ClientHelloInfo& info) {
  Reader r(data);
  std::span<const uint8_t> list;
  if (!r.vec16(list) || !r.empty()) {
    return malformed(HelloDefect::kBadServerName, "server_name list length is inconsistent");
  }
  if (list.empty()) {
    return malformed(HelloDefect::kBadServerName, "server_name list is empty");
  }
  Reader entries(list);
  uint8_t type = 0;
  std::span<const uint8_t> name;
  entries.u8(type);  // cannot fail: the list is not empty
  if (type != kNameTypeHostName) {
    return malformed(HelloDefect::kBadServerName,
                     "server_name entry of type " + std::to_string(type) + " is not host_name (0)");
  }
  if (!entries.vec16(name)) {
    return malformed(HelloDefect::kBadServerName, "server_name host_name length overruns the list");
  }
  if (!entries.empty()) {
    return malformed(HelloDefect::kBadServerName,
                     "server_name has more than one entry: ambiguous which name is meant");
  }
  std::string host(name.begin(), name.end());
  std::string why;
  const HelloDefect defect = check_dns_host_name(host, &why);
  if (defect != HelloDefect::kNone) {
    return malformed(defect, "SNI host_name is " + why);
  }
  std::transform(host.begin(), host.end(), host.begin(), ascii_lower);
  info.sni = std::move(host);
  return done({});
}

// application_layer_protocol_negotiation (RFC 7301 §3.1): ProtocolName protocol_name_list
// <2..2^16-1>, ProtocolName opaque<1..2^8-1>.
ClientHelloResult parse_alpn(std::span<const uint8_t> data, ClientHelloInfo& info) {
  Reader r(data);
  std::span<const uint8_t> list;
  if (!r.vec16(list) || !r.empty() || list.empty()) {
    return malformed(HelloDefect::kBadAlpn, "ALPN list length is inconsistent or empty");
  }
  Reader names(list);
  while (!names.empty()) {
    std::span<const uint8_t> name;
    if (!names.vec8(name) || name.empty()) {
      return malformed(HelloDefect::kBadAlpn, "ALPN protocol name is empty or overruns the list");
    }
    info.alpn.emplace_back(name.begin(), name.end());
  }
  return done({});
}

// The ClientHello body (RFC 8446 §4.1.2; TLS 1.0-1.2 hellos have the same shape, extensions
// optional).
ClientHelloResult parse_body(std::span<const uint8_t> body) {
  Reader r(body);
  ClientHelloInfo info;
  std::span<const uint8_t> skipped;
  if (!r.u16(info.legacy_version)) {
    return malformed(HelloDefect::kBadBody, "ClientHello too short for legacy_version");
  }
  if ((info.legacy_version >> 8) != 3) {
    return malformed(HelloDefect::kBadBody, "ClientHello legacy_version major is not 3");
  }
  if (!r.take(32, skipped)) {
    return malformed(HelloDefect::kBadBody, "ClientHello too short for random");
  }
  if (!r.vec8(skipped) || skipped.size() > 32) {
    return malformed(HelloDefect::kBadBody,
                     "ClientHello legacy_session_id is over 32 bytes or "
                     "overruns the message");
  }
  if (!r.vec16(skipped) || skipped.size() < 2 || skipped.size() % 2 != 0) {
    return malformed(HelloDefect::kBadBody, "ClientHello cipher_suites length is invalid");
  }
  if (!r.vec8(skipped) || skipped.empty()) {
    return malformed(HelloDefect::kBadBody, "ClientHello compression_methods length is invalid");
  }
  if (r.empty()) {
    return done(std::move(info));  // no extensions
  }
  std::span<const uint8_t> extensions;
  if (!r.vec16(extensions) || !r.empty()) {
    return malformed(HelloDefect::kBadBody,
                     "ClientHello extensions length does not match the message length");
  }
  Reader ext(extensions);
  std::vector<uint16_t> seen;
  while (!ext.empty()) {
    uint16_t type = 0;
    std::span<const uint8_t> data;
    if (!ext.u16(type) || !ext.vec16(data)) {
      return malformed(HelloDefect::kBadBody, "ClientHello extension overruns the extensions list");
    }
    seen.push_back(type);
    ClientHelloResult sub = done({});
    if (type == kExtServerName) {
      sub = parse_server_name(data, info);
    } else if (type == kExtAlpn) {
      sub = parse_alpn(data, info);
    } else if (type == kExtEncryptedClientHello || type == kExtLegacyEsni) {
      info.has_ech = true;
    }
    if (sub.state != ParseState::kDone) return sub;
  }
  // RFC 8446 §4.2: at most one extension of each type. A gate reading the first server_name while
  // the server reads the last would check one name and connect to another.
  std::sort(seen.begin(), seen.end());
  if (auto dup = std::adjacent_find(seen.begin(), seen.end()); dup != seen.end()) {
    return malformed(HelloDefect::kDuplicateExtension,
                     "ClientHello repeats extension type " + std::to_string(*dup));
  }
  return done(std::move(info));
}

}  // namespace

const char* parse_state_name(ParseState state) {
  switch (state) {
    case ParseState::kNeedMore:
      return "need-more";
    case ParseState::kDone:
      return "done";
    case ParseState::kNotTls:
      return "not-tls";
    case ParseState::kNotHttp:
      return "not-http";
    case ParseState::kHttp2:
      return "http2-preface";
    case ParseState::kMalformed:
      return "malformed";
  }
  return "unknown";
}

HelloDefect check_dns_host_name(std::string_view name, std::string* why) {
  auto bad = [why](HelloDefect defect, std::string text) {
    if (why != nullptr) *why = std::move(text);
    return defect;
  };
  if (name.empty()) return bad(HelloDefect::kBadHostName, "empty");
  if (name.size() > 253) {
    return bad(HelloDefect::kBadHostName,
               "longer than 253 bytes (" + std::to_string(name.size()) + ")");
  }
  std::string_view last;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) {
      return bad(HelloDefect::kBadHostName,
                 "not a DNS name: empty label (leading, trailing or "
                 "doubled dot)");
    }
    if (label.size() > 63) return bad(HelloDefect::kBadHostName, "a label over 63 bytes");
    for (char c : label) {
      if (!is_alnum(c) && c != '-') {
        return bad(HelloDefect::kBadHostName,
                   "not a DNS name: byte " + hex_byte(c) + " is not a letter, digit or hyphen");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return bad(HelloDefect::kBadHostName, "not a DNS name: a label starts or ends with '-'");
    }
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // inet_aton(3) reads "1.2.3.4", "127.1", "2130706433", "0x7f.1" and "0x7f000001" as addresses;
  // in each the last part is a number. No real top-level domain is numeric (RFC 3696 §2).
  const bool all_digits = std::all_of(last.begin(), last.end(), is_digit);
  const bool hex_number = last.size() >= 2 && last[0] == '0' &&
                          (last[1] == 'x' || last[1] == 'X') &&
                          std::all_of(last.begin() + 2, last.end(), is_hex);
  if (all_digits || hex_number) {
    return bad(HelloDefect::kIpLiteral, "an IP address literal, not a host name (RFC 6066 §3)");
  }
  return HelloDefect::kNone;
}

ClientHelloResult parse_client_hello(std::span<const uint8_t> in) {
  if (in.empty()) return need_more(kRecordHeaderBytes + kHandshakeHeaderBytes);
  if (in[0] != kContentHandshake) {
    // SSLv2 record: 2-byte header with the high bit set, then msg_type 1 (CLIENT-HELLO).
    if ((in[0] & 0x80) != 0) {
      if (in.size() < 3) return need_more(3 - in.size());
      if (in[2] == kHandshakeClientHello) {
        return malformed(HelloDefect::kSslv2Hello,
                         "SSLv2-compatible ClientHello: it has no extensions, so no SNI to check");
      }
    }
    return fail(ParseState::kNotTls, HelloDefect::kNotHandshakeRecord,
                "first byte is not a TLS handshake record (22)");
  }

  // Reassemble the handshake message from consecutive handshake records. `message` holds the
  // handshake bytes seen so far; `total` is the ClientHello's full size once its header is known.
  std::vector<uint8_t> message;
  message.reserve(std::min(in.size(), kMaxClientHelloBytes));
  size_t total = 0;
  size_t pos = 0;
  // Handshake bytes still missing after `have` are in hand (a lower bound while total is unknown).
  auto missing = [&total](size_t have) -> size_t {
    const size_t want = total != 0 ? total : kHandshakeHeaderBytes;
    return have < want ? want - have : 0;
  };
  while (true) {
    // The wire cap: a ClientHello chopped into tiny records must still fit in 64 KiB.
    if (pos + kRecordHeaderBytes > kMaxClientHelloBytes) {
      return malformed(HelloDefect::kTooLarge, "ClientHello not complete within " +
                                                   std::to_string(kMaxClientHelloBytes) + " bytes");
    }
    if (in.size() - pos < kRecordHeaderBytes) {
      // Even a partial header can be wrong already; check what is there so the verdict does not
      // depend on how the bytes were split.
      if (in.size() - pos >= 1 && in[pos] != kContentHandshake) break;
      if (in.size() - pos >= 2 && in[pos + 1] != 3) break;
      return need_more(kRecordHeaderBytes - (in.size() - pos) +
                       std::max<size_t>(missing(message.size()), 1));
    }
    const uint8_t type = in[pos];
    const uint8_t major = in[pos + 1];
    const size_t length = (static_cast<size_t>(in[pos + 3]) << 8) | in[pos + 4];
    if (type != kContentHandshake) {
      return malformed(HelloDefect::kInterleavedRecord, "record of content type " +
                                                            std::to_string(type) +
                                                            " before the ClientHello was complete");
    }
    if (major != 3) {
      return malformed(HelloDefect::kRecordVersion,
                       "record version major " + std::to_string(major) + " is not 3");
    }
    // RFC 8446 §5.1: no zero-length handshake fragments, no plaintext record over 2^14.
    if (length == 0 || length > kMaxRecordPayload) {
      return malformed(HelloDefect::kRecordLength,
                       "handshake record length " + std::to_string(length) + " is not 1..16384");
    }
    if (pos + kRecordHeaderBytes + length > kMaxClientHelloBytes) {
      return malformed(HelloDefect::kTooLarge, "ClientHello not complete within " +
                                                   std::to_string(kMaxClientHelloBytes) + " bytes");
    }
    const size_t available = std::min(length, in.size() - pos - kRecordHeaderBytes);
    const auto fragment = in.subspan(pos + kRecordHeaderBytes, available);
    // Keep only what belongs to the ClientHello; anything after it is not ours to judge.
    const size_t keep = total != 0 ? std::min(available, total - message.size()) : available;
    message.insert(message.end(), fragment.begin(), fragment.begin() + keep);

    if (total == 0 && !message.empty() && message[0] != kHandshakeClientHello) {
      return malformed(HelloDefect::kNotClientHello, "first handshake message is type " +
                                                         std::to_string(message[0]) +
                                                         ", not ClientHello (1)");
    }
    if (total == 0 && message.size() >= kHandshakeHeaderBytes) {
      const size_t body = (static_cast<size_t>(message[1]) << 16) |
                          (static_cast<size_t>(message[2]) << 8) | message[3];
      if (body + kHandshakeHeaderBytes > kMaxClientHelloBytes) {
        return malformed(HelloDefect::kTooLarge,
                         "ClientHello declares " + std::to_string(body) + " bytes, over the " +
                             std::to_string(kMaxClientHelloBytes) + "-byte cap");
      }
      total = body + kHandshakeHeaderBytes;
      message.resize(std::min(message.size(), total));  // drop what follows the ClientHello
    }
    if (total != 0 && message.size() >= total) {
      return parse_body(std::span<const uint8_t>(message).subspan(kHandshakeHeaderBytes));
    }
    if (available < length) {
      // The hello may end inside this record (the rest of it is then not needed), or need this
      // record's rest plus at least one more record.
      const size_t rest_of_record = length - available;
      const size_t want = missing(message.size());
      return need_more(want <= rest_of_record ? want : want + kRecordHeaderBytes);
    }
    pos += kRecordHeaderBytes + length;
  }
  // Reached only from the partial-header checks above: report it as the full header would be.
  if (in[pos] != kContentHandshake) {
    return malformed(HelloDefect::kInterleavedRecord, "record of content type " +
                                                          std::to_string(in[pos]) +
                                                          " before the ClientHello was complete");
  }
  return malformed(HelloDefect::kRecordVersion,
                   "record version major " + std::to_string(in[pos + 1]) + " is not 3");
}

Error to_error(const ClientHelloResult& result) {
  return make_error(ErrorCode::kInvalidArgument,
                    std::string("TLS ClientHello refused (") + parse_state_name(result.state) +
                        "): " + result.error,
                    "the gate binds TLS connections to the name they were resolved for by SNI");
}

}  // namespace moat::gate
