// The step summary's markdown; see markdown_report.h. Layout: a heading with the command and its
// exit status, then one table or list per part of the summary, quiet parts left out.
#include "sandboxd/report/markdown_report.h"

#include <cstring>

#include "policy/display_text.h"

namespace moat::report {
namespace {

std::string origin_text(const std::string& exe, const Origin& origin) {
  std::string out = exe.empty() ? "?" : exe;
  if (!origin.empty()) out += " [" + origin.describe() + "]";
  return out;
}

// A table cell: escaped, so `|` cannot end it early.
std::string cell(std::string_view text) { return " " + markdown_escape(text) + " |"; }

}  // namespace

std::string markdown_escape(std::string_view raw, std::size_t limit) {
  // Bidirectional overrides and invisible characters would make one path read as another.
  const std::string text = policy::visible_code_points(raw);
  std::string out;
  std::size_t used = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (used >= limit) {
      out += "...";
      break;
    }
    ++used;
    const auto u = static_cast<unsigned char>(c);
    // GitHub links bare addresses (`victim@evil.test`, `www.host`, `https://...`) on its own: a
    // backslash before the character that starts the pattern keeps them text.
    auto www_before = [&] {  // any case: GitHub links Www.host too
      if (i < 3) return false;
      for (std::size_t k = i - 3; k < i; ++k) {
        if ((text[k] | 0x20) != 'w') return false;
      }
      return true;
    };
    const bool link_start =
        c == '@' || (c == ':' && text.compare(i + 1, 2, "//") == 0) || (c == '.' && www_before());
    if (link_start) {
      out += '\\';
      out += c;
      continue;
    }
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (u < 0x20 || u == 0x7f) {
      out += ' ';  // a newline would end a table row or start a block
    } else if (std::strchr("\\`*_[]|~", c) != nullptr) {
      // Cells and list items never start a line: only inline specials need a backslash.
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string heading_line(const MarkdownHeading& h) {
  std::string out = "### moat: " + markdown_escape(h.command, 120);
  if (!h.profile.empty()) out += " (profile " + markdown_escape(h.profile, 80) + ")";
  return out;
}

}  // namespace

std::string render_markdown_failure(const MarkdownHeading& h, int exit_code,
                                    std::string_view message) {
  return heading_line(h) + ", exit " + std::to_string(exit_code) +
         "\n\n**The command did not run**: " + markdown_escape(message, 1000) + "\n\n";
}

std::string render_markdown(const Summary& s, const MarkdownHeading& h) {
  std::string out = heading_line(h);
  if (s.has_run_end) out += ", exit " + std::to_string(s.exit_code);
  out += "\n\n";

  int refused = 0;
  for (const Denial& d : s.denials) refused += d.count;
  if (s.denials.empty()) {
    out += "Nothing was refused.\n\n";
  } else {
    out += "**Refused (" + std::to_string(refused) + ")**\n\n";
    out += "| What | Layer | By | Reason | Count |\n|---|---|---|---|---|\n";
    for (const Denial& d : s.denials) {
      out += "|" + cell(d.what) + cell(d.layer) + cell(origin_text(d.exe, d.origin)) +
             cell(d.reason) + " " + std::to_string(d.count) + " |\n";
    }
    out += "\n";
  }
  if (!s.hosts.empty()) {
    out += "**Hosts contacted**\n\n| Host | Connections |\n|---|---|\n";
    for (const HostContact& c : s.hosts) {
      out += "|" + cell(c.host) + " " + std::to_string(c.count) + " |\n";
    }
    out += "\n";
  }
  if (!s.written_outside.empty()) {
    out +=
        "**Written outside the workspace and caches**\n\n| Path | Change | By | Count |\n"
        "|---|---|---|---|\n";
    std::size_t shown = 0;
    for (const WrittenFile& w : s.written_outside) {
      if (++shown > 50) {
        out += "| ... and " + std::to_string(s.written_outside.size() - 50) + " more | | | |\n";
        break;
      }
      const std::string where = w.path.empty() ? "(relative to an unknown directory) " + w.first
                                : w.count == 1 ? w.first
                                               : w.path + "/...";
      out += "|" + cell(where) + cell(w.op) + cell(origin_text(w.exe, w.origin)) + " " +
             std::to_string(w.count) + " |\n";
    }
    out += "\n";
  }
  if (!s.killed.empty() || s.leftovers > 0) {
    out += "**Still running at exit, killed**: " +
           std::to_string(s.killed.empty() ? s.leftovers : static_cast<int>(s.killed.size())) +
           "\n\n";
    for (const KilledProcess& k : s.killed) {
      out += "- pid " + std::to_string(k.pid) + " " +
             markdown_escape(k.command.empty() ? k.exe : k.command);
      if (!k.origin.empty()) out += " \\[" + markdown_escape(k.origin.describe()) + "\\]";
      out += "\n";
    }
    if (!s.killed.empty()) out += "\n";
  }
  if (!s.findings.empty()) {
    out += "**Findings**\n\n";
    for (const Finding& f : s.findings) {
      out += "- **" + markdown_escape(f.type) + "**: " + markdown_escape(f.message);
      if (!f.origin.empty()) out += " \\[" + markdown_escape(f.origin.describe()) + "\\]";
      out += "\n";
    }
    out += "\n";
  }
  for (const std::string& why : incompleteness(s)) {
    out += "**Incomplete**: " + markdown_escape(why) + ".\n\n";
  }
  if (!s.sources.empty()) {
    std::string seen;
    for (const std::string& source : s.sources) seen += (seen.empty() ? "" : ", ") + source;
    out += "<sub>seen by: " + markdown_escape(seen) + "</sub>\n\n";
  }
  return out;
}

}  // namespace moat::report
