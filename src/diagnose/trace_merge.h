// `check --trace`: folds what the tracer counted into the findings' evidence. Traced facts are
// observations, not inferences: the ephemeral_ports finding names the processes whose
// connect() failed with EADDRNOTAVAIL and the traced owner of the churn (confidence "traced");
// file_descriptors findings carry the EMFILE/ENFILE counts; accept_queue findings the listen
// overflow drops; conntrack findings the netfilter drops and their top destinations.
#pragma once

#include "analyse/analysis.h"
#include "snapshot/trace_result.h"

namespace cd {

void merge_trace(Analysis& analysis, const TraceResult& trace);

}  // namespace cd
