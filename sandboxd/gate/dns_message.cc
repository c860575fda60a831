// DNS wire format for the stub resolver: every read of the untrusted packet goes through Reader,
// which checks bounds; compression pointers must point strictly backwards, so names terminate.
#include "sandboxd/gate/dns_message.h"

#include <algorithm>
#include <cstdio>

namespace moat::gate {
namespace {

constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagOpcodeMask = 0x7800;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagRa = 0x0080;
constexpr uint16_t kDnsClassAny = 255;
constexpr size_t kMaxWireName = 255;  // including the length bytes and the final zero
constexpr size_t kMaxMessage = 65535;
constexpr size_t kOptRecordSize = 11;

Error dns_error(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "malformed DNS query: " + std::move(message));
}

std::string hex_byte(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

// Bounds-checked big-endian reads. Every accessor fails instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool u16(uint16_t& out) {
    if (remaining() < 2) return false;
    out = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& out) {
    uint16_t hi = 0;
    uint16_t lo = 0;
    if (remaining() < 4) return false;
    (void)u16(hi);
    (void)u16(lo);
    out = (static_cast<uint32_t>(hi) << 16) | lo;
    return true;
  }
  bool skip(size_t n) {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }
  void seek(size_t pos) { pos_ = pos; }  // callers only seek to positions they have validated

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// Reads a possibly compressed name starting at r.pos(); leaves r after the name as it appears at
// that position (after the first pointer, if any). `out` gets the dotted name, case preserved.
// A pointer must target an offset strictly before the start of the label run it ends: the run
// starts then strictly decrease, so no input can loop, and every target is inside the packet.
Status read_name(std::span<const uint8_t> packet, Reader& r, std::string& out) {
  out.clear();
  size_t pos = r.pos();
  size_t run_start = pos;
  size_t end = 0;  // where the reader continues; set at the first pointer or the final zero
  bool jumped = false;
  size_t wire_len = 0;
  while (true) {
    if (pos >= packet.size()) return dns_error("name truncated at offset " + std::to_string(pos));
    const uint8_t len = packet[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= packet.size()) {
        return dns_error("compression pointer truncated at offset " + std::to_string(pos));
      }
      const size_t target = (static_cast<size_t>(len & 0x3F) << 8) | packet[pos + 1];
      if (target >= run_start) {
        return dns_error("compression pointer at offset " + std::to_string(pos) + " to offset " +
                         std::to_string(target) + " does not point backwards (loop or forward)");
      }
      if (!jumped) end = pos + 2;
      jumped = true;
      pos = target;
      run_start = target;
      continue;
    }
    if ((len & 0xC0) != 0) {
      return dns_error("label length byte " + hex_byte(len) + " at offset " + std::to_string(pos) +
                       " is neither a length (at most 63) nor a pointer");
    }
    if (len == 0) {
      ++pos;
      break;
    }
    wire_len += 1 + static_cast<size_t>(len);
    if (wire_len + 1 > kMaxWireName) return dns_error("name longer than 255 bytes");
    if (packet.size() - pos - 1 < len) {
      return dns_error("label truncated at offset " + std::to_string(pos));
    }
    if (!out.empty()) out.push_back('.');
    for (size_t i = pos + 1; i <= pos + len; ++i) {
      const uint8_t c = packet[i];
      // Printable ASCII without '.', so the dotted text form is unambiguous.
      if (c <= 0x20 || c >= 0x7F || c == '.') {
        return dns_error("byte " + hex_byte(c) + " in a label at offset " + std::to_string(i));
      }
      out.push_back(static_cast<char>(c));
    }
    pos += 1 + len;
  }
  r.seek(jumped ? end : pos);
  return {};
}

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void put_u16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xFF));
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  put_u16(out, static_cast<uint16_t>(v >> 16));
  put_u16(out, static_cast<uint16_t>(v & 0xFFFF));
}

// Uncompressed wire form of a dotted name; false when it cannot be encoded (a caller-built query).
bool encode_name(std::string_view name, std::vector<uint8_t>& out) {
  std::vector<uint8_t> wire;
  while (!name.empty()) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > kDnsMaxLabelLength) return false;
    wire.push_back(static_cast<uint8_t>(label.size()));
    wire.insert(wire.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
    if (name.empty()) return false;  // "a." : trailing dot is not part of our text form
  }
  wire.push_back(0);
  if (wire.size() > kMaxWireName) return false;
  out.insert(out.end(), wire.begin(), wire.end());
  return true;
}

void put_header(std::vector<uint8_t>& out, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
                uint16_t ar) {
  put_u16(out, id);
  put_u16(out, flags);
  put_u16(out, qd);
  put_u16(out, an);
  put_u16(out, 0);
  put_u16(out, ar);
}

}  // namespace

Result<DnsQuery> parse_dns_query(std::span<const uint8_t> packet) {
  Reader r(packet);
  DnsQuery q;
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;
  if (!r.u16(q.id) || !r.u16(q.flags) || !r.u16(qdcount) || !r.u16(ancount) || !r.u16(nscount) ||
      !r.u16(arcount)) {
    return dns_error("truncated header (" + std::to_string(packet.size()) + " bytes, need 12)");
  }
  if ((q.flags & kFlagQr) != 0) return dns_error("QR is set: this is a response, not a query");
  const unsigned opcode = (q.flags & kFlagOpcodeMask) >> 11;
  if (opcode != 0) {
    return make_error(ErrorCode::kUnsupported,
                      "DNS opcode " + std::to_string(opcode) + " is not supported (only QUERY)");
  }
  if (qdcount != 1) {
    return dns_error("QDCOUNT is " + std::to_string(qdcount) + ", expected 1");
  }
  if (ancount != 0 || nscount != 0) {
    return dns_error("a query carries no answer or authority records (ANCOUNT " +
                     std::to_string(ancount) + ", NSCOUNT " + std::to_string(nscount) + ")");
  }
  DnsQuestion question;
  if (Status s = read_name(packet, r, question.original_name); !s) return s.error();
  if (!r.u16(question.qtype) || !r.u16(question.qclass)) return dns_error("truncated question");
  question.name = to_lower_ascii(question.original_name);
  q.questions.push_back(std::move(question));

  std::string rr_name;
  for (unsigned i = 0; i < arcount; ++i) {
    uint16_t type = 0;
    uint16_t rr_class = 0;
    uint32_t ttl = 0;
    uint16_t rdlength = 0;
    if (Status s = read_name(packet, r, rr_name); !s) return s.error();
    if (!r.u16(type) || !r.u16(rr_class) || !r.u32(ttl) || !r.u16(rdlength) || !r.skip(rdlength)) {
      return dns_error("additional record " + std::to_string(i + 1) + " truncated");
    }
    if (type != kDnsTypeOpt) continue;  // e.g. TSIG: not ours to check, the stub ignores it
    if (q.has_edns) return dns_error("more than one OPT record");
    if (!rr_name.empty()) return dns_error("OPT record with a name other than the root");
    q.has_edns = true;
    q.edns_udp_size = std::max<uint16_t>(rr_class, 512);
  }
  return q;
}

size_t dns_udp_response_limit(const DnsQuery& q) {
  if (!q.has_edns) return kDnsMaxUdpSize;
  return std::clamp<size_t>(q.edns_udp_size, kDnsMaxUdpSize, kDnsMaxEdnsUdpSize);
}

std::vector<uint8_t> build_dns_response(const DnsQuery& q, DnsRcode rcode, const DnsAnswer& answer,
                                        size_t max_size) {
  max_size = std::min(max_size, kMaxMessage);
  std::vector<uint8_t> question;
  const DnsQuestion* qn = q.questions.size() == 1 ? &q.questions[0] : nullptr;
  bool have_question = qn != nullptr && encode_name(qn->original_name, question);
  if (have_question) {
    put_u16(question, qn->qtype);
    put_u16(question, qn->qclass);
  } else {
    question.clear();
    // Without the question the client cannot match an answer; say the server failed.
    if (rcode == DnsRcode::kNoError) rcode = DnsRcode::kServFail;
  }

  // Answers: the question name is at offset 12, so each record starts with pointer 0xC00C.
  std::vector<uint8_t> answers;
  uint16_t ancount = 0;
  const bool answerable = have_question && rcode == DnsRcode::kNoError &&
                          (qn->qclass == kDnsClassIn || qn->qclass == kDnsClassAny);
  auto add_record = [&](uint16_t type, std::span<const uint8_t> rdata) {
    if (ancount == UINT16_MAX || answers.size() > kMaxMessage) return;
    put_u16(answers, 0xC00C);
    put_u16(answers, type);
    put_u16(answers, kDnsClassIn);
    put_u32(answers, answer.ttl);
    put_u16(answers, static_cast<uint16_t>(rdata.size()));
    answers.insert(answers.end(), rdata.begin(), rdata.end());
    ++ancount;
  };
  if (answerable && qn->qtype == kDnsTypeA) {
    for (const auto& a : answer.a) add_record(kDnsTypeA, a);
  } else if (answerable && qn->qtype == kDnsTypeAaaa) {
    for (const auto& a : answer.aaaa) add_record(kDnsTypeAaaa, a);
  }

  bool with_opt = q.has_edns;
  bool truncated = false;
  auto total = [&] {
    return kDnsHeaderSize + question.size() + answers.size() + (with_opt ? kOptRecordSize : 0);
  };
  if (total() > max_size) {
    truncated = true;
    answers.clear();
    ancount = 0;
  }
  if (total() > max_size) with_opt = false;
  if (total() > max_size) {
    question.clear();
    have_question = false;
  }

  uint16_t flags =
      static_cast<uint16_t>(kFlagQr | (q.flags & kFlagOpcodeMask) | (q.flags & kFlagRd) | kFlagRa |
                            static_cast<uint16_t>(rcode));
  if (truncated) flags |= kFlagTc;
  std::vector<uint8_t> out;
  out.reserve(total());
  put_header(out, q.id, flags, have_question ? 1 : 0, ancount, with_opt ? 1 : 0);
  out.insert(out.end(), question.begin(), question.end());
  out.insert(out.end(), answers.begin(), answers.end());
  if (with_opt) {
    out.push_back(0);  // root name
    put_u16(out, kDnsTypeOpt);
    put_u16(out, static_cast<uint16_t>(kDnsMaxEdnsUdpSize));  // our UDP payload size
    put_u32(out, 0);                                          // extended rcode, version 0, no DO
    put_u16(out, 0);                                          // no options
  }
  return out;
}

std::vector<uint8_t> build_dns_error(std::span<const uint8_t> packet, DnsRcode rcode) {
  if (packet.size() < kDnsHeaderSize) return {};
  const uint16_t id = static_cast<uint16_t>((packet[0] << 8) | packet[1]);
  const uint16_t in_flags = static_cast<uint16_t>((packet[2] << 8) | packet[3]);
  if ((in_flags & kFlagQr) != 0) return {};
  const uint16_t flags =
      static_cast<uint16_t>(kFlagQr | (in_flags & kFlagOpcodeMask) | (in_flags & kFlagRd) |
                            kFlagRa | static_cast<uint16_t>(rcode));
  std::vector<uint8_t> out;
  put_header(out, id, flags, 0, 0, 0);
  return out;
}

Result<std::vector<uint8_t>> frame_dns_tcp(std::span<const uint8_t> message) {
  if (message.empty() || message.size() > kMaxMessage) {
    return make_error(ErrorCode::kInvalidArgument, "DNS message of " +
                                                       std::to_string(message.size()) +
                                                       " bytes cannot be framed for TCP (1-65535)");
  }
  std::vector<uint8_t> out;
  out.reserve(message.size() + 2);
  put_u16(out, static_cast<uint16_t>(message.size()));
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

Status DnsTcpDeframer::feed(std::span<const uint8_t> bytes) {
  if (bytes.size() > kMaxBuffered - buffered()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "DNS over TCP: more than " + std::to_string(kMaxBuffered) +
                          " bytes buffered (the reader must call next() after each feed())");
  }
  if (start_ > 0) {  // drop consumed messages before growing
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  return {};
}

bool DnsTcpDeframer::next(std::vector<uint8_t>& message) {
  if (buffered() < 2) return false;
  const size_t len = (static_cast<size_t>(buffer_[start_]) << 8) | buffer_[start_ + 1];
  if (buffered() - 2 < len) return false;
  const auto first = buffer_.begin() + static_cast<std::ptrdiff_t>(start_ + 2);
  message.assign(first, first + static_cast<std::ptrdiff_t>(len));
  start_ += 2 + len;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return true;
}


}  // namespace moat::gate
