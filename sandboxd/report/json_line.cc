#include "sandboxd/report/json_line.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "policy/display_text.h"

namespace moat::report {
namespace {

void append_number(std::string& out, std::int64_t v) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

void append_value(std::string& out, const nlohmann::json& v) {
  if (v.is_string()) {
    append_json_string(out, v.get_ref<const std::string&>());
  } else if (v.is_number_integer() && !v.is_number_unsigned()) {
    append_number(out, v.get<std::int64_t>());
  } else {
    out += json_text(v);
  }
}

enum class Field { kExe, kKind, kLayer, kOrigin, kPid, kPpid, kTime, kVersion, kVerdict, kDetail };

struct Item {
  std::string_view key;
  Field field;
  const nlohmann::json* detail = nullptr;
};

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    // Most of a path needs no escaping: copy such runs whole.
    std::size_t plain = i;
    while (plain < s.size()) {
      const unsigned char p = static_cast<unsigned char>(s[plain]);
      if (p < 0x20 || p >= 0x80 || p == '"' || p == '\\') break;
      ++plain;
    }
    if (plain > i) {
      out.append(s.data() + i, plain - i);
      i = plain;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = policy::utf8_sequence_length(s.substr(i));
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void append_event_line(std::string& out, const Event& e) {
  // Common fields first, then detail keys; sorted by key with the detail winning a tie, as
  // to_json's merge into one std::map-ordered object would print them.
  std::array<Item, 64> items;
  std::size_t count = 0;
  auto add = [&](std::string_view key, Field f, const nlohmann::json* d = nullptr) {
    if (count < items.size()) items[count++] = Item{key, f, d};
  };
  if (!e.exe.empty()) add("exe", Field::kExe);
  add("kind", Field::kKind);
  if (!e.layer.empty()) add("layer", Field::kLayer);
  if (!e.origin.empty()) add("origin", Field::kOrigin);
  add("pid", Field::kPid);
  if (e.ppid != 0) add("ppid", Field::kPpid);
  add("time_ns", Field::kTime);
  add("v", Field::kVersion);
  if (!e.verdict.empty()) add("verdict", Field::kVerdict);
  const std::size_t common = count;
  std::string fallback;
  if (e.detail.is_object()) {
    if (e.detail.size() + common > items.size()) {
      // Not an event moat makes; keep to the general path rather than truncate.
      out += json_text(EventLog::to_json(e));
      out += '\n';
      return;
    }
    for (const auto& [key, value] : e.detail.items()) add(key, Field::kDetail, &value);
  }
  std::stable_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(count),
                   [](const Item& a, const Item& b) { return a.key < b.key; });
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < count; ++i) {
    const Item& it = items[i];
    // Equal keys are adjacent, the common field first (stable sort): the detail's wins.
    if (it.field != Field::kDetail && i + 1 < count && items[i + 1].key == it.key) continue;
    if (!first) out += ',';
    first = false;
    append_json_string(out, it.key);
    out += ':';
    switch (it.field) {
      case Field::kExe: append_json_string(out, e.exe); break;
      case Field::kKind: append_json_string(out, e.kind); break;
      case Field::kLayer: append_json_string(out, e.layer); break;
      case Field::kPid: append_number(out, e.pid); break;
      case Field::kPpid: append_number(out, e.ppid); break;
      case Field::kTime: append_number(out, e.time_ns); break;
      case Field::kVersion: append_number(out, kEventSchemaVersion); break;
      case Field::kVerdict: append_json_string(out, e.verdict); break;
      case Field::kOrigin: {
        out += e.origin.dependency ? "{\"dependency\":true,\"package\":" : "{\"package\":";
        append_json_string(out, e.origin.package);
        if (!e.origin.script.empty()) {
          out += ",\"script\":";
          append_json_string(out, e.origin.script);
        }
        out += ",\"tool\":";
        append_json_string(out, e.origin.tool);
        if (!e.origin.version.empty()) {
          out += ",\"version\":";
          append_json_string(out, e.origin.version);
        }
        out += '}';
        break;
      }
      case Field::kDetail: append_value(out, *it.detail); break;
    }
  }
  out += "}\n";
}

}  // namespace moat::report
