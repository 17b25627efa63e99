// TraceResult -> counter families for /metrics (docs/metrics.md, "serve --trace").
#include "serve/trace_metrics.h"
#include "snapshot/trace_result.h"

#include <utility>

namespace cd {

namespace {

constexpr MetricFamily kConnectFailures{
    "conndoctor_connect_failures_total", MetricType::kCounter,
    "Failed connect() calls seen by the tracer since it was loaded, by errno, process name and "
    "destination (synchronous and asynchronous failures)"};
constexpr MetricFamily kFdFailures{
    "conndoctor_fd_exhaustion_failures_total", MetricType::kCounter,
    "Calls that failed with EMFILE (the process's fd limit) or ENFILE (fs.file-max), by process "
    "name and errno"};
constexpr MetricFamily kBindFailures{
    "conndoctor_bind_port0_failures_total", MetricType::kCounter,
    "bind() to port 0 that failed (EADDRINUSE: no free ephemeral port), by process name"};
constexpr MetricFamily kDrops{"conndoctor_kernel_drops_total", MetricType::kCounter,
                              "Packets the kernel dropped because a resource ran out, by drop "
                              "reason (TCP_LISTEN_OVERFLOW, NETFILTER_DROP, PROTO_MEM, ...)"};
constexpr MetricFamily kOpened{
    "conndoctor_churn_opened_total", MetricType::kCounter,
    "Connections this host opened (SYN_SENT -> ESTABLISHED) since the tracer was loaded, by "
    "process name and destination"};
constexpr MetricFamily kLocalFirst{
    "conndoctor_churn_local_closed_first_total", MetricType::kCounter,
    "Of those, the ones this side closed first (each ends in TIME_WAIT here, holding its port "
    "for 60 s)"};
constexpr MetricFamily kSynRetrans{"conndoctor_syn_retransmits_total", MetricType::kCounter,
                                   "SYNs sent again (the destination did not answer), by "
                                   "destination"};

}  // namespace

const MetricFamily kTraceUpFamily{"conndoctor_trace_up", MetricType::kGauge,
                                  "1 when serve --trace could read the tracer's counts"};

const std::vector<MetricFamily>& trace_metric_families() {
  static const std::vector<MetricFamily> all = {kTraceUpFamily, kConnectFailures, kFdFailures,
                                                kBindFailures,  kDrops,           kOpened,
                                                kLocalFirst,    kSynRetrans};
  return all;
}

namespace {

std::string dest(const std::optional<Endpoint>& e) {
  return e ? e->to_string() : "none";
}

}  // namespace

std::vector<std::string> TraceMetrics::admit(const std::string& family,
                                             const std::vector<std::string>& key) {
  auto& set = admitted_[family];
  if (set.contains(key)) return key;
  if (set.size() < cap_) {
    set.insert(key);
    return key;
  }
  return std::vector<std::string>(key.size(), "other");
}

void TraceMetrics::write(Exposition& out, const TraceResult& t) {
  std::lock_guard lock(mu_);
  // Sum by label set first (several pids share a comm), then add in a stable order.
  std::map<std::pair<const MetricFamily*, std::vector<std::string>>, uint64_t> sums;
  auto add = [&](const MetricFamily& f, std::vector<std::string> key, uint64_t n) {
    sums[{&f, admit(std::string(f.name), key)}] += n;
  };
  for (const auto& f : t.failures) {
    const std::string err = f.err ? errno_label(f.err) : "other";
    if (f.op == "connect")
      add(kConnectFailures, {err, f.comm, dest(f.destination)}, f.count);
    else if (f.op == "bind")
      add(kBindFailures, {f.comm}, f.count);
    else if (f.op != "other")
      add(kFdFailures, {f.comm, err}, f.count);
  }
  for (const auto& d : t.drops) add(kDrops, {d.reason}, d.count);
  for (const auto& c : t.churn) {
    add(kOpened, {c.comm, dest(c.destination)}, c.opened);
    add(kLocalFirst, {c.comm, dest(c.destination)}, c.local_closed_first);
  }
  for (const auto& s : t.syn_retransmits) add(kSynRetrans, {dest(s.destination)}, s.count);

  for (const auto& [k, n] : sums) {
    const MetricFamily& f = *k.first;
    const auto& v = k.second;
    MetricLabels labels;
    if (&f == &kConnectFailures)
      labels = {{"errno", v[0]}, {"comm", v[1]}, {"destination", v[2]}};
    else if (&f == &kFdFailures)
      labels = {{"comm", v[0]}, {"errno", v[1]}};
    else if (&f == &kBindFailures)
      labels = {{"comm", v[0]}};
    else if (&f == &kDrops)
      labels = {{"reason", v[0]}};
    else if (&f == &kOpened || &f == &kLocalFirst)
      labels = {{"comm", v[0]}, {"destination", v[1]}};
    else
      labels = {{"destination", v[0]}};
    out.add(f, n, labels);
  }
}

}  // namespace cd
