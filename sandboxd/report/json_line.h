// The audit file's JSON lines, written directly: the watch produces tens of thousands of events
// a second, and building an nlohmann object per event only to print it cost more CPU than the
// rest of the event's path. The text is the one EventLog::to_json(e) would print: keys in sorted
// order, detail keys over the common ones, invalid UTF-8 replaced by U+FFFD.
#pragma once

#include <string>
#include <string_view>

#include "sandboxd/report/event_log.h"

namespace moat::report {

// S as a JSON string literal: quotes, escapes, each invalid UTF-8 sequence as U+FFFD.
void append_json_string(std::string& out, std::string_view s);

// The event as one line of JSON, with its newline.
void append_event_line(std::string& out, const Event& e);

}  // namespace moat::report
