// Text that came from the sandbox (paths, process names, package names, DNS names, SNI), shown
// to a person. A malicious install script chooses those bytes: printed raw, an escape sequence
// would rewrite the terminal (clear the line that names the script, print a forged "all clear",
// set the title, or write the clipboard with OSC 52), and a bidirectional override would make a
// path read as another. So every such string is shown as what it is, never interpreted.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace moat::policy {

// The length of the valid UTF-8 sequence at S[0], or 0 (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF). S must not be empty.
std::size_t utf8_sequence_length(std::string_view s);

// Code points that change how the text around them is displayed without being visible
// themselves: C1 controls, bidirectional embeddings, overrides, isolates and marks, zero-width
// characters, line and paragraph separators, the byte order mark, interlinear annotations.
bool is_deceptive_code_point(char32_t c);

// S with every deceptive code point written out as "U+XXXX" and every byte that is not UTF-8 as
// U+FFFD; all else unchanged. For renderers (HTML, markdown) that escape their own specials after.
std::string visible_code_points(std::string_view s);

// S for a terminal line: printable text as is; a backslash doubled; \n \r \t, \e (ESC) and
// \xNN for other control bytes and for bytes that are not UTF-8; \u{XXXX} for deceptive code
// points. At most LIMIT bytes of S are shown, then "...(N more bytes)".
std::string terminal_text(std::string_view s, std::size_t limit = 400);

}  // namespace moat::policy
