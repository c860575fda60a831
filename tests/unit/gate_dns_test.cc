// Unit tests for the DNS stub's wire format: queries are built byte by byte, as clients send them,
// and responses are checked byte by byte (header, echoed question, records, OPT, TC).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sandboxd/gate/dns_message.h"

namespace moat::gate {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

Bytes header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
  Bytes b;
  for (uint16_t v : {id, flags, qd, an, ns, ar}) put16(b, v);
  return b;
}

void put_name(Bytes& b, std::string_view dotted) {
  while (!dotted.empty()) {
    const size_t dot = dotted.find('.');
    const std::string_view label = dotted.substr(0, dot);
    b.push_back(static_cast<uint8_t>(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  b.push_back(0);
}

void put_opt(Bytes& b, uint16_t udp_size) {
  b.push_back(0);  // root
  put16(b, 41);
  put16(b, udp_size);
  put16(b, 0);  // extended rcode, version
  put16(b, 0);  // flags
  put16(b, 0);  // rdlength
}

// A query as glibc sends it: RD set, one question, optionally EDNS.
Bytes query(uint16_t id, std::string_view name, uint16_t qtype, bool edns = false) {
  Bytes b = header(id, 0x0100, 1, 0, 0, edns ? 1 : 0);
  put_name(b, name);
  put16(b, qtype);
  put16(b, 1);
  if (edns) put_opt(b, 4096);
  return b;
}

uint16_t get16(const Bytes& b, size_t off) {
  return static_cast<uint16_t>((b.at(off) << 8) | b.at(off + 1));
}

DnsQuery parse_ok(const Bytes& b) {
  Result<DnsQuery> q = parse_dns_query(b);
  EXPECT_TRUE(q.ok()) << (q.ok() ? "" : q.error().message);
  return q.ok() ? *q : DnsQuery{};
}

std::string parse_err(const Bytes& b) {
  Result<DnsQuery> q = parse_dns_query(b);
  EXPECT_FALSE(q.ok());
  return q.ok() ? "" : q.error().message;
}

TEST(GateDns, ParsesDigQueryWithEdnsCookie) {
  // `dig ExAmple.COM A` captured: AD and RD set, OPT with a client cookie (option 10).
  const Bytes packet = {
      0xbe, 0xef, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // header
      0x07, 'E',  'x',  'A',  'm',  'p',  'l',  'e',  0x03, 'C',  'O',  'M',
      0x00, 0x00, 0x01, 0x00, 0x01,                                          // A, IN
      0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,      // OPT 1232
      0x00, 0x0a, 0x00, 0x08, 1,    2,    3,    4,    5,    6,    7,    8};  // COOKIE
  DnsQuery q = parse_ok(packet);
  EXPECT_EQ(q.id, 0xbeef);
  ASSERT_EQ(q.questions.size(), 1u);
  EXPECT_EQ(q.questions[0].name, "example.com");
  EXPECT_EQ(q.questions[0].original_name, "ExAmple.COM");
  EXPECT_EQ(q.questions[0].qtype, kDnsTypeA);
  EXPECT_EQ(q.questions[0].qclass, kDnsClassIn);
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.edns_udp_size, 1232);
  EXPECT_EQ(dns_udp_response_limit(q), 1232u);
}

TEST(GateDns, RoundTripEchoesIdQuestionAndAnswers) {
  const Bytes packet = query(0x4242, "Api.GitHub.com", kDnsTypeA);
  DnsQuery q = parse_ok(packet);
  DnsAnswer ans;
  ans.a = {{140, 82, 112, 6}, {140, 82, 112, 5}};
  ans.aaaa = {{0x20, 0x01, 0x0d, 0xb8}};
  ans.ttl = 300;
  const Bytes r = build_dns_response(q, DnsRcode::kNoError, ans, 512);
  EXPECT_EQ(get16(r, 0), 0x4242);
  EXPECT_EQ(get16(r, 2), 0x8180);  // QR, RD copied, RA; AA clear, NOERROR
  EXPECT_EQ(get16(r, 4), 1);       // QDCOUNT
  EXPECT_EQ(get16(r, 6), 2);       // ANCOUNT: the A records only
  EXPECT_EQ(get16(r, 8), 0);
  EXPECT_EQ(get16(r, 10), 0);  // no OPT: the query had none
  // The question is echoed byte for byte, case preserved.
  const Bytes question(packet.begin() + 12, packet.end());
  ASSERT_GE(r.size(), 12 + question.size());
  EXPECT_EQ(Bytes(r.begin() + 12, r.begin() + 12 + static_cast<long>(question.size())), question);
  const Bytes first_answer = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 140, 82, 112, 6};
  const size_t at = 12 + question.size();
  EXPECT_EQ(Bytes(r.begin() + static_cast<long>(at), r.begin() + static_cast<long>(at + 16)),
            first_answer);
  EXPECT_EQ(r.size(), at + 32);
}

TEST(GateDns, AaaaQueryGetsOnlyAaaaRecords) {
  DnsQuery q = parse_ok(query(7, "example.org", kDnsTypeAaaa));
  DnsAnswer ans;
  ans.a = {{93, 184, 216, 34}};
  ans.aaaa = {
      {0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0, 1, 0x2, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19, 0x46}};
  const Bytes r = build_dns_response(q, DnsRcode::kNoError, ans, 512);
  ASSERT_EQ(get16(r, 6), 1);
  const size_t at = 12 + 13 + 4;
  EXPECT_EQ(get16(r, at + 2), kDnsTypeAaaa);
  EXPECT_EQ(get16(r, at + 10), 16);  // rdlength
  EXPECT_EQ(r.size(), at + 12 + 16);
  EXPECT_EQ(r[at + 12], 0x26);

  // Other qtypes (here MX) are NODATA: NOERROR without answers.
  DnsQuery mx = parse_ok(query(8, "example.org", 15));
  const Bytes none = build_dns_response(mx, DnsRcode::kNoError, ans, 512);
  EXPECT_EQ(get16(none, 2) & 0xF, 0);
  EXPECT_EQ(get16(none, 6), 0);
}

TEST(GateDns, NxDomainHasNoAnswers) {
  DnsQuery q = parse_ok(query(0x0bad, "exfil.attacker.example", kDnsTypeA));
  DnsAnswer ans;
  ans.a = {{1, 2, 3, 4}};
  const Bytes r = build_dns_response(q, DnsRcode::kNxDomain, ans, 512);
  EXPECT_EQ(get16(r, 0), 0x0bad);
  EXPECT_EQ(get16(r, 2) & 0xF, 3);
  EXPECT_EQ(get16(r, 4), 1);
  EXPECT_EQ(get16(r, 6), 0);
  EXPECT_EQ(r.size(), 12u + 24 + 4);
}

TEST(GateDns, OverflowSetsTcAndDropsAnswers) {
  DnsQuery q = parse_ok(query(1, "many.example.org", kDnsTypeA));
  DnsAnswer ans;
  for (uint8_t i = 0; i < 40; ++i) ans.a.push_back({10, 0, 0, i});  // 40 * 16 bytes > 512
  const Bytes r = build_dns_response(q, DnsRcode::kNoError, ans, dns_udp_response_limit(q));
  EXPECT_LE(r.size(), 512u);
  EXPECT_NE(get16(r, 2) & 0x0200, 0) << "TC";
  EXPECT_EQ(get16(r, 4), 1);
  EXPECT_EQ(get16(r, 6), 0);
  // Over TCP everything fits.
  const Bytes tcp = build_dns_response(q, DnsRcode::kNoError, ans, 65535);
  EXPECT_EQ(get16(tcp, 2) & 0x0200, 0);
  EXPECT_EQ(get16(tcp, 6), 40);
  // Header 12 + question 22 + 29 * 16 = 498 fits in 512; one more record (514) does not.
  ans.a.resize(29);
  const Bytes fits = build_dns_response(q, DnsRcode::kNoError, ans, 512);
  EXPECT_EQ(get16(fits, 6), 29);
  EXPECT_EQ(fits.size(), 12u + 22 + 29 * 16);
  ans.a.resize(30);
  EXPECT_NE(get16(build_dns_response(q, DnsRcode::kNoError, ans, 512), 2) & 0x0200, 0);
}

TEST(GateDns, EdnsQueryGetsOptAndLargerLimit) {
  DnsQuery q = parse_ok(query(9, "example.org", kDnsTypeA, /*edns=*/true));
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.edns_udp_size, 4096);
  EXPECT_EQ(dns_udp_response_limit(q), kDnsMaxEdnsUdpSize);
  DnsAnswer ans;
  ans.a = {{93, 184, 216, 34}};
  const Bytes r = build_dns_response(q, DnsRcode::kNoError, ans, dns_udp_response_limit(q));
  EXPECT_EQ(get16(r, 10), 1);  // ARCOUNT: our OPT
  const size_t opt = r.size() - 11;
  EXPECT_EQ(r[opt], 0);
  EXPECT_EQ(get16(r, opt + 1), kDnsTypeOpt);
  EXPECT_EQ(get16(r, opt + 3), 1232);

  // A tiny advertised size counts as 512.
  Bytes small = header(9, 0x0100, 1, 0, 0, 1);
  put_name(small, "example.org");
  put16(small, 1);
  put16(small, 1);
  put_opt(small, 100);
  EXPECT_EQ(parse_ok(small).edns_udp_size, 512);
  // Two OPT records are a FORMERR.
  put_opt(small, 1232);
  small[11] = 2;
  EXPECT_NE(parse_err(small).find("more than one OPT"), std::string::npos);
}

TEST(GateDns, OtherAdditionalRecordsAreSkippedWithBackwardPointer) {
  Bytes b = header(3, 0x0100, 1, 0, 0, 2);
  put_name(b, "example.org");
  put16(b, 1);
  put16(b, 1);
  b.insert(b.end(), {0xc0, 0x0c});  // name: pointer back to the question
  put16(b, 16);                     // TXT
  put16(b, 1);
  put16(b, 0);
  put16(b, 0);
  put16(b, 3);
  b.insert(b.end(), {2, 'h', 'i'});
  put_opt(b, 1400);
  DnsQuery q = parse_ok(b);
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.edns_udp_size, 1400);
}

TEST(GateDns, RejectsCompressionPointerLoops) {
  Bytes self = header(1, 0x0100, 1, 0, 0, 0);
  self.insert(self.end(), {0xc0, 0x0c, 0, 1, 0, 1});  // points at itself
  EXPECT_NE(parse_err(self).find("does not point backwards"), std::string::npos);

  Bytes two = header(1, 0x0100, 1, 0, 0, 0);
  two.insert(two.end(), {1, 'a', 0xc0, 0x0c, 0, 1, 0, 1});  // "a" then back to "a": a loop
  EXPECT_NE(parse_err(two).find("does not point backwards"), std::string::npos);

  // In the additional section: a pointer into its own run (offset of the record itself).
  Bytes ar = query(1, "example.org", kDnsTypeA);
  ar[11] = 1;
  const size_t at = ar.size();
  ar.insert(ar.end(), {1, 'x', 0xc0, static_cast<uint8_t>(at)});
  EXPECT_NE(parse_err(ar).find("does not point backwards"), std::string::npos);
}

TEST(GateDns, RejectsPointerOutOfBounds) {
  Bytes fwd = header(1, 0x0100, 1, 0, 0, 0);
  fwd.insert(fwd.end(), {0xc3, 0xff, 0, 1, 0, 1});  // offset 1023, past the end
  EXPECT_NE(parse_err(fwd).find("does not point backwards"), std::string::npos);

  Bytes cut = header(1, 0x0100, 1, 0, 0, 0);
  cut.push_back(0xc0);  // pointer missing its second byte
  EXPECT_NE(parse_err(cut).find("truncated"), std::string::npos);
}

TEST(GateDns, RejectsLongLabelsAndNames) {
  Bytes label = header(1, 0x0100, 1, 0, 0, 0);
  label.push_back(64);  // 0x40: not a length
  label.insert(label.end(), 64, 'a');
  label.insert(label.end(), {0, 0, 1, 0, 1});
  EXPECT_NE(parse_err(label).find("neither a length"), std::string::npos);

  const std::string l63(63, 'a');
  // 4 * 64 + 1 = 257 bytes on the wire.
  EXPECT_NE(parse_err(query(1, l63 + "." + l63 + "." + l63 + "." + l63, 1)).find("255"),
            std::string::npos);
  // 3 * 64 + 62 + 1 = 255: the longest legal name.
  const std::string longest = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  EXPECT_EQ(parse_ok(query(1, longest, 1)).questions.at(0).name, longest);
}

TEST(GateDns, RejectsBadCountsAndTruncation) {
  Bytes zero = header(1, 0x0100, 0, 0, 0, 0);
  EXPECT_NE(parse_err(zero).find("QDCOUNT is 0"), std::string::npos);

  Bytes two = query(1, "a.example", 1);
  two[5] = 2;
  put_name(two, "b.example");
  put16(two, 1);
  put16(two, 1);
  EXPECT_NE(parse_err(two).find("QDCOUNT is 2"), std::string::npos);

  Bytes answers = query(1, "a.example", 1);
  answers[7] = 1;
  EXPECT_NE(parse_err(answers).find("ANCOUNT 1"), std::string::npos);

  EXPECT_NE(parse_err(Bytes(11, 0)).find("truncated header"), std::string::npos);
  EXPECT_NE(parse_err(Bytes{}).find("truncated header"), std::string::npos);

  Bytes q = query(1, "example.org", 1);
  q.pop_back();  // half of QCLASS
  EXPECT_NE(parse_err(q).find("truncated question"), std::string::npos);
  Bytes label = header(1, 0x0100, 1, 0, 0, 0);
  label.insert(label.end(), {5, 'a', 'b'});
  EXPECT_NE(parse_err(label).find("label truncated"), std::string::npos);
  Bytes ar = query(1, "example.org", 1);
  ar[11] = 1;  // promises an OPT that is not there
  EXPECT_NE(parse_err(ar).find("truncated"), std::string::npos);
}

TEST(GateDns, RejectsResponsesOtherOpcodesAndOddBytes) {
  Bytes resp = query(1, "example.org", 1);
  resp[2] |= 0x80;
  EXPECT_NE(parse_err(resp).find("QR is set"), std::string::npos);
  EXPECT_TRUE(build_dns_error(resp, DnsRcode::kFormErr).empty()) << "never answer a response";

  Bytes status = query(0x7777, "example.org", 1);
  status[2] = 0x11;  // opcode 2 (STATUS), RD
  Result<DnsQuery> q = parse_dns_query(status);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().code, ErrorCode::kUnsupported);
  const Bytes notimp = build_dns_error(status, DnsRcode::kNotImp);
  ASSERT_EQ(notimp.size(), 12u);
  EXPECT_EQ(get16(notimp, 0), 0x7777);
  EXPECT_EQ(get16(notimp, 2), 0x8000 | 0x1000 | 0x0100 | 0x0080 | 4);
  EXPECT_EQ(get16(notimp, 4), 0);

  Bytes dot = header(1, 0x0100, 1, 0, 0, 0);
  dot.insert(dot.end(), {3, 'a', '.', 'b', 0, 0, 1, 0, 1});
  EXPECT_NE(parse_err(dot).find("byte 0x2e"), std::string::npos);
  Bytes high = header(1, 0x0100, 1, 0, 0, 0);
  high.insert(high.end(), {2, 0xc3, 0xbc, 0, 0, 1, 0, 1});
  EXPECT_NE(parse_err(high).find("byte 0xc3"), std::string::npos);
}

TEST(GateDns, ErrorResponsesEchoTheId) {
  EXPECT_TRUE(build_dns_error(Bytes(11, 0), DnsRcode::kFormErr).empty());
  Bytes junk = {0xab, 0xcd, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x42};
  const Bytes r = build_dns_error(junk, DnsRcode::kFormErr);
  ASSERT_EQ(r.size(), 12u);
  EXPECT_EQ(get16(r, 0), 0xabcd);
  EXPECT_EQ(get16(r, 2), 0x8181);
  for (size_t off = 4; off < 12; off += 2) EXPECT_EQ(get16(r, off), 0);
}

TEST(GateDns, TcpFraming) {
  const Bytes a = query(1, "a.example", 1);
  const Bytes b = query(2, "b.example", 28);
  Result<Bytes> fa = frame_dns_tcp(a);
  Result<Bytes> fb = frame_dns_tcp(b);
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_EQ(get16(*fa, 0), a.size());
  Bytes stream = *fa;
  stream.insert(stream.end(), fb->begin(), fb->end());

  DnsTcpDeframer d;
  Bytes msg;
  // Byte by byte, as a slow client would send it.
  std::vector<Bytes> got;
  for (uint8_t byte : stream) {
    ASSERT_TRUE(d.feed(Bytes{byte}).ok());
    while (d.next(msg)) got.push_back(msg);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], a);
  EXPECT_EQ(got[1], b);
  EXPECT_EQ(d.buffered(), 0u);
  // All at once.
  ASSERT_TRUE(d.feed(stream).ok());
  EXPECT_TRUE(d.next(msg));
  EXPECT_EQ(msg, a);
  EXPECT_TRUE(d.next(msg));
  EXPECT_EQ(msg, b);
  EXPECT_FALSE(d.next(msg));

  EXPECT_FALSE(frame_dns_tcp(Bytes{}).ok());
  EXPECT_FALSE(frame_dns_tcp(Bytes(65536, 0)).ok());
  // A reader that never drains cannot make the deframer grow without bound.
  DnsTcpDeframer greedy;
  ASSERT_TRUE(greedy.feed(Bytes(DnsTcpDeframer::kMaxBuffered, 0xff)).ok());
  EXPECT_FALSE(greedy.feed(Bytes{1}).ok());
}

TEST(GateDns, NormalizeHostName) {
  EXPECT_EQ(*normalize_host_name("Example.ORG."), "example.org");
  EXPECT_EQ(*normalize_host_name("_dmarc.xn--bcher-kva.de"), "_dmarc.xn--bcher-kva.de");
  EXPECT_EQ(*normalize_host_name("localhost"), "localhost");
  struct Bad {
    const char* name;
    const char* error;
  };
  const Bad bad[] = {
      {"", "empty name"},
      {".", "empty name"},
      {"a..b", "empty label"},
      {".a", "empty label"},
      {"b\xc3\xbc"
       "cher.de",
       "non-ASCII"},
      {"a b.org", "invalid character ' '"},
      {"a/b.org", "invalid character '/'"},
      {"1.2.3.4", "is numeric"},
      {"x.123", "is numeric"},
  };
  for (const Bad& b : bad) {
    Result<std::string> r = normalize_host_name(b.name);
    ASSERT_FALSE(r.ok()) << b.name;
    EXPECT_NE(r.error().message.find(b.error), std::string::npos) << r.error().message;
  }
  EXPECT_NE(normalize_host_name(std::string(64, 'a') + ".org").error().message.find("too long"),
            std::string::npos);
  const std::string l63(63, 'a');
  EXPECT_TRUE(normalize_host_name(l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b')).ok());
  EXPECT_NE(normalize_host_name(l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b'))
                .error()
                .message.find("name too long"),
            std::string::npos);
}

}  // namespace
}  // namespace moat::gate
