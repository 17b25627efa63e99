// Records this machine's state into a directory that replays it offline:
//   DIR/proc/...         copies of exactly the procfs files the collectors read
//   DIR/sock_diag.bin    the sock_diag transcript of one dump_all()
//   DIR/conntrack.bin    the ctnetlink/nf_tables transcript (when a transport is given)
// Replay: `conndoctor check --proc-root DIR/proc --sock-diag-dump DIR/sock_diag.bin
//          [--conntrack-dump DIR/conntrack.bin]`.
#pragma once

#include <memory>
#include <string>

#include "collect/conntrack_source.h"
#include "collect/proc_fs.h"
#include "collect/sock_source.h"
#include "util/error.h"

namespace cd {

// DIR may exist but DIR/proc must not (a recording is never merged into an older one).
// Only processes of the caller's network namespace are recorded (the scan keeps no others).
// Files and processes that cannot be read are left out, as a replay would then report them;
// without root other users' fd links are unreadable, so record as root for a full copy.
// `conntrack`, when not null, is asked every conntrack question a reading asks (per-CPU and
// global stats, the table, the NAT rules); refusals (no CAP_NET_ADMIN) are recorded as such.
Result<void> record_state(const ProcFs& proc, SockSource& live,
                          std::unique_ptr<NetfilterTransport> conntrack, const std::string& dir);

}  // namespace cd
