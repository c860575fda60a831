// libFuzzer target: arbitrary bytes as a sandboxd request (sandboxd/daemon/protocol.h), with a
// fuzzed descriptor count and truncation flag. Invariants: exactly one of request / error; a
// request came from exactly sizeof(RequestWire) bytes and encodes back to them.
#include <cstddef>
#include <cstdint>
#include <cstring>

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
    MOAT_FUZZ_CHECK(!truncated && body_size == sizeof(RequestWire));
    MOAT_FUZZ_CHECK(fds == (p.request->op == Op::kRegister ? 1u : 0u));
    RequestWire again = encode_request(*p.request);
    MOAT_FUZZ_CHECK(std::memcmp(&again, body, sizeof again) == 0);
  } else {
    ReplyWire r = make_reply(p.error->status, p.error->message);
    MOAT_FUZZ_CHECK(valid_reply(&r, sizeof r));
    MOAT_FUZZ_CHECK(p.error->status != ReplyStatus::kOk);
  }
  return 0;
}
