// Unit tests for the TLS ClientHello parser: a real OpenSSL capture, every split, and hand-built
// hellos for each way an attacker could make the gate and the server read different names.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/gate/tls_client_hello.h"

namespace moat::gate {
namespace {

using Bytes = std::vector<uint8_t>;

// `openssl s_client -servername example.org -connect 127.0.0.1:PORT` (OpenSSL 3.0.19), the first
// 317 bytes it sent: one handshake record holding a 308-byte ClientHello with SNI example.org.
const uint8_t kOpensslHello[] = {
    0x16, 0x03, 0x01, 0x01, 0x38, 0x01, 0x00, 0x01, 0x34, 0x03, 0x03, 0x67, 0xe9, 0x44, 0xd5, 0x1d,
    0x51, 0xf2, 0xdf, 0x94, 0x13, 0x2f, 0xc4, 0x8c, 0x54, 0x5b, 0x4b, 0x54, 0x6c, 0x4a, 0x84, 0xe9,
    0xc0, 0xae, 0xda, 0x68, 0x27, 0xa1, 0xf2, 0x84, 0x19, 0x37, 0xe1, 0x20, 0x60, 0x74, 0x0f, 0x55,
    0xcf, 0x80, 0xba, 0x9c, 0xf5, 0x25, 0x1a, 0xfd, 0x65, 0x77, 0x0d, 0xc1, 0xa9, 0x4b, 0x42, 0x41,
    0x4a, 0x05, 0xd4, 0xc1, 0xf1, 0x78, 0x00, 0x0f, 0x6d, 0xdb, 0x61, 0x4a, 0x00, 0x3e, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
    0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27,
    0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d,
    0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xad,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x2e, 0x6f, 0x72, 0x67, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
    0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01,
    0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17,
    0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07,
    0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01,
    0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02,
    0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00,
    0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x2f, 0x91, 0x3b,
    0xaf, 0x45, 0x47, 0x26, 0xff, 0x8b, 0x1a, 0x40, 0x79, 0x54, 0xfb, 0x76, 0x14, 0xfa, 0x75, 0x91,
    0x04, 0x27, 0x2a, 0xdd, 0x54, 0x50, 0x10, 0x3c, 0xeb, 0x17, 0x90, 0xda, 0x62,
};

std::span<const uint8_t> span_of(const Bytes& b) { return b; }

// --- A small ClientHello builder --------------------------------------------------------------

void put16(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put24(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 16));
  put16(out, v & 0xffff);
}
void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }
void append(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }

Bytes extension(uint16_t type, const Bytes& data) {
  Bytes out;
  put16(out, type);
  put16(out, data.size());
  append(out, data);
  return out;
}

// server_name with one host_name entry per name (type 0), or `type` for all entries.
Bytes sni_ext(const std::vector<std::string>& names, uint8_t type = 0) {
  Bytes list;
  for (const auto& n : names) {
    list.push_back(type);
    put16(list, n.size());
    append(list, n);
  }
  Bytes data;
  put16(data, list.size());
  append(data, list);
  return extension(0, data);
}

Bytes alpn_ext(const std::vector<std::string>& protocols) {
  Bytes list;
  for (const auto& p : protocols) {
    list.push_back(static_cast<uint8_t>(p.size()));
    append(list, p);
  }
  Bytes data;
  put16(data, list.size());
  append(data, list);
  return extension(16, data);
}

// ClientHello body: TLS 1.2 legacy_version, zero random, 32-byte session id, two suites, null
// compression, then the extensions block (omitted entirely when `with_extensions` is false).
Bytes hello_body(const std::vector<Bytes>& exts, bool with_extensions = true) {
  Bytes body;
  put16(body, 0x0303);
  body.insert(body.end(), 32, 0x00);
  body.push_back(32);
  body.insert(body.end(), 32, 0xab);
  put16(body, 4);
  put16(body, 0x1301);
  put16(body, 0xc02f);
  body.push_back(1);
  body.push_back(0);
  if (with_extensions) {
    Bytes all;
    for (const auto& e : exts) append(all, e);
    put16(body, all.size());
    append(body, all);
  }
  return body;
}

Bytes handshake(const Bytes& body, uint8_t type = 1) {
  Bytes out{type};
  put24(out, body.size());
  append(out, body);
  return out;
}

// Wraps `message` in handshake records of at most `chunk` bytes each.
Bytes records(const Bytes& message, size_t chunk = 16384, uint8_t content_type = 22) {
  Bytes out;
  for (size_t pos = 0; pos < message.size(); pos += chunk) {
    const size_t n = std::min(chunk, message.size() - pos);
    out.push_back(content_type);
    put16(out, 0x0301);
    put16(out, n);
    out.insert(out.end(), message.begin() + pos, message.begin() + pos + n);
  }
  return out;
}

Bytes hello(const std::vector<Bytes>& exts) { return records(handshake(hello_body(exts))); }

ClientHelloResult parse(const Bytes& b) { return parse_client_hello(span_of(b)); }

// Every proper prefix is kNeedMore or already the final verdict; a kNeedMore hint never
// overshoots the bytes that were in fact still to come.
void expect_prefixes_consistent(const Bytes& wire) {
  const ClientHelloResult full = parse(wire);
  for (size_t len = 0; len < wire.size(); ++len) {
    const auto r = parse_client_hello(span_of(wire).first(len));
    if (r.state == ParseState::kNeedMore) {
      EXPECT_GE(r.bytes_needed_hint, 1u) << "prefix " << len;
      if (full.state == ParseState::kDone) {
        EXPECT_LE(len + r.bytes_needed_hint, wire.size()) << "prefix " << len;
      }
    } else {
      ASSERT_EQ(r.state, full.state) << "prefix " << len << ": " << r.error;
      EXPECT_EQ(r.defect, full.defect) << "prefix " << len;
    }
  }
}

// --- The real capture ---------------------------------------------------------------------

Bytes real_hello() { return Bytes(std::begin(kOpensslHello), std::end(kOpensslHello)); }

// The handshake message inside the capture's single record.
Bytes real_message() { return Bytes(std::begin(kOpensslHello) + 5, std::end(kOpensslHello)); }

TEST(ClientHello, RealOpensslCapture) {
  const auto r = parse(real_hello());
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.sni, "example.org");
  EXPECT_EQ(r.info.legacy_version, 0x0303);
  EXPECT_FALSE(r.info.has_ech);
  EXPECT_TRUE(r.info.alpn.empty());
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(r.defect, HelloDefect::kNone);
}

TEST(ClientHello, RealCaptureSplitAtEveryByte) {
  const Bytes wire = real_hello();
  for (size_t len = 0; len < wire.size(); ++len) {
    const auto r = parse_client_hello(span_of(wire).first(len));
    ASSERT_EQ(r.state, ParseState::kNeedMore) << "prefix " << len << ": " << r.error;
    EXPECT_GE(r.bytes_needed_hint, 1u);
    EXPECT_LE(len + r.bytes_needed_hint, wire.size()) << "hint overshoots at prefix " << len;
  }
  EXPECT_EQ(parse(wire).info.sni, "example.org");
  // Once the handshake header is in, the hint is exactly what is missing.
  EXPECT_EQ(parse_client_hello(span_of(wire).first(9)).bytes_needed_hint, wire.size() - 9);
}

TEST(ClientHello, HintStopsAtTheEndOfTheHello) {
  // The record is longer than the hello in it: the hint must not ask for the record's tail,
  // or a gate waiting for it would stall on a client that sent the whole hello.
  Bytes message = handshake(hello_body({sni_ext({"example.org"})}));
  const size_t hello_size = message.size();
  message.resize(hello_size + 50, 0);  // the record carries 50 more bytes than the hello
  const Bytes wire = records(message);
  const size_t hello_end = 5 + hello_size;
  for (size_t len = 0; len < hello_end; ++len) {
    const auto r = parse_client_hello(span_of(wire).first(len));
    ASSERT_EQ(r.state, ParseState::kNeedMore) << len;
    EXPECT_LE(len + r.bytes_needed_hint, hello_end) << len;
  }
  EXPECT_EQ(parse_client_hello(span_of(wire).first(hello_end)).info.sni, "example.org");
}

TEST(ClientHello, RealCaptureAcrossTwoRecordsAtEverySplit) {
  const Bytes message = real_message();
  for (size_t cut = 1; cut < message.size(); ++cut) {
    Bytes two;
    append(two, records(Bytes(message.begin(), message.begin() + cut)));
    append(two, records(Bytes(message.begin() + cut, message.end())));
    const auto r = parse(two);
    ASSERT_EQ(r.state, ParseState::kDone) << "cut " << cut << ": " << r.error;
    EXPECT_EQ(r.info.sni, "example.org") << "cut " << cut;
  }
  Bytes two = records(Bytes(message.begin(), message.begin() + 3));  // even the header splits
  append(two, records(Bytes(message.begin() + 3, message.end())));
  expect_prefixes_consistent(two);
  for (size_t len = 0; len < two.size(); ++len) {
    ASSERT_EQ(parse_client_hello(span_of(two).first(len)).state, ParseState::kNeedMore) << len;
  }
}

TEST(ClientHello, ManyTinyRecords) {
  const Bytes message = real_message();
  const auto r = parse(records(message, 1));
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.sni, "example.org");
}

TEST(ClientHello, BytesAfterTheHelloAreIgnored) {
  Bytes wire = real_hello();
  append(wire, Bytes{20, 3, 3, 0, 1, 1});  // a ChangeCipherSpec record, as TLS 1.3 middlebox mode
  append(wire, "GET / HTTP/1.1\r\n");
  const auto r = parse(wire);
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.sni, "example.org");
  // The next handshake message in the same record is not part of the ClientHello either.
  Bytes message = real_message();
  append(message, Bytes{2, 0, 0, 1, 0});
  EXPECT_EQ(parse(records(message)).info.sni, "example.org");
}

// --- Hand-built hellos ----------------------------------------------------------------------

TEST(ClientHello, NoSniExtension) {
  const auto r = parse(hello({alpn_ext({"h2"})}));
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_FALSE(r.info.sni.has_value());
  // A TLS 1.0-style hello without any extensions block at all.
  const auto bare = parse(records(handshake(hello_body({}, /*with_extensions=*/false))));
  ASSERT_EQ(bare.state, ParseState::kDone) << bare.error;
  EXPECT_FALSE(bare.info.sni.has_value());
}

TEST(ClientHello, SniIsLowercased) {
  const auto r = parse(hello({sni_ext({"WWW.Example.ORG"})}));
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.sni, "www.example.org");
}

TEST(ClientHello, TwoNamesInOneServerNameIsMalformed) {
  const auto r = parse(hello({sni_ext({"example.org", "evil.example"})}));
  EXPECT_EQ(r.state, ParseState::kMalformed);
  EXPECT_EQ(r.defect, HelloDefect::kBadServerName);
  EXPECT_FALSE(r.error.empty());
}

TEST(ClientHello, TwoServerNameExtensionsIsMalformed) {
  const auto r = parse(hello({sni_ext({"example.org"}), sni_ext({"evil.example"})}));
  EXPECT_EQ(r.state, ParseState::kMalformed);
  EXPECT_EQ(r.defect, HelloDefect::kDuplicateExtension);
}

TEST(ClientHello, NonHostNameTypeIsMalformed) {
  const auto r = parse(hello({sni_ext({"example.org"}, /*type=*/1)}));
  EXPECT_EQ(r.state, ParseState::kMalformed);
  EXPECT_EQ(r.defect, HelloDefect::kBadServerName);
}

TEST(ClientHello, EmptyServerNameIsMalformed) {
  EXPECT_EQ(parse(hello({extension(0, {})})).defect, HelloDefect::kBadServerName);
  EXPECT_EQ(parse(hello({extension(0, {0, 0})})).defect, HelloDefect::kBadServerName);
  EXPECT_EQ(parse(hello({sni_ext({""})})).defect, HelloDefect::kBadHostName);
}

TEST(ClientHello, IpLiteralSniIsMalformed) {
  for (const char* ip : {"192.0.2.1", "127.1", "2130706433", "0x7f000001", "0x7f.0.0.1"}) {
    const auto r = parse(hello({sni_ext({ip})}));
    EXPECT_EQ(r.state, ParseState::kMalformed) << ip;
    EXPECT_EQ(r.defect, HelloDefect::kIpLiteral) << ip;
  }
  // IPv6 literals are not LDH at all.
  for (const char* ip : {"::1", "[2001:db8::1]"}) {
    EXPECT_EQ(parse(hello({sni_ext({ip})})).defect, HelloDefect::kBadHostName) << ip;
  }
}

TEST(ClientHello, SniMustBeALdhDnsName) {
  const std::string label63(63, 'a');
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(name253.size(), 253u);
  for (const std::string& ok : {std::string("a"), std::string("xn--bcher-kva.example"),
                                std::string("a-b.c0.example"), std::string("123.example.org"),
                                std::string("0xcafe.example"), label63 + ".example", name253}) {
    const auto r = parse(hello({sni_ext({ok})}));
    EXPECT_EQ(r.state, ParseState::kDone) << ok << ": " << r.error;
  }
  for (const std::string& bad :
       {std::string("example.org."), std::string(".example.org"), std::string("a..b"),
        std::string("exa_mple.org"), std::string("-a.example"), std::string("a-.example"),
        std::string("a b.example"), std::string("example.org\0evil", 16),
        std::string("ex\xc3\xa4mple.org"), std::string("*.example.org"),
        std::string(64, 'a') + ".example", name253 + "c", std::string("a/b.example")}) {
    const auto r = parse(hello({sni_ext({bad})}));
    EXPECT_EQ(r.state, ParseState::kMalformed) << bad;
    EXPECT_EQ(r.defect, HelloDefect::kBadHostName) << bad;
    EXPECT_NE(r.error.find("SNI host_name is"), std::string::npos) << r.error;
  }
}

TEST(ClientHello, EchFlag) {
  const auto r = parse(hello({sni_ext({"public.example"}), extension(0xfe0d, {0, 1, 2, 3})}));
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_TRUE(r.info.has_ech);
  EXPECT_EQ(r.info.sni, "public.example");                           // the outer, public name only
  EXPECT_TRUE(parse(hello({extension(0xffce, {0})})).info.has_ech);  // legacy ESNI draft
  EXPECT_FALSE(parse(hello({sni_ext({"public.example"})})).info.has_ech);
}

TEST(ClientHello, AlpnList) {
  const auto r = parse(hello({sni_ext({"example.org"}), alpn_ext({"h2", "http/1.1"})}));
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(parse(hello({alpn_ext({"h2", ""})})).defect, HelloDefect::kBadAlpn);
  EXPECT_EQ(parse(hello({alpn_ext({})})).defect, HelloDefect::kBadAlpn);
  EXPECT_EQ(parse(hello({extension(16, {0, 5, 2, 'h', '2'})})).defect, HelloDefect::kBadAlpn);
}

TEST(ClientHello, TruncatedExtensions) {
  // Extensions block claims 4 bytes more than the message holds.
  Bytes body = hello_body({sni_ext({"example.org"})});
  const size_t ext_len_at = 2 + 32 + 1 + 32 + 2 + 4 + 2;
  body[ext_len_at + 1] += 4;
  auto r = parse(records(handshake(body)));
  EXPECT_EQ(r.state, ParseState::kMalformed);
  EXPECT_EQ(r.defect, HelloDefect::kBadBody);
  // One extension's length runs past the block.
  Bytes ext = sni_ext({"example.org"});
  ext[3] += 1;
  EXPECT_EQ(parse(hello({ext})).defect, HelloDefect::kBadBody);
  // The host_name length runs past the server_name list.
  ext = sni_ext({"example.org"});
  ext[8] += 1;
  EXPECT_EQ(parse(hello({ext})).defect, HelloDefect::kBadServerName);
  // The message stops right after the random.
  Bytes shortbody(body.begin(), body.begin() + 34);
  EXPECT_EQ(parse(records(handshake(shortbody))).defect, HelloDefect::kBadBody);
  // A session id over 32 bytes.
  body = hello_body({});
  body[34] = 33;
  EXPECT_EQ(parse(records(handshake(body))).defect, HelloDefect::kBadBody);
}

TEST(ClientHello, OversizedIsMalformed) {
  // Declared length over the cap: refused from the 4-byte header, without waiting for 64 KiB.
  Bytes wire{22, 3, 1, 0, 4, 1, 0x01, 0x00, 0x00};
  auto r = parse(wire);
  EXPECT_EQ(r.state, ParseState::kMalformed);
  EXPECT_EQ(r.defect, HelloDefect::kTooLarge);
  // Just under the cap is fine while incomplete...
  wire = {22, 3, 1, 0, 4, 1, 0x00, 0xff, 0xfc};
  EXPECT_EQ(parse(wire).state, ParseState::kNeedMore);
  // ...but the same hello chopped into 100-byte records passes the 64 KiB of wire bytes first.
  Bytes message = handshake(hello_body({extension(21, Bytes(65000, 0))}));
  r = parse(records(message, 100));
  EXPECT_EQ(r.defect, HelloDefect::kTooLarge);
  // A plaintext record over 2^14 bytes.
  wire = {22, 3, 1, 0x40, 0x01};
  EXPECT_EQ(parse(wire).defect, HelloDefect::kRecordLength);
  // A large but legal hello (a 60 000-byte padding extension) in max-size records.
  message = handshake(hello_body({sni_ext({"example.org"}), extension(21, Bytes(60000, 0))}));
  r = parse(records(message));
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.sni, "example.org");
}

TEST(ClientHello, RecordLayerViolations) {
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0, 0}).defect, HelloDefect::kRecordLength);  // empty record
  EXPECT_EQ(parse(Bytes{22, 2, 0, 0, 1}).defect, HelloDefect::kRecordVersion);
  EXPECT_EQ(parse(Bytes{22, 4}).defect, HelloDefect::kRecordVersion);
  // An alert record between two fragments of the hello.
  const Bytes message = real_message();
  Bytes wire = records(Bytes(message.begin(), message.begin() + 10));
  append(wire, Bytes{21, 3, 3, 0, 2, 1, 0});
  append(wire, records(Bytes(message.begin() + 10, message.end())));
  EXPECT_EQ(parse(wire).defect, HelloDefect::kInterleavedRecord);
  // The first handshake message is a ServerHello.
  EXPECT_EQ(parse(records(handshake(hello_body({}), 2))).defect, HelloDefect::kNotClientHello);
}

TEST(ClientHello, NotTls) {
  const std::string http = "GET / HTTP/1.1\r\n";
  auto r = parse(Bytes(http.begin(), http.end()));
  EXPECT_EQ(r.state, ParseState::kNotTls);
  EXPECT_EQ(r.defect, HelloDefect::kNotHandshakeRecord);
  EXPECT_EQ(parse(Bytes{0x17, 3, 3, 0, 1, 0}).state, ParseState::kNotTls);  // application data
  EXPECT_EQ(parse(Bytes{}).state, ParseState::kNeedMore);
}

TEST(ClientHello, Sslv2CompatibleHelloIsMalformed) {
  // SSLv2 record header (0x80 | len), CLIENT-HELLO (1), version 3.1, cipher spec, ...
  const Bytes v2{0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10};
  auto r = parse(v2);
  EXPECT_EQ(r.state, ParseState::kMalformed);
  EXPECT_EQ(r.defect, HelloDefect::kSslv2Hello);
  EXPECT_EQ(parse(Bytes{0x80, 0x2e}).state, ParseState::kNeedMore);
  EXPECT_EQ(parse(Bytes{0x80, 0x2e, 0x05}).state, ParseState::kNotTls);
}

TEST(ClientHello, VerdictsDoNotDependOnSplits) {
  for (const Bytes& wire :
       {hello({sni_ext({"example.org", "b.example"})}), hello({sni_ext({"10.0.0.1"})}),
        records(handshake(hello_body({}, false)), 7), Bytes{22, 3, 1, 0x40, 0x01, 1, 2},
        Bytes{0x80, 0x2e, 0x01, 0x03}, hello({alpn_ext({"h2"}), extension(0xfe0d, {1})})}) {
    expect_prefixes_consistent(wire);
  }
}

TEST(ClientHello, ToError) {
  const auto r = parse(hello({sni_ext({"10.0.0.1"})}));
  const Error e = to_error(r);
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(e.message.find("malformed"), std::string::npos);
  EXPECT_FALSE(e.hint.empty());
  EXPECT_STREQ(parse_state_name(ParseState::kNotTls), "not-tls");
}

}  // namespace
}  // namespace moat::gate
