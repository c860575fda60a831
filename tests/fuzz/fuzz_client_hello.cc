// libFuzzer target: arbitrary bytes as a client's first bytes, through parse_client_hello.
// Checks, besides memory safety, that a verdict never depends on where the bytes were split.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "sandboxd/gate/tls_client_hello.h"
#include "tests/fuzz/prefix_lengths.h"

namespace {

using moat::gate::ClientHelloResult;
using moat::gate::HelloDefect;
using moat::gate::ParseState;

void check(bool ok) {
  if (!ok) std::abort();
}

// Each prefix is either still kNeedMore, with a hint that does not overshoot when the whole input
// turned out to be a complete hello, or already the whole input's verdict.
void check_prefix(std::span<const uint8_t> all, const ClientHelloResult& full, size_t len) {
  const ClientHelloResult r = moat::gate::parse_client_hello(all.first(len));
  if (r.state == ParseState::kNeedMore) {
    check(r.bytes_needed_hint >= 1);
    if (full.state == ParseState::kDone) check(len + r.bytes_needed_hint <= all.size());
    return;
  }
  check(r.state == full.state && r.defect == full.defect);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> all(data, size);
  const ClientHelloResult full = moat::gate::parse_client_hello(all);

  if (full.state == ParseState::kDone) {
    check(full.error.empty() && full.defect == HelloDefect::kNone);
    if (full.info.sni) {
      check(moat::gate::check_dns_host_name(*full.info.sni, nullptr) == HelloDefect::kNone);
      for (char c : *full.info.sni) check(!(c >= 'A' && c <= 'Z'));
    }
    for (const auto& p : full.info.alpn) check(!p.empty() && p.size() <= 255);
  } else if (full.state == ParseState::kNeedMore) {
    check(full.bytes_needed_hint >= 1);
  } else {
    check(full.state == ParseState::kNotTls || full.state == ParseState::kMalformed);
    check(!full.error.empty() && full.defect != HelloDefect::kNone);
    (void)moat::gate::to_error(full).to_string();
  }

  for_each_prefix_length(data, size, [&](size_t len) { check_prefix(all, full, len); });
  return 0;
}
