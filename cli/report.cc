// `moat report FILE [--format text|json] [--html OUT]`: the summary of a run again, from its
// audit file alone. Lines that are not events of our schema are errors with their line number:
// a report that silently skipped part of the record would mislead.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "sandboxd/report/event_log.h"
#include "sandboxd/report/html_report.h"
#include "sandboxd/report/summary.h"

namespace moat::cli {

int report_main(const ReportOptions& options) {
  std::ifstream in(options.audit_file);
  if (!in) {
    std::fprintf(stderr, "moat: report: cannot read %s: %s\n", options.audit_file.c_str(),
                 std::strerror(errno));
    return 125;
  }
  std::vector<report::Event> events;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    std::string why;
    auto event = report::EventLog::from_json(line, &why);
    if (!event) {
      std::fprintf(stderr, "moat: report: %s:%d: %s\n", options.audit_file.c_str(), number,
                   why.c_str());
      return 125;
    }
    events.push_back(std::move(*event));
  }
  report::Summary summary = report::summarize(events);
  if (!options.html_out.empty()) {
    std::ofstream out(options.html_out, std::ios::trunc);
    out << report::render_html(events);
    if (!out.flush()) {
      std::fprintf(stderr, "moat: report: cannot write %s\n", options.html_out.c_str());
      return 125;
    }
  }
  if (options.format == "json") {
    std::printf("%s\n", report::json_text(report::render_json(summary), 2).c_str());
  } else if (options.html_out.empty()) {
    std::string text = report::render_text(summary);
    std::fputs(text.empty() ? "moat: nothing to report: no refusals, findings, connections or "
                              "writes outside the project\n"
                            : text.c_str(),
               stdout);
  }
  return 0;
}

}  // namespace moat::cli
