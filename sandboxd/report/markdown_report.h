// The summary as GitHub-flavoured markdown, for a CI job's step summary ($GITHUB_STEP_SUMMARY):
// denials, hosts, writes outside, processes killed, findings. Every string in it came from the
// sandbox, so every string is escaped (GitHub renders markdown and some HTML).
#pragma once

#include <string>
#include <string_view>

#include "sandboxd/report/summary.h"

namespace moat::report {

struct MarkdownHeading {
  std::string command;  // what ran, for the heading
  std::string profile;  // the profile's name
};

// Text that renders as itself: HTML and markdown specials escaped, control characters and
// newlines as spaces, deceptive code points as "U+XXXX" (display_text.h), at most `limit` bytes
// (then "...").
std::string markdown_escape(std::string_view text, std::size_t limit = 300);

// One section, ending with a blank line; always says something (a clean run says so).
std::string render_markdown(const Summary& summary, const MarkdownHeading& heading);

// The section for a run that never started: the sandbox could not be set up (exit 125, 126 or
// 127), with moat's message (what is missing and how to fix it).
std::string render_markdown_failure(const MarkdownHeading& heading, int exit_code,
                                    std::string_view message);

}  // namespace moat::report
