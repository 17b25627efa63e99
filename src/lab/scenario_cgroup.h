// The cgroup lab scenario: a receiver in a v1 memory cgroup whose own TCP memory limit runs out
// (cgroup-tcp-memory). Row for the table in lab/scenarios.cpp.
#pragma once

#include "lab/scenarios.h"

namespace cd {

ScenarioInfo cgroup_tcp_memory_scenario();

}  // namespace cd
