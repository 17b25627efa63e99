#!/usr/bin/env bash
# lab accept-overflow: a listener with backlog 8 that never accepts: accept_queue critical,
# naming the listener, with an overflow rate above zero.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run accept-overflow
lab_check '
aq = findings("accept_queue", "critical")
expect(aq, "no critical accept_queue finding")
ev = aq[0]["evidence"]
expect(ev.get("destination") == "127.0.0.1:8080", "listener not named")
expect((ev.get("overflows_per_s") or 0) > 0, "overflow rate not above 0: %r" % ev.get("overflows_per_s"))
expect(ev.get("comm") == "cdlab-server", "listener owner not named")
# sk_acceptq_is_full() is queue > limit: the kernel itself holds limit + 1 before it drops.
expect(ev.get("queue") == ev.get("limit") + 1, "queue %r is not limit + 1 (limit %r)" % (ev.get("queue"), ev.get("limit")))
expect("syn_recv" in ev and "req_q_full_drop_per_s" in ev, "SYN-queue evidence missing")
expect(not findings("unanswered_connects"), "the overflowing local listener was reported again as unanswered connects")
'
lab_assert_no_leftovers
