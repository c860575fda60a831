// See display_text.h.
#include "policy/display_text.h"

namespace moat::policy {
namespace {

constexpr char kHex[] = "0123456789abcdef";

char32_t decode(std::string_view s, std::size_t n) {
  const auto b = [&](std::size_t i) {
    return static_cast<char32_t>(static_cast<unsigned char>(s[i]));
  };
  if (n == 2) return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  if (n == 3) return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

void append_byte_escape(std::string& out, unsigned char c) {
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 0xF];
}

// At least four hex digits of C, in DIGITS (lower or upper case).
void append_hex_code_point(std::string& out, char32_t c, const char* digits) {
  bool started = false;
  for (int shift = 20; shift >= 0; shift -= 4) {
    const unsigned digit = (c >> shift) & 0xF;
    if (digit != 0 || started || shift < 16) {
      out += digits[digit];
      started = true;
    }
  }
}

}  // namespace

std::size_t utf8_sequence_length(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

bool is_deceptive_code_point(char32_t c) {
  return (c >= 0x80 && c <= 0x9F) ||      // C1 controls (0x9B is a CSI to some terminals)
         c == 0x061C ||                   // Arabic letter mark
         (c >= 0x200B && c <= 0x200F) ||  // zero-width space/joiners, LRM, RLM
         (c >= 0x2028 && c <= 0x202E) ||  // line/paragraph separators, embeddings, overrides
         (c >= 0x2060 && c <= 0x2069) ||  // word joiner, invisible operators, isolates
         c == 0xFEFF ||                   // zero-width no-break space (byte order mark)
         (c >= 0xFFF9 && c <= 0xFFFB);    // interlinear annotations
}

std::string visible_code_points(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8_sequence_length(s.substr(i));
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    const char32_t code_point = n == 1 ? static_cast<unsigned char>(s[i]) : decode(s.substr(i), n);
    if (is_deceptive_code_point(code_point)) {
      out += "U+";
      append_hex_code_point(out, code_point, "0123456789ABCDEF");
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string terminal_text(std::string_view s, std::size_t limit) {
  std::string out;
  out.reserve(s.size() < limit ? s.size() : limit);
  std::size_t i = 0;
  while (i < s.size()) {
    if (i >= limit) {
      out += "...(" + std::to_string(s.size() - i) + " more bytes)";
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\') out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      switch (c) {
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case 0x1B:
          out += "\\e";
          break;
        default:
          append_byte_escape(out, c);
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(s.substr(i));
    if (n == 0) {
      append_byte_escape(out, c);
      ++i;
      continue;
    }
    const char32_t code_point = decode(s.substr(i), n);
    if (is_deceptive_code_point(code_point)) {
      out += "\\u{";
      append_hex_code_point(out, code_point, kHex);
      out += '}';
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace moat::policy
