#!/usr/bin/env bash
# A real Prometheus (Debian's package) scrapes `conndoctor serve` inside a network namespace that
# this test creates, while a real ephemeral-port exhaustion is live there. cdtool-portfill
# connects to 127.0.0.1:8080 until connect() fails with EADDRNOTAVAIL, in a 1000-port range
# with tcp_tw_reuse off. The test then queries the Prometheus HTTP API (promtool query) for the
# utilisation series, the critical finding, and the port-exhaustion alert firing. The copy of
# the rules it loads uses `for: 3s`. It is bounded in time, and every process is ended on exit.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/serve_lib.sh"
command -v prometheus >/dev/null || serve_skip "no prometheus (scripts/install-deps.sh installs it)"
command -v promtool >/dev/null || serve_skip "no promtool"
SOURCE_DIR=${SOURCE_DIR:-$(cd "$here/../.." && pwd)}
TOOLS_DIR=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
portfill=$TOOLS_DIR/cdtool-portfill
[[ -x "$portfill" ]] || serve_skip "cdtool-portfill not built at $portfill"
SERVE_TEST_TIMEOUT=160 serve_in_netns "$@"

# The namespace's own settings (net.* sysctls are per namespace; the host's are untouched).
echo "40000 40999" >/proc/sys/net/ipv4/ip_local_port_range
echo 0 >/proc/sys/net/ipv4/tcp_tw_reuse

# 1. The failure, live: 1000 ports towards 127.0.0.1:8080, 100 of them in client TIME_WAIT.
# The other 900 stay ESTABLISHED, so the tuple stays above 90 % after TIME_WAIT ends (60 s).
"$portfill" --target 127.0.0.1:8080 --close-first 100 --max 1200 --hold 140 \
  --ready-file "$SERVE_TMP/ready" >"$SERVE_TMP/portfill.out" 2>&1 &
SERVE_PIDS+=($!)
for _ in $(seq 100); do [[ -s "$SERVE_TMP/ready" ]] && break; sleep 0.1; done
grep -q '^exhausted$' "$SERVE_TMP/ready" 2>/dev/null ||
  serve_fail "no exhaustion: $(cat "$SERVE_TMP/portfill.out")"
echo "failure live: $(cat "$SERVE_TMP/portfill.out")"

# 2. The exporter. Prometheus and promtool reach it through other tuples (other destination
# ports), which still have their own pools: exhaustion is per destination.
"$CONNDOCTOR" serve --listen 127.0.0.1:9877 --min-interval 1 2>"$SERVE_TMP/serve.err" &
SERVE_PIDS+=($!)
serve_pid=$!
wait_for_http /healthz 20 || serve_fail "serve did not come up: $(cat "$SERVE_TMP/serve.err")"

# 3. Prometheus on loopback, scraping every 3 s (a failed scrape would reset a pending alert),
# evaluating every second, with the alert rules (short `for:`).
sed -E 's/^( *for:).*/\1 3s/' "$SOURCE_DIR/deploy/prometheus/conndoctor-rules.yml" >"$SERVE_TMP/rules.yml"
cat >"$SERVE_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 3s
  scrape_timeout: 3s
  evaluation_interval: 1s
rule_files: [$SERVE_TMP/rules.yml]
scrape_configs:
  - job_name: conndoctor
    static_configs:
      - targets: ['127.0.0.1:9877']
EOF
prometheus --config.file="$SERVE_TMP/prometheus.yml" --storage.tsdb.path="$SERVE_TMP/tsdb" \
  --web.listen-address=127.0.0.1:9090 --log.level=warn >"$SERVE_TMP/prometheus.log" 2>&1 &
SERVE_PIDS+=($!)

# query EXPR SECONDS: until Prometheus returns a non-empty result for EXPR.
query() {
  local deadline=$((SECONDS + $2)) out
  while ((SECONDS < deadline)); do
    out=$(timeout 5 promtool query instant http://127.0.0.1:9090 "$1" 2>/dev/null)
    if [[ -n "$out" ]]; then
      echo "$out"
      return 0
    fi
    sleep 1
  done
  return 1
}

dest='destination="127.0.0.1:8080"'
out=$(query "conndoctor_ephemeral_ports_utilization_ratio{$dest} >= 0.9" 60) ||
  serve_fail "no utilisation series for 127.0.0.1:8080 in Prometheus; log: $(tail -5 "$SERVE_TMP/prometheus.log"); serve: $(tail -3 "$SERVE_TMP/serve.err")"
echo "utilisation: $out"
out=$(query "conndoctor_ephemeral_ports_time_wait{$dest} >= 100" 10) ||
  serve_fail "the client TIME_WAIT of the tuple is not exported"
out=$(query 'conndoctor_finding{resource="ephemeral_ports",severity="critical"}' 10) ||
  serve_fail "no critical ephemeral_ports finding in Prometheus"
echo "finding: $out"
out=$(query "ALERTS{alertname=\"ConndoctorEphemeralPortsExhausted\",alertstate=\"firing\",$dest}" 45) ||
  serve_fail "ConndoctorEphemeralPortsExhausted did not fire; alerts: $(timeout 5 promtool query instant http://127.0.0.1:9090 ALERTS 2>&1 | head -5); up: $(timeout 5 promtool query instant http://127.0.0.1:9090 'up' 2>&1); collection s: $(timeout 5 promtool query instant http://127.0.0.1:9090 'conndoctor_scrape_duration_seconds' 2>&1)"
echo "alert: $out"
out=$(query 'up{job="conndoctor"} == 1' 5) || serve_fail "Prometheus does not see the target up"

# 4. Every query of the Grafana dashboard is valid PromQL and finds data here.
if command -v python3 >/dev/null; then
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["panels"]:
    for t in p["targets"]:
        print(t["expr"].replace("$instance", ".*"))
' "$SOURCE_DIR/deploy/grafana/conndoctor-dashboard.json" >"$SERVE_TMP/dashboard.exprs"
  while IFS= read -r expr; do
    timeout 5 promtool query instant http://127.0.0.1:9090 "$expr" >"$SERVE_TMP/q.out" 2>&1 ||
      serve_fail "dashboard query does not run: $expr: $(cat "$SERVE_TMP/q.out")"
  done <"$SERVE_TMP/dashboard.exprs"
  for expr in 'conndoctor_ephemeral_ports_utilization_ratio{instance=~".*"}' 'conndoctor_status{instance=~".*"}'; do
    out=$(query "$expr" 5) || serve_fail "the dashboard shows nothing for $expr"
  done
fi

# 5. The exporter shared its collections and kept its fds: Prometheus keeps one connection.
http_get /metrics
collections=$(awk '$1 == "conndoctor_collections_total" {print $2}' <<<"$HTTP_BODY")
scrapes=$(awk '$1 == "conndoctor_scrapes_total" {print $2}' <<<"$HTTP_BODY")
echo "exporter: $scrapes scrapes answered with $collections collections"
fds=$(ls "/proc/$serve_pid/fd" | wc -l)
((fds < 20)) || serve_fail "serve holds $fds fds"
echo "ok: Prometheus scraped the exhaustion and fired the alert"
