// Checks every request of a plain-HTTP connection the gate relays: each head must name the bound
// host; bodies are skipped by their framing (Content-Length, chunked), never parsed as requests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "sandboxd/gate/relay.h"

namespace moat::gate {

// Pure and incremental: the caller keeps the client's bytes not yet forwarded, asks next() what
// to do with them, forwards exactly `bytes` of them (when kForward or kRaw), drops those from its
// buffer and asks again. Keep-alive and pipelined requests are each checked, so a second request
// on a connection bound to one name cannot reach another.
class HttpRequestStream {
 public:
  enum class Action {
    kNeedMore,  // read more client bytes, then ask again
    kForward,   // forward `bytes` bytes upstream
    kRaw,       // forward `bytes` bytes, then everything else unchecked (the protocol switched)
    kRefuse,    // end the connection; `decision` says why
  };
  struct Step {
    Action action = Action::kNeedMore;
    size_t bytes = 0;
    BindingDecision decision;  // for kRefuse
  };

  explicit HttpRequestStream(std::string expected_name) : name_(std::move(expected_name)) {}

  Step next(std::span<const std::uint8_t> pending);
  // True between messages: a client that ends its side here ended cleanly.
  bool at_request_boundary() const { return state_ == State::kHead; }

 private:
  enum class State { kHead, kBody, kChunkSize, kChunkData, kTrailer };
  Step refuse(std::string reason);

  std::string name_;
  State state_ = State::kHead;
  std::uint64_t body_left_ = 0;  // kBody and kChunkData
  bool in_chunks_ = false;       // kChunkData returns to kChunkSize, kBody to kHead
};

}  // namespace moat::gate
