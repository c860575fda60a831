// The request-by-request walk over a relayed plain-HTTP connection: heads are judged with
// decide_binding, body framing follows RFC 9112 §6 and §7.1.
#include "sandboxd/gate/http_request_stream.h"

#include <algorithm>
#include <string_view>

#include "sandboxd/gate/http_request_head.h"

namespace moat::gate {
namespace {

// A chunk-size line (with extensions) or a trailer line longer than this is not HTTP we relay.
constexpr size_t kMaxLineBytes = 8192;

// Length of the line at the start of `bytes` without its CRLF; npos when no CRLF yet.
size_t line_length(std::span<const std::uint8_t> bytes) {
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    if (bytes[i] == '\r' && bytes[i + 1] == '\n') return i;
  }
  return std::string_view::npos;
}

int hex_value(std::uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

HttpRequestStream::Step HttpRequestStream::refuse(std::string reason) {
  Step step;
  step.action = Action::kRefuse;
  step.decision.binding = Binding::kRefused;
  step.decision.protocol = "http";
  step.decision.reason = std::move(reason);
  return step;
}

HttpRequestStream::Step HttpRequestStream::next(std::span<const std::uint8_t> pending) {
  Step step;
  if (pending.empty()) return step;
  switch (state_) {
    case State::kHead: {
      HttpHeadResult head = parse_http_request_head(pending);
      if (head.state == ParseState::kNeedMore) return step;
      BindingDecision decision = decide_binding(pending, name_);
      if (head.state != ParseState::kDone || decision.binding != Binding::kAllowed) {
        // decide_binding calls bytes that do not start like a request "other" and allows them;
        // after a checked request that would be a way around the check, so it is refused here.
        if (decision.binding == Binding::kRefused) {
          step.action = Action::kRefuse;
          step.decision = std::move(decision);
          return step;
        }
        return refuse("bytes after an HTTP request that are not an HTTP request");
      }
      if (head.info.upgrade) {
        step.action = Action::kRaw;  // WebSocket, h2c: no more heads to check
        step.bytes = pending.size();
        return step;
      }
      step.action = Action::kForward;
      step.bytes = head.info.head_length;
      if (head.info.chunked) {
        state_ = State::kChunkSize;
      } else if (head.info.content_length.value_or(0) > 0) {
        state_ = State::kBody;
        body_left_ = *head.info.content_length;
        in_chunks_ = false;
      }
      return step;
    }
    case State::kBody:
    case State::kChunkData: {
      step.action = Action::kForward;
      step.bytes = static_cast<size_t>(std::min<std::uint64_t>(body_left_, pending.size()));
      body_left_ -= step.bytes;
      if (body_left_ == 0) state_ = in_chunks_ ? State::kChunkSize : State::kHead;
      return step;
    }
    case State::kChunkSize: {
      size_t len = line_length(pending);
      if (len == std::string_view::npos) {
        return pending.size() > kMaxLineBytes ? refuse("chunk-size line too long") : step;
      }
      std::uint64_t size = 0;
      size_t digits = 0;
      while (digits < len && hex_value(pending[digits]) >= 0) {
        if (digits == 15) return refuse("chunk size too large");
        size = size * 16 + static_cast<std::uint64_t>(hex_value(pending[digits]));
        ++digits;
      }
      // After the digits only extensions (";name=value", optionally after whitespace) may
      // follow; anything else is framing a server could read differently.
      size_t rest = digits;
      while (rest < len && (pending[rest] == ' ' || pending[rest] == '\t')) ++rest;
      if (digits == 0 || (rest < len && pending[rest] != ';')) {
        return refuse("malformed chunk-size line");
      }
      step.action = Action::kForward;
      step.bytes = len + 2;
      if (size == 0) {
        state_ = State::kTrailer;
      } else {
        state_ = State::kChunkData;
        body_left_ = size + 2;  // the data and its CRLF
        in_chunks_ = true;
      }
      return step;
    }
    case State::kTrailer: {
      size_t len = line_length(pending);
      if (len == std::string_view::npos) {
        return pending.size() > kMaxLineBytes ? refuse("trailer line too long") : step;
      }
      step.action = Action::kForward;
      step.bytes = len + 2;
      if (len == 0) state_ = State::kHead;  // the empty line ends the message
      return step;
    }
  }
  return step;
}

}  // namespace moat::gate
