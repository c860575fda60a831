// Drift: what a run under a learned profile did that the run it was learned from did not, and
// whether this run's account is complete enough to tell. Pure: the CLI prints and exits.
#pragma once

#include <cstddef>
#include <string>

#include "policy/plan.h"
#include "sandboxd/report/summary.h"

namespace moat::report {

struct Drift {
  std::size_t count = 0;  // refusals, and writes outside the profile's write grants
  // Events were lost or not kept: drift may hide in them, so "no drift" cannot be shown.
  bool incomplete = false;
};

Drift drift_of(const Summary& summary, const policy::Plan& plan);

// The `moat: drift:` line (empty when there is nothing to say); `learned_from` is the command the
// profile was learned from.
std::string render_drift(const Drift& drift, const std::string& learned_from, bool fail_on_drift);

// With --fail-on-drift: the run fails when it drifted or cannot show that it did not.
inline bool drift_fails(const Drift& drift) { return drift.count > 0 || drift.incomplete; }

}  // namespace moat::report
