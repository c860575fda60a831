#include "policy/tools/config_text.h"

#include <cctype>

namespace moat::policy {

std::optional<std::string_view> env_value(const std::vector<std::string>& environ,
                                          std::string_view name) {
  std::optional<std::string_view> found;
  for (const std::string& entry : environ) {
    if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
        entry[name.size()] == '=') {
      found = std::string_view(entry).substr(name.size() + 1);
    }
  }
  return found;
}

std::optional<std::string> url_host_rule(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
  std::string scheme;
  for (char c : url.substr(0, scheme_end)) {
    scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return std::nullopt;
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  if (port.size() > 5 || (!port.empty() && std::stoul(std::string(port)) > 65535)) {
    return std::nullopt;
  }
  std::string port_text(port);
  if (port_text.empty()) {
    if (scheme == "https") port_text = "443";
    else if (scheme == "http") port_text = "80";
    else return std::nullopt;
  }
  std::string lower;
  for (char c : host) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower + ":" + port_text;
}

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

}  // namespace moat::policy
