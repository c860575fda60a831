// Internal: variable expansion and lexical normalisation of profile paths.
// Errors carry the offset of the offending '$' so the diagnostic can point inside the string.
#include "policy/variables.h"

#include <cctype>
#include <vector>

#include "policy/suggest.h"

namespace moat::policy {

Expansion expand_variables(std::string_view text, const Variables& vars, bool tilde) {
  Expansion out;
  std::size_t i = 0;
  if (tilde && !text.empty() && text[0] == '~' && (text.size() == 1 || text[1] == '/')) {
    out.value = vars.at("HOME");
    i = 1;
  }
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$') {
      out.value += c;
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out.value += '$';
      i += 2;
      continue;
    }
    std::vector<std::string> names;
    for (const auto& [name, value] : vars) names.push_back(name);
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      std::size_t len = 1;
      while (i + len < text.size() && (std::isalnum(static_cast<unsigned char>(text[i + len])) ||
                                       text[i + len] == '_')) {
        ++len;
      }
      out.ok = false;
      out.error_offset = i;
      out.error_length = len;
      out.code = "bad-variable";
      out.message = "'" + std::string(text.substr(i, len)) +
                    "': variables are written ${NAME}";
      out.hint = len > 1 ? "write ${" + std::string(text.substr(i + 1, len - 1)) +
                               "}, or $$ for a literal '$'"
                         : "write $$ for a literal '$'";
      return out;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      out.ok = false;
      out.error_offset = i;
      out.error_length = text.size() - i;
      out.code = "bad-variable";
      out.message = "'${' is not closed with '}'";
      return out;
    }
    const std::string_view name = text.substr(i + 2, close - i - 2);
    auto it = vars.find(name);
    if (it == vars.end()) {
      out.ok = false;
      out.error_offset = i;
      out.error_length = close - i + 1;
      out.code = "unknown-variable";
      out.message = "unknown variable '${" + std::string(name) + "}'" + did_you_mean(name, names);
      std::string known;
      for (const std::string& n : names) known += (known.empty() ? "${" : ", ${") + n + "}";
      out.hint = "known variables: " + known;
      return out;
    }
    out.value += it->second;
    i = close + 1;
  }
  return out;
}

std::string normalize_path(std::string_view path) {
  const bool absolute = !path.empty() && path[0] == '/';
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(i, end - i);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
    } else {
      parts.push_back(part);
    }
    i = end + 1;
  }
  std::string out = absolute ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out += parts[k];
  }
  if (out.empty()) out = ".";
  return out;
}

bool path_within(std::string_view path, std::string_view dir) {
  if (dir == "/") return !path.empty() && path[0] == '/';
  if (path.size() < dir.size() || path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

}  // namespace moat::policy
