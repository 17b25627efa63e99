// Builds a sample's indexed rows from the report JSON, and compresses what is stored whole.
#include "history/sample.h"

#include <zlib.h>

namespace cd {

namespace {

using json = nlohmann::ordered_json;

std::optional<double> num(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

// Follows a path of object keys; a null json when any step is missing.
const json& at(const json& j, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object()) return kNull;
    auto it = cur->find(k);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

void add_series(Sample& s, std::string kind, std::string key, std::optional<double> value,
                std::optional<double> limit) {
  if (!value) return;  // an unknown figure is not a point on a chart
  s.series.push_back({std::move(kind), std::move(key), value, limit});
}

std::string compress(const std::string& in) {
  uLongf cap = compressBound(in.size());
  std::string out(cap, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &cap,
                reinterpret_cast<const Bytef*>(in.data()), in.size(), 6) != Z_OK)
    return {};
  out.resize(cap);
  return out;
}

}  // namespace

Sample make_sample(int64_t t_ms, const json& report, std::string text) {
  Sample s;
  s.t_ms = t_ms;
  s.status = str(report, "status");
  s.summary = str(report, "summary");
  s.netns = str(at(report, {"resources"}), "netns");  // set for another namespace (--netns)
  s.hostname = str(at(report, {"host"}), "hostname");
  s.kernel = str(at(report, {"host"}), "kernel");
  s.report_json = report.dump();
  s.report_text = std::move(text);

  for (const auto& f : at(report, {"findings"})) {
    SampleFinding r;
    r.finding_id = str(f, "id");
    r.resource = str(f, "resource");
    r.severity = str(f, "severity");
    r.layer = str(f, "layer");
    r.title = str(f, "title");
    const json& ev = at(f, {"evidence"});
    r.destination = str(ev, "destination");
    r.comm = str(ev, "comm");
    if (auto pid = num(ev, "pid")) r.pid = int64_t(*pid);
    r.figure = num(ev, "utilization");
    // The subject tells two findings of one rule apart: the destination tuple or listener,
    // else the process, else none (a host-wide finding).
    if (!r.destination.empty())
      r.subject = r.destination;
    else if (r.pid)
      r.subject = "pid " + std::to_string(*r.pid) + (r.comm.empty() ? "" : " " + r.comm);
    s.findings.push_back(std::move(r));
  }

  const json& res = at(report, {"resources"});
  std::size_t n = 0;
  for (const auto& t : at(res, {"ephemeral_ports", "tuples"})) {
    if (n++ == kChartedTuples) break;
    std::string key = str(t, "src") + " → " + str(t, "destination");
    add_series(s, "tuple", key, num(t, "effective_in_use"), num(t, "usable"));
  }
  n = 0;
  for (const auto& p : at(res, {"file_descriptors", "processes"})) {
    if (n++ == kChartedProcesses) break;
    auto pid = num(p, "pid");
    std::string key = (pid ? std::to_string(int64_t(*pid)) : "?") + " " + str(p, "comm");
    add_series(s, "process_fds", key, num(p, "open"), num(p, "limit"));
  }
  const json& ct = at(res, {"conntrack"});
  add_series(s, "conntrack", "", num(ct, "count"), num(ct, "max"));
  const json& tw = at(res, {"time_wait"});
  add_series(s, "time_wait", "", num(tw, "count"), num(tw, "max_buckets"));
  const json& fs = at(res, {"file_descriptors", "system"});
  add_series(s, "file_nr", "", num(fs, "allocated"), num(fs, "max"));
  add_series(s, "failures_per_s", "accept queue overflows",
             num(at(res, {"accept_queue"}), "overflows_per_s"), std::nullopt);
  add_series(s, "failures_per_s", "conntrack drops", num(ct, "drop_per_s"), std::nullopt);
  add_series(s, "failures_per_s", "conntrack insert failures", num(ct, "insert_failed_per_s"),
             std::nullopt);
  add_series(s, "failures_per_s", "TIME_WAIT overflows", num(tw, "overflow_per_s"), std::nullopt);

  const json& tr = at(report, {"trace"});
  if (tr.is_object()) {
    s.traced_s = num(tr, "duration_s");
    auto row = [&](const char* kind, const json& e, const char* op_key, const char* dest_key,
                   const char* count_key) {
      SampleTraced t;
      t.kind = kind;
      t.op = str(e, op_key);
      t.errno_name = str(e, "errno");
      t.destination = str(e, dest_key);
      t.comm = str(e, "comm");
      if (auto pid = num(e, "pid")) t.pid = int64_t(*pid);
      if (auto ns = num(e, "netns")) t.netns = int64_t(*ns);
      t.count = int64_t(num(e, count_key).value_or(0));
      if (std::string(kind) == "churn")
        if (auto c = num(e, "closed")) t.closed = int64_t(*c);
      s.traced.push_back(std::move(t));
    };
    for (const auto& e : at(tr, {"failures"})) row("failure", e, "op", "destination", "count");
    for (const auto& e : at(tr, {"drops"})) row("drop", e, "reason", "where", "count");
    for (const auto& e : at(tr, {"churn"})) row("churn", e, "", "destination", "opened");
    for (const auto& e : at(tr, {"syn_retransmits"}))
      row("syn_retransmit", e, "", "destination", "count");
  }
  return s;
}

Encoded encode(const Sample& s) {
  Encoded e{"zlib", compress(s.report_json), compress(s.report_text)};
  if (e.report.empty() || e.text.empty()) return {"identity", s.report_json, s.report_text};
  return e;
}

namespace {
constexpr std::size_t kMaxStoredReport = std::size_t(64) << 20;
}  // namespace

Result<std::string> decode(const std::string& encoding, const std::string& blob) {
  if (encoding == "identity") return blob;
  if (encoding != "zlib") return fail("unknown sample encoding '" + encoding + "'");
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return fail("zlib: cannot initialise");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(blob.data()));
  z.avail_in = uInt(blob.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    // A row of a database file anyone could have edited: a few KiB must not inflate to
    // gigabytes (a report is well under a MiB even at a million sockets).
    if (out.size() > kMaxStoredReport) {
      inflateEnd(&z);
      return fail("a stored report decompresses to more than " +
                  std::to_string(kMaxStoredReport >> 20) + " MiB");
    }
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END)
    return fail("a stored report does not decompress (zlib error " + std::to_string(rc) + ")");
  return out;
}

}  // namespace cd
