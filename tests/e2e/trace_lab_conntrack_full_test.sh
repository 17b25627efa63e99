#!/usr/bin/env bash
# conndoctor trace during lab conntrack-full: the NETFILTER_DROP drops traced in the lab's
# namespace equal the new flows the lab's generator saw dropped while the table was full.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/trace_lib.sh"
lab_require
trace_require
trace_lab_run conntrack-full INT
trace_lab_check '
# "N new flows tried while the table was full, M dropped" (the generator own count)
n = told(r"while the table was full, ([\d,]+) dropped")
expect(n > 0, "the generator reported no dropped flows")
traced = sum(d["count"] for d in t["drops"]
             if d["reason"] == "NETFILTER_DROP" and d["netns"] == lab["netns_inode"])
expect(traced == n, "traced %d NETFILTER_DROP in netns %d, the generator saw %d dropped"
       % (traced, lab["netns_inode"], n))
print("ok: %d NETFILTER_DROP traced in the lab namespace = the generator count" % traced)
'
lab_assert_no_leftovers
