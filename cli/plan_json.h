// The Plan as JSON, both ways: for the plan cache, and for tools that want to read a plan.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "policy/plan.h"

namespace moat::cli {

nlohmann::json plan_to_json(const policy::Plan& plan);
// nullopt when the JSON does not describe a plan (wrong shape or types).
std::optional<policy::Plan> plan_from_json(const nlohmann::json& json);

}  // namespace moat::cli
