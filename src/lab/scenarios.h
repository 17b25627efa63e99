// The lab's scenarios: one real exhaustion each, as a table of {name, description, sysctls,
// start}. `start` runs inside the lab namespace (sysctls already set), spawns the load and
// returns once the failure is live; the lab then diagnoses and stops the load.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "lab/load.h"
#include "util/error.h"

namespace cd {

struct Sysctl {
  std::string_view key;
  std::string_view value;
};

struct ScenarioInfo {
  std::string_view name;
  std::string_view description;  // one line: what the kernel is made to do
  std::string_view expect;       // one line: what the diagnosis should say
  std::vector<Sysctl> sysctls;   // net.* keys of the lab namespace
  Result<void> (*start)(LoadSet& load);
};

const std::vector<ScenarioInfo>& lab_scenarios();
const ScenarioInfo* find_scenario(std::string_view name);

}  // namespace cd
