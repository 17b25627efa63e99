// Records this machine's state into a directory that replays it offline:
//   DIR/proc/...         copies of exactly the procfs files the collectors read
//   DIR/sock_diag.bin    the sock_diag transcript of one dump_all()
// Replay: `conndoctor check --proc-root DIR/proc --sock-diag-dump DIR/sock_diag.bin`.
#pragma once

#include <string>

#include "collect/proc_fs.h"
#include "collect/sock_source.h"
#include "util/error.h"

namespace cd {

// DIR may exist but DIR/proc must not (a recording is never merged into an older one).
// Only processes of the caller's network namespace are recorded (the scan keeps no others).
// Files and processes that cannot be read are left out, as a replay would then report them;
// without root other users' fd links are unreadable, so record as root for a full copy.
Result<void> record_state(const ProcFs& proc, SockSource& live, const std::string& dir);

}  // namespace cd
