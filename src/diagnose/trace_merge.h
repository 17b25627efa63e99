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
#include "snapshot/trace_result.h"

namespace cd {

// The runtime a process runs (collect/runtime_detect on a live host); empty = not looked up.
using RuntimeLookup =
    std::function<std::optional<RuntimeInfo>(int32_t pid, const std::string& comm)>;

// When the trace names a churn owner other than the inferred one, `runtime_of` looks up its
// runtime so that the plan's first step names that runtime's setting.
void merge_trace(Analysis& analysis, const TraceResult& trace,
                 const RuntimeLookup& runtime_of = {});

}  // namespace cd
