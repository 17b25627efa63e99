#!/usr/bin/env bash
# conndoctor trace --all-netns during lab connect-timeout (run without --trace): the ETIMEDOUT
# failures traced for the lab's client equal the count the client reported itself, all to
# 198.18.0.2:80.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/trace_lib.sh"
lab_require
trace_require
trace_lab_run connect-timeout INT
trace_lab_check '
client = worker("cdlab-client")
n = told(r"connects to 198\.18\.0\.2:80 \(TCP_SYNCNT 1\): 0 connected, ([\d,]+) failed with ETIMEDOUT:")
expect(n > 0, "the client reported no ETIMEDOUT")
traced = traced_failures("connect", "ETIMEDOUT", client)
# docs/trace.md "Limits of exactness": for a few timed-out connects the SYN_SENT -> CLOSE never reach
# the programs on this kernel (up to 3 of 120 seen); never more than the client counted.
expect(n - max(3, n // 20) <= traced <= n,
       "traced %d ETIMEDOUT for pid %d, the client counted %d" % (traced, client, n))
mine = [f for f in t["failures"] if f["pid"] == client]
expect(all(f["comm"] == "cdlab-client" and f["destination"] == "198.18.0.2:80" and f["netns"] == lab["netns_inode"]
           for f in mine), "the client failures are not all to 198.18.0.2:80 in the lab namespace: %r" % mine)
print("ok: %d ETIMEDOUT traced for cdlab-client pid %d; the client counted %d" % (traced, client, n))
'
lab_assert_no_leftovers
