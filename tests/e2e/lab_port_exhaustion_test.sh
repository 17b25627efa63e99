#!/usr/bin/env bash
# lab port-exhaustion: a 1,000-port range to one destination, client closes first: connect()
# fails with EADDRNOTAVAIL, and the diagnosis says ephemeral_ports, critical, application,
# naming the destination.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run port-exhaustion
lab_check '
expect(any("EADDRNOTAVAIL" in o for o in observed), "the generator saw no EADDRNOTAVAIL")
hot = findings("ephemeral_ports", "critical", "application")
expect(hot, "no critical application ephemeral_ports finding")
expect(hot[0]["evidence"]["destination"] == "127.0.0.1:8080", "destination not named")
expect(r["status"] == "critical", "status not critical")
'
lab_assert_no_leftovers
