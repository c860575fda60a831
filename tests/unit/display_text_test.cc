// Text from the sandbox shown to a person: no escape sequence reaches the terminal, no
// bidirectional override or invisible character makes one string read as another.
#include "policy/display_text.h"

#include <gtest/gtest.h>

#include <string>

namespace moat::policy {
namespace {

using std::string_literals::operator""s;

TEST(TerminalText, PrintableTextIsUnchanged) {
  EXPECT_EQ(terminal_text("/home/u/.cache/pip/wheels/ab"), "/home/u/.cache/pip/wheels/ab");
  EXPECT_EQ(terminal_text("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xa6"),
            "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xa6");
}

TEST(TerminalText, ControlBytesAreShownNotSent) {
  // A forged line: set the title, clear the real line, print a fake all-clear.
  EXPECT_EQ(terminal_text("/etc/\x1b]0;PWNED\x07\x1b[2K\rmoat: all clear\n"),
            "/etc/\\e]0;PWNED\\x07\\e[2K\\rmoat: all clear\\n");
  EXPECT_EQ(terminal_text("a\tb\x7f"s + '\0' + "c"), "a\\tb\\x7f\\x00c");
  // OSC 52 would write the clipboard on many terminals.
  EXPECT_EQ(terminal_text("\x1b]52;c;ZWNobyBwd25lZA==\x1b\\"), "\\e]52;c;ZWNobyBwd25lZA==\\e\\\\");
}

TEST(TerminalText, BackslashIsDoubledSoEscapesCannotBeForged) {
  // A name that spells "\e" must not read like an ESC byte moat escaped.
  EXPECT_EQ(terminal_text("a\\e[31m"), "a\\\\e[31m");
}

TEST(TerminalText, InvalidUtf8AndC1ControlsAreEscaped) {
  EXPECT_EQ(terminal_text("\x9b"
                          "31m"),
            "\\x9b31m");  // a lone 8-bit CSI byte
  EXPECT_EQ(terminal_text("\xc2\x9b"
                          "31m"),
            "\\u{009b}31m");                                    // CSI as a code point
  EXPECT_EQ(terminal_text("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(terminal_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(terminal_text("\xe2\x82"), "\\xe2\\x82");           // truncated
}

TEST(TerminalText, BidiAndInvisibleCodePointsAreNamed) {
  // "exe.txt" with a right-to-left override reads as "txt.exe".
  EXPECT_EQ(terminal_text("evil\xe2\x80\xaetxt.exe"), "evil\\u{202e}txt.exe");
  EXPECT_EQ(terminal_text("reg\xe2\x80\x8bistry"), "reg\\u{200b}istry");         // zero-width space
  EXPECT_EQ(terminal_text("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u{2066}x\\u{2069}");  // isolates
  EXPECT_EQ(terminal_text("\xef\xbb\xbfname"), "\\u{feff}name");
}

TEST(TerminalText, LongTextIsCut) {
  const std::string long_path(5000, 'a');
  const std::string shown = terminal_text(long_path, 100);
  EXPECT_EQ(shown, std::string(100, 'a') + "...(4900 more bytes)");
}

TEST(VisibleCodePoints, ForRenderersThatEscapeTheirOwnSpecials) {
  EXPECT_EQ(visible_code_points("a\xe2\x80\xaez<b>"), "aU+202Ez<b>");
  EXPECT_EQ(visible_code_points("x\xffy"), "x\xef\xbf\xbdy");
  EXPECT_EQ(visible_code_points("plain \xc3\xa9"), "plain \xc3\xa9");
}

TEST(DeceptiveCodePoints, Boundaries) {
  EXPECT_TRUE(is_deceptive_code_point(0x80));
  EXPECT_TRUE(is_deceptive_code_point(0x9F));
  EXPECT_FALSE(is_deceptive_code_point(0xA0));
  EXPECT_FALSE(is_deceptive_code_point(0x200A));
  EXPECT_TRUE(is_deceptive_code_point(0x202E));
  EXPECT_FALSE(is_deceptive_code_point(0x202F));
  EXPECT_FALSE(is_deceptive_code_point(0x41));
}

}  // namespace
}  // namespace moat::policy
