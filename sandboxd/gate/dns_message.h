// DNS wire format (RFC 1035, 3596, 6891) for the stub resolver that answers the sandbox: parsing
// untrusted queries (bounds-checked everywhere), building responses, TCP framing, name validation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/net_rule.h"
#include "policy/result.h"

namespace moat::gate {

inline constexpr uint16_t kDnsTypeA = 1;
inline constexpr uint16_t kDnsTypeAaaa = 28;
inline constexpr uint16_t kDnsTypeOpt = 41;
inline constexpr uint16_t kDnsClassIn = 1;
inline constexpr size_t kDnsHeaderSize = 12;
inline constexpr size_t kDnsMaxUdpSize = 512;       // without EDNS (RFC 1035 §4.2.1)
inline constexpr size_t kDnsMaxEdnsUdpSize = 1232;  // DNS flag day 2020: no IP fragmentation
inline constexpr size_t kDnsMaxNameLength = 253;    // text form, no trailing dot (255 on the wire)
inline constexpr size_t kDnsMaxLabelLength = 63;

struct DnsQuestion {
  std::string name;  // lowercased, no trailing dot ("" is the root)
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  std::string original_name;  // as sent (case preserved: DNS 0x20 clients compare the echo)
};

struct DnsQuery {
  uint16_t id = 0;
  uint16_t flags = 0;  // the header's second 16 bits, as received
  std::vector<DnsQuestion> questions;
  bool has_edns = false;
  uint16_t edns_udp_size = 512;  // clamped to at least 512 (RFC 6891 §6.2.5)
};

struct DnsAnswer {
  std::vector<std::array<uint8_t, 4>> a;
  std::vector<std::array<uint8_t, 16>> aaaa;
  uint32_t ttl = 60;
};

enum class DnsRcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

// Parses one query as sent by a client in the sandbox. Rejects responses (QR=1), QDCOUNT != 1,
// answer or authority records, malformed names (label > 63, name > 255 bytes on the wire, extended
// label types, compression pointers that do not point strictly backwards — which rules out loops —
// or out of the packet), labels with bytes outside printable ASCII or with a '.', a second OPT, and
// truncated packets. Accepts an OPT RR (EDNS) and ignores other additional records and trailing
// bytes. Error codes, for the stub: kUnsupported (opcode other than QUERY) → answer NOTIMP;
// kInvalidArgument → answer FORMERR with build_dns_error (which stays silent for responses).
Result<DnsQuery> parse_dns_query(std::span<const uint8_t> packet);

// The largest UDP response this client accepts: 512 without EDNS, else its advertised size capped
// at 1232. Over TCP use 65535.
size_t dns_udp_response_limit(const DnsQuery& q);

// Builds the response to `q`: echoes the id, the opcode and the question (case preserved); QR and
// RA set, AA clear, RD copied; an OPT RR when the query had one. Answers only with records of the
// asked type (A for qtype 1, AAAA for 28) in class IN; any other qtype gets NOERROR with no
// answers (NODATA: the name exists, it has no such record — NOTIMP would make stub resolvers give
// up on the name, and ANY is minimised per RFC 8482). Any rcode but kNoError carries no answers
// (NXDOMAIN has none). If the response would exceed max_size, TC is set and every answer dropped,
// so the client retries over TCP; the result never exceeds max(max_size, 12) bytes.
// A query without exactly one encodable question gets SERVFAIL instead of NOERROR.
std::vector<uint8_t> build_dns_response(const DnsQuery& q, DnsRcode rcode, const DnsAnswer& answer,
                                        size_t max_size);

// Best-effort error (FORMERR, SERVFAIL, NOTIMP…) for a packet that did not parse: echoes the id,
// the opcode and RD, with no question. Empty when the packet has fewer than 12 bytes or is itself
// a response (answering responses would let two resolvers bounce packets forever).
std::vector<uint8_t> build_dns_error(std::span<const uint8_t> packet, DnsRcode rcode);

// DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each message is preceded by its 2-byte length.
// Frames a message; fails when it is empty or longer than 65535 bytes.
Result<std::vector<uint8_t>> frame_dns_tcp(std::span<const uint8_t> message);

// Splits a TCP byte stream into messages. Feed what recv() returned, then call next() until it
// returns false. Buffers at most one maximal message plus one recv-sized read.
class DnsTcpDeframer {
 public:
  static constexpr size_t kMaxBuffered = 2 * (2 + 65535);
  // Fails (and keeps nothing new) when the caller lets more than kMaxBuffered bytes pile up.
  Status feed(std::span<const uint8_t> bytes);
  // Moves the next complete message into `message`; false when none is complete yet. A zero
  // length prefix yields an empty message (which parse_dns_query rejects).
  bool next(std::vector<uint8_t>& message);
  size_t buffered() const { return buffer_.size() - start_; }

 private:
  std::vector<uint8_t> buffer_;
  size_t start_ = 0;
};

using policy::normalize_host_name;  // policy/net_rule.h: one grammar for names

}  // namespace moat::gate
