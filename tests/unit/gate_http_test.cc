// Unit tests for the HTTP/1.x request-head parser: Host extraction, every split, and each way a
// request could name one host to the gate and another to the server.
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "sandboxd/gate/http_request_head.h"

namespace moat::gate {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

HttpHeadResult parse(std::string_view s) { return parse_http_request_head(bytes(s)); }

// Asserts kMalformed with `defect`, and that the error says something.
void expect_malformed(std::string_view request, HttpDefect defect) {
  const auto r = parse(request);
  EXPECT_EQ(r.state, ParseState::kMalformed) << request;
  EXPECT_EQ(r.defect, defect) << request << " -> " << r.error;
  EXPECT_FALSE(r.error.empty());
}

// Every proper prefix is kNeedMore or already the final verdict (same state, same defect).
void expect_prefixes_consistent(std::string_view request) {
  const auto full = parse(request);
  for (size_t len = 0; len < request.size(); ++len) {
    const auto r = parse(request.substr(0, len));
    if (r.state != ParseState::kNeedMore) {
      ASSERT_EQ(r.state, full.state) << "prefix " << len << " of " << request << ": " << r.error;
      EXPECT_EQ(r.defect, full.defect) << "prefix " << len << " of " << request;
    }
  }
}

constexpr std::string_view kSimple =
    "GET /index.html?q=1 HTTP/1.1\r\n"
    "Host: Example.ORG\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "\r\n";

TEST(HttpHead, SimpleGet) {
  const auto r = parse(kSimple);
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.method, "GET");
  EXPECT_EQ(r.info.target, "/index.html?q=1");
  EXPECT_EQ(r.info.host, "example.org");
  EXPECT_FALSE(r.info.port.has_value());
  EXPECT_EQ(r.info.minor_version, 1);
  EXPECT_EQ(r.info.head_length, kSimple.size());
  EXPECT_FALSE(r.info.content_length.has_value());
  EXPECT_FALSE(r.info.chunked);
  EXPECT_FALSE(r.info.upgrade);
  EXPECT_TRUE(r.error.empty());
}

TEST(HttpHead, SplitAtEveryBoundary) {
  for (size_t len = 0; len < kSimple.size(); ++len) {
    const auto r = parse(kSimple.substr(0, len));
    ASSERT_EQ(r.state, ParseState::kNeedMore) << "prefix " << len << ": " << r.error;
  }
  // The body (and a pipelined second request) after the head changes nothing.
  const std::string with_body =
      std::string(kSimple) + "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n";
  const auto r = parse(with_body);
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.host, "example.org");
  EXPECT_EQ(r.info.head_length, kSimple.size());
}

TEST(HttpHead, HostWithPort) {
  auto r = parse("GET / HTTP/1.1\r\nHost: api.example.org:8443\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.host, "api.example.org");
  EXPECT_EQ(r.info.port, 8443);
  r = parse("GET / HTTP/1.1\r\nHost:\t example.org:80 \t\r\n\r\n");  // OWS around the value
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.port, 80);
  r = parse("GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.host, "[2001:db8::1]");
  EXPECT_EQ(r.info.port, 8080);
  r = parse("GET / HTTP/1.1\r\nHost: 192.0.2.7\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.host, "192.0.2.7");
  for (const char* bad : {"example.org:", "example.org:0", "example.org:65536", "example.org:80:80",
                          "example.org:+80", "user@example.org", "evil.example@example.org",
                          "example.org.", "exa mple.org", "127.1", "010.0.0.1", "[::1", "[::1]x",
                          "[fe80::1%25eth0]", "example.org/x"}) {
    expect_malformed("GET / HTTP/1.1\r\nHost: " + std::string(bad) + "\r\n\r\n",
                     HttpDefect::kBadHost);
  }
}

TEST(HttpHead, AbsoluteFormAgreeing) {
  auto r = parse("GET http://Example.org/a?b HTTP/1.1\r\nHost: example.org\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.host, "example.org");
  EXPECT_EQ(r.info.target, "http://Example.org/a?b");
  // Default port on either side agrees with an explicit :80 on the other.
  EXPECT_EQ(parse("GET http://example.org:80/ HTTP/1.1\r\nHost: example.org\r\n\r\n").state,
            ParseState::kDone);
  EXPECT_EQ(parse("GET http://example.org HTTP/1.1\r\nHost: example.org:80\r\n\r\n").state,
            ParseState::kDone);
  EXPECT_EQ(parse("GET https://example.org/ HTTP/1.1\r\nHost: example.org:443\r\n\r\n").state,
            ParseState::kDone);
}

TEST(HttpHead, AbsoluteFormDisagreeing) {
  expect_malformed("GET http://evil.example/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
                   HttpDefect::kHostMismatch);
  expect_malformed("GET http://example.org:8080/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
                   HttpDefect::kHostMismatch);
  expect_malformed("GET https://example.org/ HTTP/1.1\r\nHost: example.org:80\r\n\r\n",
                   HttpDefect::kHostMismatch);
  expect_malformed("GET http://example.org@evil.example/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
                   HttpDefect::kBadHost);
  expect_malformed("GET ftp://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
                   HttpDefect::kBadRequestLine);
  expect_malformed("GET example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
                   HttpDefect::kBadRequestLine);
}

TEST(HttpHead, DuplicateHostIsMalformed) {
  expect_malformed("GET / HTTP/1.1\r\nHost: example.org\r\nHost: evil.example\r\n\r\n",
                   HttpDefect::kDuplicateHost);
  expect_malformed("GET / HTTP/1.1\r\nHost: example.org\r\nhOST: example.org\r\n\r\n",
                   HttpDefect::kDuplicateHost);
  // Refused as soon as the second Host line is complete, before the head ends.
  const auto r = parse("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n");
  EXPECT_EQ(r.defect, HttpDefect::kDuplicateHost);
}

TEST(HttpHead, MissingHost) {
  expect_malformed("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", HttpDefect::kMissingHost);
  expect_malformed("GET / HTTP/1.1\r\nHost:\r\n\r\n", HttpDefect::kMissingHost);
  expect_malformed("GET / HTTP/1.1\r\nHost:   \r\n\r\n", HttpDefect::kMissingHost);
  auto r = parse("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.minor_version, 0);
  EXPECT_EQ(r.info.host, "");
  // HTTP/1.0 with an absolute target: the server goes by the target, so the gate does too.
  r = parse("GET http://example.org:8080/ HTTP/1.0\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.host, "example.org");
  EXPECT_EQ(r.info.port, 8080);
}

TEST(HttpHead, ConnectIsRefused) {
  expect_malformed("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n",
                   HttpDefect::kConnect);
  EXPECT_EQ(parse("CONNECT ").defect, HttpDefect::kConnect);  // no need to wait for more
}

TEST(HttpHead, ObsFoldIsMalformed) {
  expect_malformed("GET / HTTP/1.1\r\nHost: example.org\r\nX-A: 1\r\n  evil\r\n\r\n",
                   HttpDefect::kObsFold);
  expect_malformed("GET / HTTP/1.1\r\n Host: evil.example\r\nHost: example.org\r\n\r\n",
                   HttpDefect::kObsFold);
  expect_malformed("GET / HTTP/1.1\r\nHost: example.org\r\n\tx\r\n\r\n", HttpDefect::kObsFold);
}

TEST(HttpHead, LineEndingsAndControlBytes) {
  expect_malformed("GET / HTTP/1.1\nHost: example.org\r\n\r\n", HttpDefect::kBadLineEnding);
  expect_malformed("GET / HTTP/1.1\r\nHost: example.org\n\r\n", HttpDefect::kBadLineEnding);
  expect_malformed("GET / HTTP/1.1\r\nHost: example.org\r\n\n", HttpDefect::kBadLineEnding);
  expect_malformed("GET / HTTP/1.1\r\nHost: example.org\rX: y\r\n\r\n", HttpDefect::kBadLineEnding);
  expect_malformed("\r\nGET / HTTP/1.1\r\nHost: example.org\r\n\r\n", HttpDefect::kBadLineEnding);
  expect_malformed(std::string_view("GET / HTTP/1.1\r\nHost: example.org\0.evil\r\n\r\n", 44),
                   HttpDefect::kBadHeaderValue);
  expect_malformed(std::string_view("GET / HTTP/1.1\r\nX: a\0b\r\nHost: example.org\r\n\r\n", 44),
                   HttpDefect::kBadHeaderValue);
  expect_malformed("GET / HTTP/1.1\r\nHost: example.org\r\nX: a\x7f\r\n\r\n",
                   HttpDefect::kBadHeaderValue);
  expect_malformed(std::string_view("GET /\0 HTTP/1.1\r\nHost: example.org\r\n\r\n", 39),
                   HttpDefect::kBadRequestLine);
}

TEST(HttpHead, HeaderNames) {
  expect_malformed("GET / HTTP/1.1\r\nHost : evil.example\r\nHost: example.org\r\n\r\n",
                   HttpDefect::kBadHeaderName);
  expect_malformed("GET / HTTP/1.1\r\nX Y: 1\r\nHost: example.org\r\n\r\n",
                   HttpDefect::kBadHeaderName);
  expect_malformed("GET / HTTP/1.1\r\n: x\r\nHost: example.org\r\n\r\n",
                   HttpDefect::kBadHeaderName);
  expect_malformed("GET / HTTP/1.1\r\nHost example.org\r\n\r\n", HttpDefect::kBadHeaderName);
}

TEST(HttpHead, RequestLine) {
  expect_malformed("GET  / HTTP/1.1\r\nHost: example.org\r\n\r\n", HttpDefect::kBadRequestLine);
  expect_malformed("GET / HTTP/1.1 \r\nHost: example.org\r\n\r\n", HttpDefect::kBadRequestLine);
  expect_malformed("GET /\r\n\r\n", HttpDefect::kBadRequestLine);  // HTTP/0.9
  expect_malformed("GET / HTTP/2.0\r\nHost: example.org\r\n\r\n", HttpDefect::kBadVersion);
  expect_malformed("GET / http/1.1\r\nHost: example.org\r\n\r\n", HttpDefect::kBadVersion);
  expect_malformed("GET * HTTP/1.1\r\nHost: example.org\r\n\r\n", HttpDefect::kBadRequestLine);
  expect_malformed("GET /\xff HTTP/1.1\r\nHost: example.org\r\n\r\n", HttpDefect::kBadRequestLine);
  const auto r = parse("OPTIONS * HTTP/1.1\r\nHost: example.org\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.target, "*");
}

TEST(HttpHead, Http2PriorKnowledgePreface) {
  constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  auto r = parse(kPreface);
  EXPECT_EQ(r.state, ParseState::kHttp2);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(parse(kPreface.substr(0, 16)).state, ParseState::kHttp2);  // the line is enough
  for (size_t len = 0; len < 16; ++len) {
    EXPECT_EQ(parse(kPreface.substr(0, len)).state, ParseState::kNeedMore) << len;
  }
}

TEST(HttpHead, NotHttp) {
  for (std::string_view s :
       {std::string_view("\x16\x03\x01\x01\x38", 5), std::string_view("SSH-2.0-OpenSSH_9.2p1\r\n"),
        std::string_view("*1\r\n$4\r\nPING\r\n"), std::string_view(" GET / HTTP/1.1\r\n"),
        std::string_view("GET/ HTTP/1.1\r\n"),
        std::string_view("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1\r\n")}) {
    const auto r = parse(s);
    EXPECT_EQ(r.state, ParseState::kNotHttp) << s;
    EXPECT_EQ(r.defect, HttpDefect::kNotRequestLine) << s;
  }
  EXPECT_EQ(parse("").state, ParseState::kNeedMore);
  EXPECT_EQ(parse("GE").state, ParseState::kNeedMore);
}

TEST(HttpHead, TooLarge) {
  std::string big = "GET / HTTP/1.1\r\nHost: example.org\r\nX: ";
  big.append(kMaxHttpHeadBytes, 'a');
  big += "\r\n\r\n";
  expect_malformed(big, HttpDefect::kTooLarge);
  expect_malformed(std::string_view(big).substr(0, kMaxHttpHeadBytes), HttpDefect::kTooLarge);
  EXPECT_EQ(parse(std::string_view(big).substr(0, kMaxHttpHeadBytes - 1)).state,
            ParseState::kNeedMore);
  // Exactly at the cap is accepted.
  std::string fits = "GET / HTTP/1.1\r\nHost: example.org\r\nX: ";
  fits.append(kMaxHttpHeadBytes - fits.size() - 4, 'a');
  fits += "\r\n\r\n";
  ASSERT_EQ(fits.size(), kMaxHttpHeadBytes);
  EXPECT_EQ(parse(fits).state, ParseState::kDone);
}

TEST(HttpHead, BodyFraming) {
  auto r = parse("POST /x HTTP/1.1\r\nHost: example.org\r\nContent-Length: 42\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_EQ(r.info.content_length, 42u);
  r = parse("POST /x HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_TRUE(r.info.chunked);
  expect_malformed(
      "POST /x HTTP/1.1\r\nHost: example.org\r\nContent-Length: 4\r\nTransfer-Encoding: "
      "chunked\r\n\r\n",
      HttpDefect::kBadFraming);
  expect_malformed(
      "POST /x HTTP/1.1\r\nHost: example.org\r\nContent-Length: 4\r\nContent-Length: "
      "5\r\n\r\n",
      HttpDefect::kBadFraming);
  expect_malformed("POST /x HTTP/1.1\r\nHost: example.org\r\nContent-Length: 4, 4\r\n\r\n",
                   HttpDefect::kBadFraming);
  expect_malformed("POST /x HTTP/1.1\r\nHost: example.org\r\nContent-Length: -1\r\n\r\n",
                   HttpDefect::kBadFraming);
  expect_malformed(
      "POST /x HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked, "
      "identity\r\n\r\n",
      HttpDefect::kBadFraming);
  expect_malformed("POST /x HTTP/1.0\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\n\r\n",
                   HttpDefect::kBadFraming);
}

TEST(HttpHead, UpgradeIsReported) {
  const auto r =
      parse("GET / HTTP/1.1\r\nHost: example.org\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.error;
  EXPECT_TRUE(r.info.upgrade);
}

TEST(HttpHead, VerdictsDoNotDependOnSplits) {
  for (std::string_view s : {
           "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
           "GET http://evil.example/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: example.org\rX\r\n\r\n",
           "CONNECT example.org:443 HTTP/1.1\r\n\r\n",
           "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
           "GET / HTTP/1.1\r\n\tfold\r\n\r\n",
           "SSH-2.0-OpenSSH_9.2p1\r\n",
       }) {
    expect_prefixes_consistent(s);
  }
}

TEST(HttpHead, ToError) {
  const Error e = to_error(parse("CONNECT x:1 HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(e.message.find("CONNECT"), std::string::npos);
  EXPECT_STREQ(parse_state_name(ParseState::kHttp2), "http2-preface");
}

}  // namespace
}  // namespace moat::gate
