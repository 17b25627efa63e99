#!/usr/bin/env bash
# lab tw-bucket-overflow: tcp_max_tw_buckets=32 with churn: a time_wait finding driven by
# TCPTimeWaitOverflow.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run tw-bucket-overflow
lab_check '
tw = findings("time_wait", ["warning", "critical"])
expect(tw, "no time_wait finding")
expect(any((f["evidence"].get("overflow_per_s") or 0) > 0 for f in tw), "no TIME_WAIT overflow rate in the evidence")
expect(any(o.startswith("TcpExt.TCPTimeWaitOverflow rose by ") and " by 0 " not in o for o in observed),
       "the generator saw no overflow")
'
lab_assert_no_leftovers
