// The sandboxd wire protocol: parsing and encoding. See protocol.h.
#include "sandboxd/daemon/protocol.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace moat::daemon {
namespace {

ParseError malformed(std::string message) {
  return ParseError{ReplyStatus::kMalformed, std::move(message)};
}

// The name compared with the SNI in the kernel: lowercase letters, digits, '-' and '.', as the
// allowlist normalises names (the full DNS rules are the gate's; this keeps the daemon's input
// to what a name can be).
bool bound_name_is_valid(std::string_view name) {
  if (name.empty() || name.size() > kMaxBoundName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

}  // namespace

Parsed parse_request(const void* data, std::size_t size, std::size_t fds, bool truncated) {
  Parsed out;
  if (truncated) {
    out.error = malformed("message or control data truncated");
    return out;
  }
  if (size < sizeof(RequestWire) || size > sizeof(RequestWire) + kMaxBoundName) {
    out.error = malformed("request of " + std::to_string(size) + " bytes, expected " +
                          std::to_string(sizeof(RequestWire)));
    return out;
  }
  RequestWire w{};
  std::memcpy(&w, data, sizeof w);
  const std::string_view tail(static_cast<const char*>(data) + sizeof w, size - sizeof w);
  if (!tail.empty() && static_cast<Op>(w.op) != Op::kBindName) {
    out.error = malformed("request of " + std::to_string(size) + " bytes, expected " +
                          std::to_string(sizeof(RequestWire)));
    return out;
  }
  if (w.magic != kMagic) {
    out.error = malformed("bad magic");
    return out;
  }
  if (w.version != kProtocolVersion) {
    out.error = ParseError{ReplyStatus::kVersion, "protocol version " + std::to_string(w.version) +
                                                      ", sandboxd speaks " +
                                                      std::to_string(kProtocolVersion)};
    return out;
  }
  const Op op = static_cast<Op>(w.op);
  switch (op) {
    case Op::kHello:
    case Op::kLost:
    case Op::kStatus:
    case Op::kNameRefusal:
      if (w.arg != 0 || fds != 0) {
        out.error = malformed("this request takes no ring size and no descriptor");
        return out;
      }
      break;
    case Op::kRegister:
      if (fds != 1) {
        out.error = malformed("register takes exactly one descriptor (the cgroup directory), got " +
                              std::to_string(fds));
        return out;
      }
      if (w.arg < kMinRingBytes || w.arg > kMaxRingBytes || (w.arg & (w.arg - 1)) != 0) {
        out.error = malformed("ring size " + std::to_string(w.arg) +
                              ": expected a power of two from 4096 to 268435456");
        return out;
      }
      break;
    case Op::kCgroup:
      if (fds != 0 || w.arg > kMaxMemoryLimit) {
        out.error = malformed("cgroup takes a memory limit (0 or up to 2^50 bytes), no descriptor");
        return out;
      }
      break;
    case Op::kJoin:
      if (fds != 0 || w.arg < 2 || w.arg > kMaxPid) {
        out.error = malformed("join takes a pid (2-4194304) and no descriptor");
        return out;
      }
      break;
    case Op::kBindName:
      if (fds != 1 || w.arg != 0 || !bound_name_is_valid(tail)) {
        out.error = malformed(
            "bind-name takes one descriptor (the socket) and a lowercase DNS name of 1-253 bytes");
        return out;
      }
      break;
    default:
      out.error = malformed("unknown request " + std::to_string(w.op));
      return out;
  }
  out.request = Request{op, w.arg, std::string(tail)};
  return out;
}

std::string encode_message(const Request& request) {
  const RequestWire w = encode_request(request);
  std::string out(reinterpret_cast<const char*>(&w), sizeof w);
  return out + request.name;
}

RequestWire encode_request(const Request& request) {
  return RequestWire{kMagic, kProtocolVersion, static_cast<std::uint16_t>(request.op), request.arg};
}

ReplyWire make_reply(ReplyStatus status, std::string_view message, int err, std::uint64_t value,
                     std::uint64_t value2) {
  ReplyWire r{};
  r.magic = kMagic;
  r.version = kProtocolVersion;
  r.status = static_cast<std::uint16_t>(status);
  r.err = err;
  r.value = value;
  r.value2 = value2;
  const std::size_t n = std::min(message.size(), sizeof(r.message) - 1);
  std::memcpy(r.message, message.data(), n);
  return r;
}

bool valid_reply(const void* data, std::size_t size) {
  if (size != sizeof(ReplyWire)) return false;
  ReplyWire r{};
  std::memcpy(&r, data, sizeof r);
  return r.magic == kMagic && std::memchr(r.message, '\0', sizeof r.message) != nullptr;
}

const char* reply_status_name(ReplyStatus status) {
  switch (status) {
    case ReplyStatus::kOk:
      return "ok";
    case ReplyStatus::kMalformed:
      return "malformed";
    case ReplyStatus::kVersion:
      return "version";
    case ReplyStatus::kDenied:
      return "denied";
    case ReplyStatus::kLimit:
      return "limit";
    case ReplyStatus::kFailed:
      return "failed";
    case ReplyStatus::kState:
      return "state";
  }
  return "unknown";
}

}  // namespace moat::daemon
