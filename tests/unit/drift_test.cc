// Drift from a learned profile: what is new, and an account with holes that cannot show there is
// none (`moat run --fail-on-drift` fails on both).
#include "sandboxd/report/drift.h"

#include <gtest/gtest.h>

#include <string>

namespace moat::report {
namespace {

policy::Plan learned_plan() {
  policy::Plan plan;
  plan.learned_from = "make test";
  plan.paths.push_back({"/h/.myapp", policy::kAccessRead | policy::kAccessWrite, {}});
  return plan;
}

WrittenFile written(const std::string& first) {
  WrittenFile w;
  w.path = first;
  w.op = "create";
  w.first = first;
  w.count = 1;
  return w;
}

TEST(Drift, LearnedWritesAreNoDriftNewOnesAre) {
  Summary s;
  s.written_outside = {written("/h/.myapp/state")};
  Drift d = drift_of(s, learned_plan());
  EXPECT_EQ(d.count, 0u);
  EXPECT_FALSE(drift_fails(d));
  EXPECT_EQ(render_drift(d, "make test", true), "");
  s.written_outside.push_back(written("/h/.other"));
  d = drift_of(s, learned_plan());
  EXPECT_EQ(d.count, 1u);
  EXPECT_TRUE(drift_fails(d));
  EXPECT_NE(render_drift(d, "make test", false).find("moat: drift: this run did 1 thing"),
            std::string::npos);
}

// Lost or unkept events may be exactly the drift: "no drift" cannot be shown, and is not claimed.
TEST(Drift, AnIncompleteAccountCannotShowThereIsNone) {
  for (bool lost : {true, false}) {
    Summary s;
    s.written_outside = {written("/h/.myapp/state")};
    (lost ? s.lost_events : s.not_kept_events) = 12;
    const Drift d = drift_of(s, learned_plan());
    EXPECT_EQ(d.count, 0u);
    EXPECT_TRUE(d.incomplete);
    EXPECT_TRUE(drift_fails(d)) << "--fail-on-drift passed a run whose account has holes";
    const std::string line = render_drift(d, "make test", false);
    EXPECT_NE(line.find("moat: drift: unknown"), std::string::npos) << line;
    EXPECT_NE(line.find("incomplete"), std::string::npos) << line;
    EXPECT_NE(render_drift(d, "make test", true).find("--fail-on-drift"), std::string::npos);
  }
  // Events missing only from the audit file are still in this account.
  Summary s;
  s.not_written_events = 3;
  EXPECT_FALSE(drift_fails(drift_of(s, learned_plan())));
}

TEST(Drift, DriftInAnIncompleteAccountSaysThereMayBeMore) {
  Summary s;
  s.written_outside = {written("/h/.other")};
  s.lost_events = 1;
  const std::string line = render_drift(drift_of(s, learned_plan()), "make\x1b]0;x\x07", false);
  EXPECT_NE(line.find("there may be more"), std::string::npos) << line;
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << "the profile's command drove the terminal";
}

}  // namespace
}  // namespace moat::report
