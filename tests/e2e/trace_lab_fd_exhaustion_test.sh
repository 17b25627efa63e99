#!/usr/bin/env bash
# conndoctor trace during lab fd-exhaustion: the accept4() EMFILE failures traced for the
# lab's fd hog equal the count the hog reported itself.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/trace_lib.sh"
lab_require
trace_require
trace_lab_run fd-exhaustion TERM
# The 100-connect burst on loopback runs the TCP state tracker (cdt_set_state, a tp_btf program)
# in softirq while it already runs on the same CPU: the kernel skips those runs and the trace
# says so. This test reads only the accept4()/socket() failures, from the syscall programs.
TRACE_MISS_OK="cdt_set_state"
trace_lab_check '
hog = worker("cdlab-fdhog")
# "cdlab-fdhog at its soft RLIMIT_NOFILE: accept() on ADDR failed N times with EMFILE; ..."
n = told(r"accept\(\) on \S+ failed ([\d,]+) times with EMFILE")
expect(n > 0, "the fd hog reported no EMFILE")
traced = traced_failures("accept4", "EMFILE", hog)
expect(traced == n, "traced %d accept4 EMFILE for pid %d, the hog counted %d" % (traced, hog, n))
expect(all(f["comm"] == "cdlab-fdhog" for f in t["failures"] if f["pid"] == hog), "comm")
print("ok: %d accept4 EMFILE traced for cdlab-fdhog pid %d = its own count" % (traced, hog))
'
lab_assert_no_leftovers
