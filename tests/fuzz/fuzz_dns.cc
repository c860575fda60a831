// libFuzzer target: arbitrary bytes as a DNS query (UDP and TCP-framed) through parse and build,
// and as allow-rule / address / host-name text. Built with MOAT_FUZZ_DNS_SEEDS it writes the seeds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "sandboxd/gate/allowlist.h"
#include "sandboxd/gate/dns_message.h"

namespace {

using moat::gate::DnsAnswer;
using moat::gate::DnsQuery;
using moat::gate::DnsRcode;

#ifndef MOAT_FUZZ_DNS_SEEDS

uint16_t get16(const std::vector<uint8_t>& b, size_t off) {
  return static_cast<uint16_t>((b[off] << 8) | b[off + 1]);
}

void check_query(std::span<const uint8_t> bytes) {
  moat::Result<DnsQuery> q = moat::gate::parse_dns_query(bytes);
  if (!q) {
    const std::vector<uint8_t> err = moat::gate::build_dns_error(bytes, DnsRcode::kFormErr);
    MOAT_FUZZ_CHECK(err.empty() || err.size() == moat::gate::kDnsHeaderSize);
    return;
  }
  MOAT_FUZZ_CHECK(q->questions.size() == 1);
  const moat::gate::DnsQuestion& question = q->questions[0];
  MOAT_FUZZ_CHECK(question.name.size() <= moat::gate::kDnsMaxNameLength);
  MOAT_FUZZ_CHECK(question.name.size() == question.original_name.size());
  MOAT_FUZZ_CHECK(q->edns_udp_size >= 512);

  DnsAnswer answer;
  const size_t n = bytes.size() % 64;  // vary the answer count with the input
  for (size_t i = 0; i < n; ++i) {
    answer.a.push_back({10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)});
    answer.aaaa.push_back(
        {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(i)});
  }
  const size_t limits[] = {0, 12, 100, moat::gate::dns_udp_response_limit(*q), 65535};
  for (size_t limit : limits) {
    for (DnsRcode rcode : {DnsRcode::kNoError, DnsRcode::kNxDomain}) {
      const std::vector<uint8_t> r = moat::gate::build_dns_response(*q, rcode, answer, limit);
      MOAT_FUZZ_CHECK(r.size() >= 12 && r.size() <= std::max<size_t>(limit, 12));
      MOAT_FUZZ_CHECK(get16(r, 0) == q->id);
      MOAT_FUZZ_CHECK((r[2] & 0x80) != 0);
    }
  }
  // Round trip: our NXDOMAIN (no answers) with QR cleared is a query for the same name again.
  std::vector<uint8_t> again =
      moat::gate::build_dns_response(*q, DnsRcode::kNxDomain, answer, 65535);
  again[2] &= 0x7F;
  moat::Result<DnsQuery> reparsed = moat::gate::parse_dns_query(again);
  MOAT_FUZZ_CHECK(reparsed.ok());
  MOAT_FUZZ_CHECK(reparsed->questions[0].original_name == question.original_name);
  MOAT_FUZZ_CHECK(reparsed->questions[0].qtype == question.qtype);
  MOAT_FUZZ_CHECK(reparsed->has_edns == q->has_edns);
}

void check_text(std::string_view text) {
  (void)moat::gate::normalize_host_name(text);
  moat::Result<moat::gate::IpAddress> addr = moat::gate::IpAddress::parse(text);
  if (addr) {
    moat::Result<moat::gate::IpAddress> back = moat::gate::IpAddress::parse(addr->to_string());
    MOAT_FUZZ_CHECK(back.ok() && *back == *addr);
  }
  moat::Result<moat::gate::AllowRule> rule = moat::gate::parse_allow_rule(text, "fuzz");
  moat::gate::Allowlist list;
  if (rule) list.add(std::move(*rule));
  const moat::gate::TimePoint now{};
  if (list.match_name(text) != nullptr) {
    list.record_resolution(text, {moat::gate::IpAddress::v4({93, 184, 216, 34})}, 0, now);
  }
  if (addr) (void)list.check_connect(*addr, 443, now);
  (void)list.check_connect(moat::gate::IpAddress::v4({93, 184, 216, 34}), 443, now);
}

#endif

}  // namespace

#ifndef MOAT_FUZZ_DNS_SEEDS

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  check_query(bytes);
  moat::gate::DnsTcpDeframer deframer;
  if (deframer.feed(bytes).ok()) {
    std::vector<uint8_t> message;
    while (deframer.next(message)) check_query(message);
  }
  check_text(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

#else  // the seed generator: fuzz_dns_seeds DIR

namespace {

std::vector<uint8_t> make_query(uint16_t id, std::string_view name, uint16_t qtype, bool edns) {
  std::vector<uint8_t> b = {
      static_cast<uint8_t>(id >> 8),     static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0,
      static_cast<uint8_t>(edns ? 1 : 0)};
  while (!name.empty()) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    b.push_back(static_cast<uint8_t>(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  b.insert(b.end(), {0, static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
  if (edns) b.insert(b.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0});
  return b;
}

bool write_seed(const std::string& dir, const std::string& name, std::span<const uint8_t> bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return out.good();
}

bool write_text(const std::string& dir, const std::string& name, std::string_view text) {
  return write_seed(dir, name,
                    std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  bool ok = true;
  const std::vector<uint8_t> a = make_query(0x1234, "Example.ORG", 1, false);
  const std::vector<uint8_t> aaaa = make_query(0x4321, "registry.example.test", 28, true);
  ok &= write_seed(dir, "query-a", a);
  ok &= write_seed(dir, "query-aaaa-edns", aaaa);
  ok &= write_seed(dir, "query-txt", make_query(7, "_dmarc.example.org", 16, true));
  // A compressed name in the additional section (pointer back to the question).
  std::vector<uint8_t> compressed = make_query(8, "a.example.org", 1, false);
  compressed[11] = 1;
  compressed.insert(compressed.end(), {0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 0, 0, 1, 0});
  ok &= write_seed(dir, "query-compressed", compressed);
  DnsAnswer answer;
  answer.a = {{93, 184, 216, 34}};
  answer.aaaa = {
      {0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0, 1, 0x2, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19, 0x46}};
  for (const auto* q : {&a, &aaaa}) {
    moat::Result<DnsQuery> parsed = moat::gate::parse_dns_query(*q);
    if (!parsed) return 1;
    const std::vector<uint8_t> r =
        moat::gate::build_dns_response(*parsed, DnsRcode::kNoError, answer, 512);
    ok &= write_seed(dir, q == &a ? "response-a" : "response-aaaa", r);
  }
  moat::Result<std::vector<uint8_t> > framed = moat::gate::frame_dns_tcp(aaaa);
  if (!framed) return 1;
  ok &= write_seed(dir, "tcp-query", *framed);
  ok &= write_text(dir, "rule-wildcard", "*.example.org:443");
  ok &= write_text(dir, "rule-cidr6", "[2001:db8::/32]:443");
  ok &= write_text(dir, "rule-static", "db.internal:5432=10.77.0.2");
  ok &= write_text(dir, "rule-mapped", "::ffff:127.0.0.1");
  return ok ? 0 : 1;
}

#endif
