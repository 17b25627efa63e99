// `check --trace`: folds what the tracer counted into the findings' evidence. Traced facts are
// observations, not inferences: the ephemeral_ports finding names the processes whose
// connect() failed with EADDRNOTAVAIL and the traced owner of the churn (confidence "traced");
// file_descriptors findings carry the EMFILE/ENFILE counts; accept_queue findings the listen
// overflow drops; conntrack findings the netfilter drops and their top destinations; the
// bind-pool finding (ephemeral_ports.host_wide) the bind(addr, 0) calls that failed with
// EADDRINUSE on its address, which makes it critical and names the failing process.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "analyse/analysis.h"
#include "snapshot/snapshot.h"
#include "snapshot/trace_result.h"

namespace cd {

// The runtime a process runs (collect/runtime_detect on a live host); empty = not looked up.
using RuntimeLookup =
    std::function<std::optional<RuntimeInfo>(int32_t pid, const std::string& comm)>;

// The process `pid` as the diagnosis's reading listed it (its container identity, and the
// runtime when the reading detected it); nullptr when the reading does not list it.
using ProcessLookup = std::function<const ProcessInfo*(int32_t pid, const std::string& comm)>;

// A lookup in `r.processes`: the process with this pid and comm (another comm is another
// process that reused the pid).
ProcessLookup processes_in(const Reading& r);

// When the trace names a churn owner other than the inferred one, every key naming the owner
// describes the traced process: `process_of` gives its container identity (null when it cannot
// tell: no lookup, or the reading does not list the process) and `runtime_of` its runtime so
// that the plan's first step names that runtime's setting (without `runtime_of`, the runtime
// `process_of` gives; null and the generic step when neither knows).
void merge_trace(Analysis& analysis, const TraceResult& trace, const RuntimeLookup& runtime_of = {},
                 const ProcessLookup& process_of = {});

}  // namespace cd
