// git's configuration syntax, read the way git's config.c reads it; see git_config.h.
#include "policy/git_config.h"

#include <cctype>

#include "policy/tools/common.h"

namespace moat::policy {
namespace {

bool key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; }

// One value from `at` to the end of its (possibly continued) line: quotes, escapes, comments.
std::string parse_value(std::string_view text, size_t& at) {
  std::string out;
  bool quoted = false;
  size_t trailing_space_from = std::string::npos;  // trailing unquoted white space is dropped
  while (at < text.size()) {
    char c = text[at++];
    if (c == '\n') break;  // inside quotes: git refuses the file; keep what we have
    if (!quoted && (c == '#' || c == ';')) {
      while (at < text.size() && text[at] != '\n') ++at;
      break;
    }
    if (c == '"') {
      quoted = !quoted;
      trailing_space_from = std::string::npos;
      continue;
    }
    if (c == '\\' && at < text.size()) {
      char e = text[at++];
      if (e == '\n') continue;  // continuation line
      if (e == '\r' && at < text.size() && text[at] == '\n') {
        ++at;
        continue;
      }
      out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'b' ? '\b' : e;
      trailing_space_from = std::string::npos;
      continue;
    }
    if (!quoted && std::isspace(static_cast<unsigned char>(c))) {
      if (out.empty()) continue;  // leading white space
      if (trailing_space_from == std::string::npos) trailing_space_from = out.size();
      out += c;
      continue;
    }
    trailing_space_from = std::string::npos;
    out += c;
  }
  if (trailing_space_from != std::string::npos) out.resize(trailing_space_from);
  return out;
}

}  // namespace

std::vector<GitSetting> parse_git_config(std::string_view text) {
  std::vector<GitSetting> out;
  std::string section;
  // git skips a UTF-8 byte order mark at the start: so must we, or a config that git obeys
  // would read as empty here (and its programs go unreported).
  size_t at = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  while (at < text.size()) {
    char c = text[at];
    if (c == '\n' || std::isspace(static_cast<unsigned char>(c))) {
      ++at;
      continue;
    }
    if (c == '#' || c == ';') {
      while (at < text.size() && text[at] != '\n') ++at;
      continue;
    }
    if (c == '[') {
      size_t close = text.find(']', at);
      if (close == std::string_view::npos) return out;
      std::string_view header = text.substr(at + 1, close - at - 1);
      at = close + 1;
      size_t quote = header.find('"');
      if (quote != std::string_view::npos) {
        // [section "subsection"]: the subsection keeps its case; \" and \\ are escapes.
        std::string name = tools::lower(tools::trim(header.substr(0, quote)));
        std::string sub;
        for (size_t i = quote + 1; i < header.size() && header[i] != '"'; ++i) {
          if (header[i] == '\\' && i + 1 < header.size()) ++i;
          sub += header[i];
        }
        section = name + "." + sub;
      } else {
        section = tools::lower(tools::trim(header));  // [section] or the old [section.sub]
      }
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(c))) return out;
    size_t key_end = at;
    while (key_end < text.size() && key_char(text[key_end])) ++key_end;
    GitSetting s{section, tools::lower(std::string(text.substr(at, key_end - at))), {}};
    at = key_end;
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
    if (at < text.size() && text[at] == '=') {
      ++at;
      s.value = parse_value(text, at);
    } else {
      s.value = "true";  // `key` alone is a boolean true
      while (at < text.size() && text[at] != '\n') ++at;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace moat::policy
