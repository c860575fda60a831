// The only yaml-cpp user: file text -> RawNode tree with a 1-based file:line:col per node.
// yaml-cpp exceptions stop here and become diagnostics; aliases and depth are bounded.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "policy/raw_node.h"
#include "policy/text_lines.h"

namespace moat::policy {

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr std::size_t kMaxNodes = 100000;  // aliases can make a small file a huge tree
constexpr int kMaxDepth = 64;              // the schema is 3 deep; anything deeper is an error

class Converter {
 public:
  Converter(const std::string& file, const std::vector<std::string_view>& lines,
            DiagnosticSink& sink)
      : file_(file), lines_(lines), sink_(sink) {}

  bool ok() const { return ok_; }

  RawNode convert(const YAML::Node& node, const SourceRef& fallback, int depth) {
    RawNode out;
    out.at = position(node, fallback);
    if (!ok_) return out;
    if (++nodes_ > kMaxNodes || depth > kMaxDepth) {
      sink_.error(out.at, 1, "too-complex",
                  depth > kMaxDepth ? "the document is nested too deeply"
                                    : "the document has too many nodes (aliases?)");
      ok_ = false;
      return out;
    }
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        out.kind = RawNode::Kind::kScalar;
        out.text = node.Scalar();
        measure_scalar(out);
        break;
      case YAML::NodeType::Sequence:
        out.kind = RawNode::Kind::kSequence;
        for (const YAML::Node& item : node) out.items.push_back(convert(item, out.at, depth + 1));
        break;
      case YAML::NodeType::Map: {
        out.kind = RawNode::Kind::kMap;
        std::set<std::string> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
          RawNode key = convert(it->first, out.at, depth + 1);
          RawNode value = convert(it->second, key.at, depth + 1);
          if (key.kind == RawNode::Kind::kScalar && !seen.insert(key.text).second) {
            sink_.error(key.at, key.length, "duplicate-key",
                        "'" + key.text + "' appears more than once in this map",
                        "merge the two entries into one");
          }
          out.entries.push_back(RawEntry{std::move(key), std::move(value)});
        }
        break;
      }
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        out.kind = RawNode::Kind::kNull;
        // yaml-cpp gives an empty value the position of the next token; point at the key.
        out.at = fallback;
        break;
    }
    return out;
  }

 private:
  SourceRef position(const YAML::Node& node, const SourceRef& fallback) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null() || mark.line < 0) return fallback;
    return SourceRef{file_, mark.line + 1, mark.column + 1};
  }

  // Underline the whole token when it sits on one line; remember where its content starts.
  void measure_scalar(RawNode& n) const {
    n.value_col = n.at.col;
    n.length = static_cast<int>(n.text.size());
    const std::size_t line = static_cast<std::size_t>(n.at.line) - 1;
    const std::size_t col = static_cast<std::size_t>(n.at.col) - 1;
    if (n.at.line < 1 || line >= lines_.size() || col >= lines_[line].size()) return;
    const std::string_view src = lines_[line];
    const char c = src[col];
    if (c == '"' || c == '\'') {
      n.value_col = n.at.col + 1;
      std::size_t end = col + 1;
      while (end < src.size()) {
        if (c == '"' && src[end] == '\\') {
          end += 2;
          continue;
        }
        if (src[end] == c) {
          if (c == '\'' && end + 1 < src.size() && src[end + 1] == '\'') {
            end += 2;
            continue;
          }
          break;
        }
        ++end;
      }
      n.length = static_cast<int>(std::min(end + 1, src.size()) - col);
    } else if (c == '|' || c == '>') {
      n.length = 1;
    } else {
      n.length = static_cast<int>(std::min(n.text.size(), src.size() - col));
    }
    if (n.length < 1) n.length = 1;
  }

  const std::string& file_;
  const std::vector<std::string_view>& lines_;
  DiagnosticSink& sink_;
  std::size_t nodes_ = 0;
  bool ok_ = true;
};


}  // namespace

const char* kind_name(RawNode::Kind kind) {
  switch (kind) {
    case RawNode::Kind::kNull: return "nothing";
    case RawNode::Kind::kScalar: return "a string";
    case RawNode::Kind::kSequence: return "a list";
    case RawNode::Kind::kMap: return "a map";
  }
  return "?";
}

std::optional<RawNode> load_raw_text(const std::string& file, const std::string& text,
                                     DiagnosticSink& sink) {
  sink.add_source(file, text);
  const SourceRef start{file, 1, 1};
  if (text.find('\0') != std::string::npos) {
    sink.error(start, 1, "yaml-syntax", "the file contains a NUL byte (is it a binary file?)");
    return std::nullopt;
  }
  const std::vector<std::string_view> lines = split_lines(text);
  // yaml-cpp 0.7's LoadAll loops forever on some malformed input (found by fuzz_profile), so
  // load one document and refuse a second one textually: rules in a document moat ignores would
  // mislead whoever reviews the profile.
  bool seen_content = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view l = lines[i];
    const bool marker = (l.starts_with("---") || l.starts_with("...")) &&
                        (l.size() == 3 || l[3] == ' ' || l[3] == '\t');
    if (marker && seen_content) {
      sink.error(SourceRef{file, static_cast<int>(i) + 1, 1}, 3, "yaml-syntax",
                 "a profile is one YAML document; a second one starts here",
                 "remove the '---' / '...' separators");
      return std::nullopt;
    }
    const std::size_t first = l.find_first_not_of(" \t");
    if (!marker && first != std::string_view::npos && l[first] != '#' && l[first] != '%') {
      seen_content = true;
    }
  }
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    SourceRef at = start;
    if (!e.mark.is_null() && e.mark.line >= 0) at = {file, e.mark.line + 1, e.mark.column + 1};
    sink.error(at, 1, "yaml-syntax", e.msg.empty() ? "invalid YAML" : e.msg);
    return std::nullopt;
  } catch (const std::exception& e) {  // yaml-cpp may also throw std exceptions (bad_alloc)
    sink.error(start, 1, "yaml-syntax", std::string("invalid YAML: ") + e.what());
    return std::nullopt;
  }
  Converter conv(file, lines, sink);
  RawNode root;
  try {
    root = conv.convert(doc, start, 0);
    root.at = start;
  } catch (const std::exception& e) {
    sink.error(start, 1, "yaml-syntax", std::string("invalid YAML: ") + e.what());
    return std::nullopt;
  }
  if (!conv.ok()) return std::nullopt;
  return root;
}

std::optional<RawNode> load_raw_file(const std::string& path, const SourceRef& at, int length,
                                     DiagnosticSink& sink) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    sink.error(at, length, "unreadable", "cannot read profile '" + path + "': " + std::strerror(err));
    return std::nullopt;
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      sink.error(at, length, "too-complex",
                 "profile '" + path + "' is larger than 1 MiB; profiles are small text files");
      return std::nullopt;
    }
  }
  if (in.bad()) {
    sink.error(at, length, "unreadable", "cannot read profile '" + path + "': read error");
    return std::nullopt;
  }
  return load_raw_text(path, text, sink);
}

}  // namespace moat::policy
