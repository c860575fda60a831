// The direct audit-line writer prints exactly what the general nlohmann path prints.
#include <gtest/gtest.h>

#include "sandboxd/report/json_line.h"

namespace moat::report {
namespace {

std::string direct(const Event& e) {
  std::string out;
  append_event_line(out, e);
  return out;
}
std::string general(const Event& e) { return json_text(EventLog::to_json(e)) + "\n"; }

TEST(JsonLine, SameTextAsTheGeneralPath) {
  Event file;
  file.kind = "create";
  file.time_ns = 1795455766516000123;
  file.pid = 4242;
  file.ppid = 4241;
  file.exe = "/usr/bin/node";
  file.origin = Origin{"npm", "evil-pkg", "1.0.0", "postinstall"};
  file.verdict = "refused";
  file.layer = "watch";
  file.detail = {{"path", "/home/u/.bashrc"}, {"errno", "EACCES"}, {"flags", -1},
                 {"size", 18446744073709551615ULL}, {"ok", true}, {"none", nullptr},
                 {"argv", {"sh", "-c", "echo \"hi\"\n\t\x01"}}, {"ratio", 0.5},
                 {"nested", {{"z", 1}, {"a", "b"}}}};
  EXPECT_EQ(direct(file), general(file));

  Event bare;
  bare.kind = "exit";
  EXPECT_EQ(direct(bare), general(bare));

  Event origin_short;  // optional origin fields absent
  origin_short.kind = "exec";
  origin_short.origin = Origin{"pip", "wheelpkg", "", "build"};
  EXPECT_EQ(direct(origin_short), general(origin_short));
  origin_short.origin.dependency = true;
  EXPECT_EQ(direct(origin_short), general(origin_short));
  EXPECT_NE(direct(origin_short).find("\"dependency\":true"), std::string::npos);
  // ...and back: the audit file keeps it.
  std::string why;
  auto parsed = EventLog::from_json(direct(origin_short), &why);
  ASSERT_TRUE(parsed) << why;
  EXPECT_TRUE(parsed->origin.dependency);

  Event clash;  // a detail key equal to a common one wins, as in the merged object
  clash.kind = "deny";
  clash.layer = "mount";
  clash.detail = {{"layer", "mask"}, {"kind", "override"}, {"path", "/x"}};
  EXPECT_EQ(direct(clash), general(clash));

  Event unicode;
  unicode.kind = "write";
  unicode.detail = {{"path", "/p/caf\xC3\xA9/\xF0\x9F\x98\x80/\xE2\x82\xAC\x7F"}};
  EXPECT_EQ(direct(unicode), general(unicode));
}

TEST(JsonLine, InvalidUtf8BecomesReplacementCharacters) {
  for (std::string bad : {std::string("bad\xFFname"), std::string("\xC3"), std::string("\xE2\x82"),
                          std::string("\xED\xA0\x80"), std::string("\xC0\xAF"),
                          std::string("\xF4\x90\x80\x80"), std::string("a\xF0\x9F\x98")}) {
    Event e;
    e.kind = "create";
    e.exe = bad;
    e.detail = {{"path", bad}};
    const std::string line = direct(e);
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    EXPECT_NE(parsed["path"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << line;
    std::string why;
    ASSERT_TRUE(EventLog::from_json(line, &why).has_value()) << why;
  }
  std::string out;
  append_json_string(out, std::string("bad\xFFname"));
  EXPECT_EQ(out, "\"bad\xEF\xBF\xBDname\"");
}

}  // namespace
}  // namespace moat::report
