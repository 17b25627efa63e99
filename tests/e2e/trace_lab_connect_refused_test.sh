#!/usr/bin/env bash
# conndoctor trace --all-netns during lab connect-refused (run without --trace): the ECONNREFUSED
# failures traced for the lab's client equal the count the client reported itself, all to
# 127.0.0.1:8080.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/trace_lib.sh"
lab_require
trace_require
trace_lab_run connect-refused TERM
trace_lab_check '
client = worker("cdlab-client")
n = told(r"blocking connects to 127\.0\.0\.1:8080: 0 connected, ([\d,]+) failed with ECONNREFUSED:")
expect(n > 0, "the client reported no ECONNREFUSED")
traced = traced_failures("connect", "ECONNREFUSED", client)
expect(traced == n, "traced %d ECONNREFUSED for pid %d, the client counted %d" % (traced, client, n))
mine = [f for f in t["failures"] if f["pid"] == client]
expect(all(f["comm"] == "cdlab-client" and f["destination"] == "127.0.0.1:8080" and f["netns"] == lab["netns_inode"]
           for f in mine), "the client failures are not all to 127.0.0.1:8080 in the lab namespace: %r" % mine)
print("ok: %d ECONNREFUSED traced for cdlab-client pid %d = its own count" % (traced, client))
'
lab_assert_no_leftovers
