// `moat report --html`: one self-contained page (no scripts, no external assets, a CSP that
// forbids both) with the process tree and its origins, a timeline, and the summary's tables.
// Every string in it came from the sandbox, so every string is escaped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/report/event_log.h"

namespace moat::report {

std::string html_escape(std::string_view text);
std::string render_html(const std::vector<Event>& events);

}  // namespace moat::report
