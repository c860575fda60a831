// The HTML page; see html_report.h. Sections carry ids (summary, findings, denials, hosts,
// written, killed, tree, timeline) so tests and readers can find them.
#include "sandboxd/report/html_report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "policy/display_text.h"
#include "sandboxd/report/summary.h"

namespace moat::report {
namespace {

constexpr size_t kMaxTimelineRows = 2000;
constexpr int kMaxTreeDepth = 64;

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d2430;background:#fbfbfd}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em;border-bottom:1px solid #dde}
table{border-collapse:collapse;width:100%;margin:.3em 0}th,td{text-align:left;padding:.25em .5em;
border-bottom:1px solid #e6e6ee;vertical-align:top}th{background:#f0f1f6;font-weight:600}
code,.mono{font-family:ui-monospace,monospace;font-size:.92em;word-break:break-all}
.cards{display:flex;gap:.8em;flex-wrap:wrap}.card{background:#fff;border:1px solid #dde;border-radius:6px;
padding:.6em 1em;min-width:8em}.card b{display:block;font-size:1.6em}.bad b{color:#b3261e}
.refused{color:#b3261e;font-weight:600}.allowed{color:#1b6e3a}.origin{background:#fff4d6;
border-radius:3px;padding:0 .3em;font-size:.9em}.muted{color:#778}ul.tree{list-style:none;
padding-left:1.2em;border-left:1px dotted #bbc}ul.tree.root{border:none;padding-left:0}
svg{background:#fff;border:1px solid #dde;border-radius:4px}
)";

std::string esc(std::string_view s) { return html_escape(s); }

std::string origin_badge(const Origin& o) {
  return o.empty() ? std::string() : " <span class=\"origin\">" + esc(o.describe()) + "</span>";
}

std::string joined_argv(const nlohmann::json& argv) {
  std::string out;
  if (!argv.is_array()) return out;
  for (const auto& a : argv) {
    if (!a.is_string()) continue;
    if (!out.empty()) out += ' ';
    out += a.get<std::string>();
  }
  return out;
}

std::string what_of(const Event& e) {
  const nlohmann::json& d = e.detail;
  auto text = [&](const char* key) { return d.value(key, std::string()); };
  if (e.kind == "connect") {
    std::string name = text("name");
    std::string_view call = socket_call(e);
    return (name.empty() ? "" : name + " ") + (call == "connect" ? "" : std::string(call) + " ") +
           socket_address(e);
  }
  if (e.kind == "dns") return text("name");
  if (e.kind == "exec") {
    std::string out = joined_argv(d.value("argv", nlohmann::json::array()));
    return out.empty() ? e.exe : out;
  }
  if (e.kind == "exit") {
    return "status " + std::to_string(d.value("status", 0)) +
           (d.value("signal", 0) != 0 ? " signal " + std::to_string(d.value("signal", 0)) : "");
  }
  if (e.kind == "rename") return text("path") + " -> " + text("to");
  if (e.kind == "deny") return text("op") + " " + text("path");
  if (e.kind == "finding") return text("message");
  if (e.kind == "run") return "profile " + text("profile") + ", project " + text("project");
  if (e.kind == "end") return "exit " + std::to_string(d.value("exit_code", 0));
  return text("path");
}

struct ProcessNode {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::vector<std::string> images;  // what it executed, in order
  std::string command;
  Origin origin;
  std::string exit;
  int denials = 0;
  std::vector<pid_t> children;
};

void render_tree(const std::map<pid_t, ProcessNode>& nodes, pid_t pid, int depth,
                 std::set<pid_t>& seen, std::string& out) {
  auto it = nodes.find(pid);
  if (it == nodes.end() || depth > kMaxTreeDepth || !seen.insert(pid).second) return;
  const ProcessNode& n = it->second;
  out += "<li><span class=\"mono\">" + std::to_string(n.pid) + "</span> <code>" +
         esc(n.command.empty() ? (n.images.empty() ? "?" : n.images.back()) : n.command) +
         "</code>" + origin_badge(n.origin);
  if (n.denials > 0) out += " <span class=\"refused\">" + std::to_string(n.denials) + " refused</span>";
  if (!n.exit.empty()) out += " <span class=\"muted\">" + esc(n.exit) + "</span>";
  if (!n.children.empty()) {
    out += "<ul class=\"tree\">";
    for (pid_t child : n.children) render_tree(nodes, child, depth + 1, seen, out);
    out += "</ul>";
  }
  out += "</li>";
}

std::string process_tree(const std::vector<Event>& events) {
  std::map<pid_t, ProcessNode> nodes;
  for (const Event& e : events) {
    if (e.pid == 0) continue;
    ProcessNode& n = nodes[e.pid];
    n.pid = e.pid;
    if (e.ppid != 0) n.ppid = e.ppid;
    // A leftover's origin comes from the environment it chose; the watch's, when there is one,
    // was followed from its exec.
    if (!e.origin.empty() && (e.kind != "kill-at-exit" || n.origin.empty())) n.origin = e.origin;
    if (e.kind == "exec") {
      n.images.push_back(e.exe);
      n.command = what_of(e);
    } else if (e.kind == "exit") {
      n.exit = what_of(e);
    } else if (e.kind == "kill-at-exit") {
      n.exit = "killed at exit";
    }
    if (e.verdict == "refused") n.denials++;
  }
  std::vector<pid_t> roots;
  for (auto& [pid, n] : nodes) {
    auto parent = nodes.find(n.ppid);
    if (n.ppid != 0 && n.ppid != pid && parent != nodes.end()) {
      parent->second.children.push_back(pid);
    } else {
      roots.push_back(pid);
    }
  }
  std::string out = "<ul class=\"tree root\">";
  std::set<pid_t> seen;
  for (pid_t root : roots) render_tree(nodes, root, 0, seen, out);
  out += "</ul>";
  if (nodes.empty()) out = "<p class=\"muted\">No process events (the watch needs root).</p>";
  return out;
}

std::string timeline_strip(const std::vector<Event>& events) {
  std::int64_t first = 0, last = 0;
  for (const Event& e : events) {
    if (e.time_ns == 0) continue;
    if (first == 0 || e.time_ns < first) first = e.time_ns;
    last = std::max(last, e.time_ns);
  }
  constexpr int kWidth = 900, kHeight = 60, kBuckets = 150;
  std::vector<int> all(kBuckets, 0), refused(kBuckets, 0);
  double span = static_cast<double>(std::max<std::int64_t>(last - first, 1));
  for (const Event& e : events) {
    if (e.time_ns == 0) continue;
    int b = std::min(kBuckets - 1, static_cast<int>((e.time_ns - first) / span * kBuckets));
    all[b]++;
    if (e.verdict == "refused") refused[b]++;
  }
  int peak = std::max(1, *std::max_element(all.begin(), all.end()));
  std::string out = "<svg width=\"" + std::to_string(kWidth) + "\" height=\"" +
                    std::to_string(kHeight) + "\" role=\"img\" aria-label=\"events over time\">";
  double bar = static_cast<double>(kWidth) / kBuckets;
  char buf[160];
  for (int b = 0; b < kBuckets; ++b) {
    if (all[b] == 0) continue;
    double h = (kHeight - 4) * all[b] / static_cast<double>(peak) + 2;
    std::snprintf(buf, sizeof(buf), "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
                  b * bar, kHeight - h, bar - 0.5, h, refused[b] > 0 ? "#b3261e" : "#5b7bd5");
    out += buf;
  }
  out += "</svg><p class=\"muted\">" + std::to_string(events.size()) + " events over " +
         std::to_string((last - first) / 1000000) + " ms; red: a refusal in that interval.</p>";
  return out;
}

std::string table(const std::vector<std::string>& headers,
                  const std::vector<std::vector<std::string>>& rows, const std::string& empty) {
  if (rows.empty()) return "<p class=\"muted\">" + esc(empty) + "</p>";
  std::string out = "<table><tr>";
  for (const std::string& h : headers) out += "<th>" + esc(h) + "</th>";
  out += "</tr>";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const std::string& cell : row) out += "<td>" + cell + "</td>";  // cells arrive escaped
    out += "</tr>";
  }
  return out + "</table>";
}

std::string card(const std::string& label, size_t count, bool bad) {
  return std::string("<div class=\"card") + (bad && count > 0 ? " bad" : "") + "\"><b>" +
         std::to_string(count) + "</b>" + esc(label) + "</div>";
}

}  // namespace

std::string html_escape(std::string_view raw) {
  // Bidirectional overrides and invisible characters would make one path read as another.
  const std::string text = policy::visible_code_points(raw);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters would let a file name forge lines; show them as U+FFFD.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
          out += "&#xFFFD;";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string render_html(const std::vector<Event>& events) {
  Summary s = summarize(events);
  std::string command, profile, project;
  std::int64_t started = 0;
  for (const Event& e : events) {
    if (e.kind != "run") continue;
    profile = e.detail.value("profile", std::string());
    project = e.detail.value("project", std::string());
    command = joined_argv(e.detail.value("argv", nlohmann::json::array()));
    started = e.time_ns;
  }
  std::string out =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\"><title>moat report</title><style>";
  out += kStyle;
  out += "</style></head><body><h1>moat report</h1><p><code>" + esc(command) + "</code>";
  if (!profile.empty()) out += " &middot; profile <b>" + esc(profile) + "</b>";
  if (!project.empty()) out += " &middot; project <code>" + esc(project) + "</code>";
  if (s.has_run_end) out += " &middot; exit " + std::to_string(s.exit_code);
  out += "</p><p class=\"muted\">Observed by: ";
  for (size_t i = 0; i < s.sources.size(); ++i) out += (i ? ", " : "") + esc(s.sources[i]);
  out += "</p>";
  for (const std::string& why : incompleteness(s)) {
    out += "<p class=\"refused\">" + esc(why) + ".</p>";
  }
  out += "<section id=\"summary\"><div class=\"cards\">" +
         card("refused", s.denials.size(), true) + card("findings", s.findings.size(), true) +
         card("hosts contacted", s.hosts.size(), false) +
         card("written outside project", s.written_outside.size(), true) +
         card("killed at exit", s.killed.size(), true) + "</div></section>";

  std::vector<std::vector<std::string>> rows;
  for (const Finding& f : s.findings) {
    rows.push_back({esc(f.type), esc(f.message), "<code>" + esc(f.exe) + "</code>" + origin_badge(f.origin)});
  }
  out += "<section id=\"findings\"><h2>Findings</h2>" +
         table({"finding", "what", "process"}, rows, "No findings.") + "</section>";
  rows.clear();
  for (const Denial& d : s.denials) {
    rows.push_back({"<code>" + esc(d.what) + "</code>", std::to_string(d.count), esc(d.layer),
                    "<code>" + esc(d.exe) + "</code>" + origin_badge(d.origin), esc(d.reason)});
  }
  out += "<section id=\"denials\"><h2>Refused</h2>" +
         table({"what", "count", "layer", "process", "reason"}, rows, "Nothing was refused.") +
         "</section>";
  rows.clear();
  for (const HostContact& h : s.hosts) rows.push_back({"<code>" + esc(h.host) + "</code>", std::to_string(h.count)});
  out += "<section id=\"hosts\"><h2>Hosts contacted</h2>" +
         table({"host", "connections"}, rows, "No connections.") + "</section>";
  rows.clear();
  for (const WrittenFile& w : s.written_outside) {
    std::string where = w.path.empty()  ? "(relative to an unknown directory) " + w.first + " (" +
                                              std::to_string(w.count) + " changes)"
                        : w.count == 1  ? w.first
                                        : w.path + "/... (" + std::to_string(w.count) + " changes)";
    rows.push_back({"<code>" + esc(where) + "</code>", esc(w.op),
                    "<code>" + esc(w.exe) + "</code>" + origin_badge(w.origin)});
  }
  out += "<section id=\"written\"><h2>Written outside the project and caches</h2>" +
         table({"path", "operation", "process"}, rows, "Nothing.") + "</section>";
  rows.clear();
  for (const KilledProcess& k : s.killed) {
    rows.push_back({std::to_string(k.pid), "<code>" + esc(k.command.empty() ? k.exe : k.command) +
                                               "</code>" + origin_badge(k.origin)});
  }
  out += "<section id=\"killed\"><h2>Still running at exit (killed)</h2>" +
         table({"pid", "process"}, rows, "Nothing was left running.") + "</section>";
  out += "<section id=\"tree\"><h2>Processes</h2>" + process_tree(events) + "</section>";

  out += "<section id=\"timeline\"><h2>Timeline</h2>" + timeline_strip(events);
  rows.clear();
  for (const Event& e : events) {
    if (rows.size() >= kMaxTimelineRows) break;
    char when[32];
    std::snprintf(when, sizeof(when), "%.1f",
                  started && e.time_ns ? static_cast<double>(e.time_ns - started) / 1e6 : 0.0);
    std::string verdict = e.verdict.empty() ? "" : "<span class=\"" + esc(e.verdict) + "\">" + esc(e.verdict) + "</span>";
    rows.push_back({when, std::to_string(e.pid), esc(e.kind), "<code>" + esc(what_of(e)) + "</code>",
                    verdict, "<code>" + esc(e.exe) + "</code>" + origin_badge(e.origin)});
  }
  out += table({"ms", "pid", "event", "what", "verdict", "process"}, rows, "No events.");
  if (events.size() > kMaxTimelineRows) {
    out += "<p class=\"muted\">" + std::to_string(events.size() - kMaxTimelineRows) +
           " more events are in the audit file.</p>";
  }
  out += "</section></body></html>\n";
  return out;
}

}  // namespace moat::report
