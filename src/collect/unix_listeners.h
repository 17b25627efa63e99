// The listening AF_UNIX sockets of the namespace: one small SOCK_DIAG_BY_FAMILY dump
// (listeners only, so the kernel walks its unix table but sends little) into the snapshot.
#pragma once

#include <optional>
#include <vector>

#include "collect/sock_source.h"
#include "snapshot/snapshot.h"
#include "util/error.h"

namespace cd {

// The unix listeners of `src`, or nullopt when the source cannot tell (a recording without a
// unix section). A dump flagged NLM_F_DUMP_INTR is taken again (kDumpAttempts in all, as the
// TCP dump); any other error is returned: the caller names it in `missing` and goes on, since
// the TCP picture does not depend on it.
Result<std::optional<std::vector<UnixListener>>> collect_unix_listeners(SockSource& src);

}  // namespace cd
