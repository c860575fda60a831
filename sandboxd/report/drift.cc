// Drift from a learned profile; see drift.h.
#include "sandboxd/report/drift.h"

#include <algorithm>

#include "policy/display_text.h"

namespace moat::report {

Drift drift_of(const Summary& summary, const policy::Plan& plan) {
  Drift d;
  // Writes under the profile's own write grants were learned; anything else is new.
  d.count = summary.denials.size();
  for (const WrittenFile& w : summary.written_outside) {
    const bool granted =
        std::any_of(plan.paths.begin(), plan.paths.end(), [&](const policy::PathRule& r) {
          return (r.access & policy::kAccessWrite) != 0 &&
                 (w.first == r.path || w.first.rfind(r.path + "/", 0) == 0);
        });
    if (!granted) ++d.count;
  }
  // Not written to the audit file is no hole in this account (drift is judged in memory).
  d.incomplete = summary.lost_events > 0 || summary.not_kept_events > 0;
  return d;
}

std::string render_drift(const Drift& drift, const std::string& learned_from, bool fail_on_drift) {
  const std::string flag = fail_on_drift ? "; --fail-on-drift" : "";
  // The command comes from the profile's text: shown, never obeyed by the terminal.
  const std::string from = policy::terminal_text(learned_from);
  if (drift.count > 0) {
    return "moat: drift: this run did " + std::to_string(drift.count) + " thing" +
           (drift.count == 1 ? "" : "s") + " the run it was learned from (`" + from +
           "`) did not (listed above)" +
           (drift.incomplete ? ", and its account is incomplete: there may be more" : "") + flag +
           "\n";
  }
  if (drift.incomplete) {
    return "moat: drift: unknown: this run's account is incomplete (above), so it cannot show that "
           "the run did nothing the run it was learned from (`" +
           from + "`) did not" + flag + "\n";
  }
  return {};
}

}  // namespace moat::report
