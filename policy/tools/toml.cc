// The TOML reader of the tool resolvers; see toml.h.
#include "policy/tools/toml.h"

#include <cctype>
#include <optional>

namespace moat::policy::tools {

namespace {

// A cursor over a TOML document that knows its line, for error messages.
class TomlScanner {
 public:
  explicit TomlScanner(std::string_view text) : text_(text) {}

  Result<TomlValues> run() {
    TomlValues values;
    std::map<std::string, int> array_tables;  // [[t]] -> how many so far
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
        table = array_table ? *key + "." + std::to_string(array_tables[*key]++) : *key;
      } else {
        auto key = dotted_key();
        if (!key) return key.error();
        skip_spaces();
        if (peek() != '=') return error("expected '=' after the key '" + *key + "'");
        ++pos_;
        skip_spaces();
        if (Status v = value(table.empty() ? *key : table + "." + *key, values); !v) {
          return v.error();
        }
      }
      skip_spaces();
      if (peek() == '#') skip_to_line_end();
      if (peek() == '\r') ++pos_;
      if (pos_ < text_.size() && peek() != '\n') return error("unexpected text after a value");
    }
    return values;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  Error error(const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument,
                      std::to_string(line_) + ": cannot read this TOML: " + what,
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

  // The value at `key`, recorded in `out` (arrays and inline tables element by element, see
  // TomlValues); numbers and dates are read over and left out.
  Status value(const std::string& key, TomlValues& out) {
    const char c = peek();
    if (c == '"' || c == '\'') {
      auto s = string_value();
      if (!s) return s.error();
      out[key] = *s;
      return {};
    }
    for (const char* word : {"true", "false"}) {
      const std::string_view w(word);
      if (text_.substr(pos_, w.size()) == w && !key_char(peek_at(pos_ + w.size()))) {
        pos_ += w.size();
        out[key] = word;
        return {};
      }
    }
    // A project's file may be hostile: nesting is bounded so the recursion is.
    if ((c == '[' || c == '{') && depth_ >= kMaxDepth) return error("arrays nested too deeply");
    if (c == '[') {
      ++pos_;
      ++depth_;
      for (int n = 0;; ++n) {
        skip_blank_lines();
        if (peek() == ']') break;
        if (Status v = value(key + "." + std::to_string(n), out); !v) return v.error();
        skip_blank_lines();
        if (peek() == ',') {
          ++pos_;
        } else if (peek() != ']') {
          return error("expected ',' or ']' in an array");
        }
      }
      ++pos_;
      --depth_;
      return {};
    }
    if (c == '{') {
      ++pos_;
      ++depth_;
      for (;;) {
        skip_spaces();
        if (peek() == '}') break;
        auto k = dotted_key();
        if (!k) return k.error();
        skip_spaces();
        if (peek() != '=') return error("expected '=' after the key '" + *k + "'");
        ++pos_;
        skip_spaces();
        if (Status v = value(key + "." + *k, out); !v) return v.error();
        skip_spaces();
        if (peek() == ',') {
          ++pos_;
        } else if (peek() != '}') {
          return error("expected ',' or '}' in an inline table");
        }
      }
      ++pos_;
      --depth_;
      return {};
    }
    // A number or a date: read to the end of the token.
    const std::size_t start = pos_;
    while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(peek())) &&
           peek() != ',' && peek() != ']' && peek() != '}' && peek() != '#') {
      ++pos_;
    }
    if (pos_ == start) return error("expected a value");
    return {};
  }

  char peek_at(std::size_t i) const { return i < text_.size() ? text_[i] : '\0'; }
  static bool key_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
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
      if (pos_ >= text_.size()) return error("unterminated string");
      const char c = text_[pos_];
      if (multi ? text_.substr(pos_, 3) == std::string(3, quote) : c == quote) {
        pos_ += multi ? 3 : 1;
        return out;
      }
      if (c == '\n') {
        if (!multi) return error("unterminated string");
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

  static constexpr int kMaxDepth = 32;

  std::string_view text_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  int line_ = 1;
};

}  // namespace

Result<TomlValues> parse_toml(std::string_view text) { return TomlScanner(text).run(); }

namespace {

// The entries under "key.N" for each index N, in numeric order, each with the rest of its path
// ("" for the element itself).
std::map<std::size_t, TomlValues> by_index(const TomlValues& doc, const std::string& key) {
  std::map<std::size_t, TomlValues> out;
  const std::string prefix = key + ".";
  for (auto it = doc.lower_bound(prefix); it != doc.end() && it->first.starts_with(prefix); ++it) {
    const std::string rest = it->first.substr(prefix.size());
    const std::size_t digits = rest.find_first_not_of("0123456789");
    const std::size_t len = digits == std::string::npos ? rest.size() : digits;
    if (len == 0 || len > 9) continue;  // not an index (or not one any array of a file has)
    if (digits != std::string::npos && rest[digits] != '.') continue;
    const std::size_t n = std::stoul(rest.substr(0, len));
    out[n][digits == std::string::npos ? "" : rest.substr(digits + 1)] = it->second;
  }
  return out;
}

}  // namespace

std::vector<std::string> toml_array(const TomlValues& doc, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& [n, entries] : by_index(doc, key)) {
    if (auto it = entries.find(""); it != entries.end()) out.push_back(it->second);
  }
  return out;
}

std::vector<TomlValues> toml_tables(const TomlValues& doc, const std::string& key) {
  std::vector<TomlValues> out;
  for (auto& [n, entries] : by_index(doc, key)) {
    entries.erase("");
    if (!entries.empty()) out.push_back(std::move(entries));
  }
  return out;
}

}  // namespace moat::policy::tools
