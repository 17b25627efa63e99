// The conntrack table from the ctnetlink dump as JSON, for resources.conntrack.table of the
// report: null when the table was not dumped (it is then named in "missing").
#pragma once

#include <nlohmann/json.hpp>

#include "snapshot/conntrack_table.h"

namespace cd {

nlohmann::ordered_json conntrack_table_json(const ConntrackTable& t);

}  // namespace cd
