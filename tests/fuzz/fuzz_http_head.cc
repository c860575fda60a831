// libFuzzer target: arbitrary bytes as a client's first bytes, through parse_http_request_head.
// Checks, besides memory safety, that a verdict never depends on where the bytes were split.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "sandboxd/gate/http_request_head.h"
#include "tests/fuzz/prefix_lengths.h"

namespace {

using moat::gate::HttpDefect;
using moat::gate::HttpHeadResult;
using moat::gate::ParseState;

void check(bool ok) {
  if (!ok) std::abort();
}

// Each prefix is either still kNeedMore or already the whole input's verdict.
void check_prefix(std::span<const uint8_t> all, const HttpHeadResult& full, size_t len) {
  const HttpHeadResult r = moat::gate::parse_http_request_head(all.first(len));
  if (r.state == ParseState::kNeedMore) {
    check(full.state != ParseState::kDone || len < full.info.head_length);
    return;
  }
  check(r.state == full.state && r.defect == full.defect);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> all(data, size);
  const HttpHeadResult full = moat::gate::parse_http_request_head(all);

  if (full.state == ParseState::kDone) {
    const auto& info = full.info;
    check(full.error.empty() && full.defect == HttpDefect::kNone);
    check(info.head_length >= 4 && info.head_length <= size &&
          info.head_length <= moat::gate::kMaxHttpHeadBytes);
    const std::string_view head(reinterpret_cast<const char*>(data), info.head_length);
    check(head.substr(head.size() - 4) == "\r\n\r\n");
    check(head.find("\r\n\r\n") == head.size() - 4);  // the first blank line, not a later one
    check(info.method != "CONNECT" && !info.method.empty());
    check(info.minor_version == 0 || info.minor_version == 1);
    check(info.minor_version == 0 || !info.host.empty());
    for (char c : info.host) check(!(c >= 'A' && c <= 'Z'));
    check(!info.port || *info.port != 0);
    check(!(info.chunked && info.content_length));
  } else if (full.state != ParseState::kNeedMore) {
    check(full.state == ParseState::kNotHttp || full.state == ParseState::kHttp2 ||
          full.state == ParseState::kMalformed);
    check(!full.error.empty() && full.defect != HttpDefect::kNone);
    (void)moat::gate::to_error(full).to_string();
  }

  for_each_prefix_length(data, size, [&](size_t len) { check_prefix(all, full, len); });
  return 0;
}
