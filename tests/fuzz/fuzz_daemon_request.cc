// libFuzzer target: arbitrary bytes as a sandboxd request (sandboxd/daemon/protocol.h), with a
// fuzzed descriptor count and truncation flag. Invariants: exactly one of request / error; a
// request came from exactly sizeof(RequestWire) bytes (plus a valid name for kBindName) and
// encodes back to them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_check.h"
#include "sandboxd/daemon/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::size_t fds = data[0] & 3;
  const bool truncated = (data[0] & 4) != 0;
  const uint8_t* body = data + 1;
  const std::size_t body_size = size - 1;
  using namespace moat::daemon;
  Parsed p = parse_request(body, body_size, fds, truncated);
  MOAT_FUZZ_CHECK(p.request.has_value() != p.error.has_value());
  if (p.request) {
    const bool bind = p.request->op == Op::kBindName;
    MOAT_FUZZ_CHECK(!truncated && body_size == sizeof(RequestWire) + p.request->name.size());
    MOAT_FUZZ_CHECK(bind ? !p.request->name.empty() && p.request->name.size() <= kMaxBoundName
                         : p.request->name.empty());
    for (char c : p.request->name) {
      MOAT_FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
    }
    MOAT_FUZZ_CHECK(fds == (p.request->op == Op::kRegister || bind ? 1u : 0u));
    const std::string again = encode_message(*p.request);
    MOAT_FUZZ_CHECK(again.size() == body_size && std::memcmp(again.data(), body, body_size) == 0);
  } else {
    ReplyWire r = make_reply(p.error->status, p.error->message);
    MOAT_FUZZ_CHECK(valid_reply(&r, sizeof r));
    MOAT_FUZZ_CHECK(p.error->status != ReplyStatus::kOk);
  }
  return 0;
}
