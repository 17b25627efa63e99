// Rule time_wait: the TIME_WAIT table against tcp_max_tw_buckets and its overflows, and
// server-side TIME_WAIT (the server closes first), which no port tuning fixes.
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/limits.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr double kWarnFill = 0.80;
// inet_twsk_alloc() refuses a new TIME_WAIT once tw_refcount - 1 >= tcp_max_tw_buckets; a
// reading taken between two overflows sees the table a little below the limit.
constexpr double kFullFill = 0.95;
constexpr uint64_t kServerSideMin = 1000;
std::optional<int64_t> time_wait_count(const Reading& r) {
  // sockstat's tw is exactly the figure inet_twsk_alloc() compares with the limit.
  if (r.sockstat.tcp_tw) return r.sockstat.tcp_tw;
  if (r.sockets.complete) return int64_t(r.sockets.by_state[int(TcpState::kTimeWait)]);
  return std::nullopt;
}

void put_sides(Evidence& ev, const Reading& r) {
  const SocketSummary& s = r.sockets;
  ev["time_wait_client"] = s.complete ? Evidence(s.time_wait_client) : Evidence(nullptr);
  ev["time_wait_server"] = s.complete ? Evidence(s.time_wait_server) : Evidence(nullptr);
  ev["time_wait_other"] = s.complete ? Evidence(s.time_wait_other) : Evidence(nullptr);
}

void table_finding(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  auto count = time_wait_count(r);
  auto max = r.sysctls.tcp_max_tw_buckets;
  auto fill = ratio(count, max);
  auto overflow = in.snap.counter_rate("TcpExt.TCPTimeWaitOverflow");
  std::optional<Severity> sev;
  if (fill && *fill >= kWarnFill) sev = Severity::kWarning;
  if (overflow && *overflow > 0)
    sev = fill && *fill >= kFullFill ? Severity::kCritical : Severity::kWarning;
  if (!sev) return;

  Finding f;
  f.id = "time_wait.buckets";
  f.resource = Resource::kTimeWait;
  f.severity = *sev;
  bool lowered = tw_buckets_lowered(r.sysctls);
  f.layer = lowered ? Layer::kSystem : Layer::kApplication;
  std::string fill_text = count && max
                              ? _f("{0} of {1} buckets ({2})", with_commas(uint64_t(*count)),
                                   with_commas(uint64_t(*max)), percent(fill.value_or(0)))
                              : std::string(_("table size unknown"));
  f.title =
      _f("TIME_WAIT table: {0}{1}", fill_text,
         overflow && *overflow > 0
             ? _f(", overflowing at {0}: sockets close without TIME_WAIT", per_second(*overflow))
             : std::string());
  Evidence& ev = f.evidence;
  ev["count"] = or_null(count);
  ev["max_buckets"] = or_null(max);
  ev["utilization"] = rounded(fill, 4);
  put_rate(ev, "overflow_per_s", in.snap, overflow);
  put_sides(ev, r);
  ev["max_buckets_lowered"] = lowered;
  const SocketSummary& s = r.sockets;
  bool server_closes = s.complete && s.time_wait_server > s.time_wait_client;
  f.remediation = {server_closes ? step_server_keep_alive() : step_client_reuse(),
                   step_raise_tw_buckets(r.sysctls, count)};
  out.push_back(std::move(f));
}

void server_side_finding(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  const SocketSummary& s = r.sockets;
  if (!s.complete) return;
  uint64_t total = s.time_wait_client + s.time_wait_server + s.time_wait_other;
  if (s.time_wait_server < kServerSideMin || s.time_wait_server * 2 < total) return;
  Finding f;
  f.id = "time_wait.server_side";
  f.resource = Resource::kTimeWait;
  f.severity = Severity::kWarning;
  f.layer = Layer::kApplication;
  f.title =
      _f("server-side TIME_WAIT: {0} sockets ({1} of all TIME_WAIT): the server closes connections "
         "first",
         with_commas(s.time_wait_server), percent(double(s.time_wait_server) / double(total)));
  Evidence& ev = f.evidence;
  ev["time_wait_server"] = s.time_wait_server;
  ev["time_wait_client"] = s.time_wait_client;
  ev["time_wait_total"] = total;
  ev["cause"] =
      _("the server closes first: keep-alive off or Connection: close (HTTP/1.0); these sockets "
        "hold the service port, no ephemeral port, only memory and TIME_WAIT table slots");
  ev["tw_reuse_helps"] = false;
  f.remediation = {step_server_keep_alive()};
  out.push_back(std::move(f));
}

}  // namespace

void rule_time_wait(const RuleInput& in, std::vector<Finding>& out) {
  table_finding(in, out);
  server_side_finding(in, out);
}

}  // namespace cd
