// `moat report FILE [--format text|json] [--html OUT]`: the summary of a run again, from its
// audit file alone. Lines that are not events of our schema are errors with their line number:
// a report that silently skipped part of the record would mislead.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "policy/display_text.h"
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
      // The parser quotes the bytes it stopped at, and an audit file may come from anywhere.
      std::fprintf(stderr, "moat: report: %s:%d: %s\n", options.audit_file.c_str(), number,
                   policy::terminal_text(why).c_str());
      return 125;
    }
    events.push_back(std::move(*event));
  }
  report::Summary summary = report::summarize(events);
  if (!options.html_out.empty()) {
    // Never through a symlink: the page is often written into the project a sandboxed run
    // just had, which may have left one pointing at a file of the user's.
    const std::string page = report::render_html(events);
    const int fd = ::open(options.html_out.c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    const bool written =
        fd >= 0 && ::write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size());
    const int err = errno;
    if (fd >= 0) ::close(fd);
    if (!written) {
      std::fprintf(stderr, "moat: report: cannot write %s: %s\n", options.html_out.c_str(),
                   std::strerror(err));
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
