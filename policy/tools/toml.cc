#include "policy/tools/toml.h"

#include <cctype>
#include <optional>

namespace moat::policy::tools {

namespace {

// A cursor over a TOML document that knows its line, for error messages.
class TomlScanner {
 public:
  explicit TomlScanner(std::string_view text) : text_(text) {}

  Result<std::map<std::string, std::string>> run() {
    std::map<std::string, std::string> values;
    std::string table;
    while (skip_blank_lines(), pos_ < text_.size()) {
      if (peek() == '[') {
        const bool array_table = text_.substr(pos_, 2) == "[[";
        pos_ += array_table ? 2 : 1;
        auto key = dotted_key();
        if (!key) return key.error();
        skip_spaces();
        if (text_.substr(pos_, array_table ? 2 : 1) != (array_table ? "]]" : "]")) {
          return error("a table header without its closing ']'");
        }
        pos_ += array_table ? 2 : 1;
        table = *key;
      } else {
        auto key = dotted_key();
        if (!key) return key.error();
        skip_spaces();
        if (peek() != '=') return error("expected '=' after the key '" + *key + "'");
        ++pos_;
        skip_spaces();
        auto value = this->value();
        if (!value) return value.error();
        if (value->has_value()) values[table.empty() ? *key : table + "." + *key] = **value;
      }
      skip_spaces();
      if (peek() == '#') skip_to_line_end();
      if (pos_ < text_.size() && peek() != '\n' && peek() != '\r') {
        return error("unexpected text after a value");
      }
    }
    return values;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  Error error(const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument, std::to_string(line_) + ": " + what,
                      "fix the TOML syntax of this file");
  }

  void skip_spaces() {
    while (peek() == ' ' || peek() == '\t') ++pos_;
  }
  void skip_to_line_end() {
    while (pos_ < text_.size() && peek() != '\n') ++pos_;
  }
  void skip_blank_lines() {
    for (;;) {
      skip_spaces();
      if (peek() == '#') skip_to_line_end();
      if (peek() == '\r') ++pos_;
      if (peek() != '\n') return;
      ++pos_;
      ++line_;
    }
  }

  Result<std::string> dotted_key() {
    std::string key;
    for (;;) {
      skip_spaces();
      if (peek() == '"' || peek() == '\'') {
        auto part = string_value();
        if (!part) return part.error();
        key += *part;
      } else {
        const std::size_t start = pos_;
        while (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_' || peek() == '-') {
          ++pos_;
        }
        if (pos_ == start) return error("expected a key");
        key += text_.substr(start, pos_ - start);
      }
      skip_spaces();
      if (peek() != '.') return key;
      ++pos_;
      key += '.';
    }
  }

  // A string, or nothing for the other kinds of value (numbers, booleans, dates, arrays, inline
  // tables), which are skipped whole, across lines for arrays.
  Result<std::optional<std::string>> value() {
    if (peek() == '"' || peek() == '\'') {
      auto s = string_value();
      if (!s) return s.error();
      return std::optional<std::string>(*s);
    }
    int depth = 0;
    while (pos_ < text_.size()) {
      const char c = peek();
      if (c == '"' || c == '\'') {
        auto s = string_value();
        if (!s) return s.error();
        continue;
      }
      if (c == '#') {
        if (depth <= 0) break;
        skip_to_line_end();
        continue;
      }
      if (c == '\n' || c == '\r') {
        if (depth <= 0) break;
        if (c == '\n') ++line_;
        ++pos_;
        continue;
      }
      if (c == '[' || c == '{') ++depth;
      if (c == ']' || c == '}') --depth;
      ++pos_;
    }
    if (depth > 0) return error("an array or inline table that is never closed");
    return std::optional<std::string>();
  }

  Result<std::string> string_value() {
    const char quote = peek();
    const bool multi = text_.substr(pos_, 3) == std::string(3, quote);
    pos_ += multi ? 3 : 1;
    if (multi && peek() == '\n') {
      ++pos_;
      ++line_;
    }
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) return error("a string that is never closed");
      const char c = text_[pos_];
      if (multi ? text_.substr(pos_, 3) == std::string(3, quote) : c == quote) {
        pos_ += multi ? 3 : 1;
        return out;
      }
      if (c == '\n') {
        if (!multi) return error("a string that is never closed");
        ++line_;
      }
      if (c == '\\' && quote == '"' && pos_ + 1 < text_.size()) {
        const char e = text_[++pos_];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          default: out += '\\'; out += e; break;  // \uXXXX and friends: kept as written
        }
        ++pos_;
        continue;
      }
      out += c;
      ++pos_;
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

Result<std::map<std::string, std::string>> parse_toml_strings(std::string_view text) {
  return TomlScanner(text).run();
}

}  // namespace moat::policy::tools
