// Groups recorded findings into incidents and prints them for people and for machines.
#include "history/incidents.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "history/time_spec.h"
#include "util/format.h"
#include "util/i18n.h"
#include "util/text_style.h"

namespace cd {

namespace {

int rank(const std::string& severity) {
  if (severity == "critical") return 3;
  if (severity == "warning") return 2;
  if (severity == "info") return 1;
  return 0;
}

}  // namespace

namespace {

// Who failed during [inc.started_ms, inc.last_seen_ms]: the traced failures of those samples.
void add_failures(Incident& inc, const std::vector<SampleRow>& samples,
                  const std::unordered_map<int64_t, std::size_t>& index,
                  const std::vector<TracedRow>& traced) {
  bool any_traced = false;
  for (const auto& s : samples)
    if (s.t_ms >= inc.started_ms && s.t_ms <= inc.last_seen_ms && s.traced_s) any_traced = true;
  if (!any_traced) return;
  std::map<std::tuple<std::string, std::string, int64_t, std::string, std::string>, int64_t> sum;
  for (const auto& t : traced) {
    if (t.kind != "failure") continue;
    auto it = index.find(t.sample_id);
    if (it == index.end()) continue;
    int64_t ts = samples[it->second].t_ms;
    if (ts < inc.started_ms || ts > inc.last_seen_ms) continue;
    if (!inc.destination.empty() && !t.destination.empty() && t.destination != inc.destination)
      continue;
    sum[{t.op, t.errno_name, t.pid.value_or(0), t.comm, t.destination}] += t.count;
  }
  std::vector<IncidentFailure> out;
  for (const auto& [k, n] : sum) {
    IncidentFailure f;
    std::tie(f.op, f.errno_name, std::ignore, f.comm, f.destination) = k;
    if (std::get<2>(k) > 0) f.pid = std::get<2>(k);
    f.count = n;
    out.push_back(std::move(f));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.count > b.count; });
  inc.failed = std::move(out);
}

std::string failure_line(const IncidentFailure& f) {
  std::string s = with_commas(uint64_t(f.count)) + " " + f.op + "()" +
                  (f.errno_name.empty() ? "" : " " + f.errno_name);
  if (f.pid)
    s += " by pid " + std::to_string(*f.pid) + (f.comm.empty() ? "" : " " + f.comm);
  else if (!f.comm.empty())
    s += " by " + f.comm;
  if (!f.destination.empty()) s += (f.op == "bind" ? " binding " : " to ") + f.destination;
  return s;
}

}  // namespace

std::vector<Incident> find_incidents(const std::vector<SampleRow>& samples,
                                     const std::vector<FindingRow>& findings,
                                     const std::vector<TracedRow>& traced) {
  std::unordered_map<int64_t, std::size_t> index;  // sample id -> position in time order
  for (std::size_t i = 0; i < samples.size(); ++i) index[samples[i].id] = i;

  struct Open {
    Incident inc;
    std::size_t last_pos = 0;
  };
  // The usual spacing of samples, to tell a recording gap from a slow sample.
  std::vector<int64_t> steps;
  for (std::size_t i = 1; i < samples.size(); ++i)
    steps.push_back(samples[i].t_ms - samples[i - 1].t_ms);
  int64_t gap = 60000;
  if (!steps.empty()) {
    std::nth_element(steps.begin(), steps.begin() + steps.size() / 2, steps.end());
    gap = std::max<int64_t>(gap, 5 * steps[steps.size() / 2]);
  }
  // How an incident last seen at position `last` ends: at the next sample, unless that one
  // came after a gap (then the end is unknown), or there is none (still active).
  auto close = [&](Incident& inc, std::size_t last) {
    if (last + 1 >= samples.size()) return;
    int64_t next = samples[last + 1].t_ms;
    if (next - samples[last].t_ms > gap)
      inc.gap_after_ms = next;
    else
      inc.ended_ms = next;
  };

  std::map<std::pair<std::string, std::string>, Open> open;
  std::vector<Incident> done;
  // Findings come in time order; an incident whose key skipped a sample, or whose next sample
  // came after a gap, has ended there.
  for (const auto& f : findings) {
    auto pos_it = index.find(f.sample_id);
    if (pos_it == index.end()) continue;
    std::size_t pos = pos_it->second;
    int64_t t = samples[pos].t_ms;
    auto key = std::make_pair(f.finding_id, f.subject);
    auto it = open.find(key);
    if (it != open.end() && pos > it->second.last_pos &&
        (pos > it->second.last_pos + 1 || t - samples[it->second.last_pos].t_ms > gap)) {
      close(it->second.inc, it->second.last_pos);
      done.push_back(std::move(it->second.inc));
      open.erase(it);
      it = open.end();
    }
    if (it != open.end() && pos == it->second.last_pos) continue;  // duplicate in one sample
    if (it == open.end()) {
      Open o;
      o.inc.finding_id = f.finding_id;
      o.inc.subject = f.subject;
      o.inc.resource = f.resource;
      o.inc.layer = f.layer;
      o.inc.started_ms = t;
      it = open.emplace(key, std::move(o)).first;
    }
    Incident& inc = it->second.inc;
    it->second.last_pos = pos;
    inc.last_seen_ms = t;
    ++inc.samples;
    bool worse = rank(f.severity) > rank(inc.severity) ||
                 (rank(f.severity) == rank(inc.severity) && f.figure &&
                  (!inc.peak_figure || *f.figure > *inc.peak_figure));
    if (inc.samples == 1 || worse) {
      inc.severity = f.severity;
      inc.peak_ms = t;
      inc.peak_sample_id = f.sample_id;
      inc.peak_title = f.title;
      inc.peak_figure = f.figure;
    }
    if (!f.destination.empty()) inc.destination = f.destination;
    if (f.pid) {
      std::string who = std::to_string(*f.pid) + (f.comm.empty() ? "" : " " + f.comm);
      if (std::find(inc.processes.begin(), inc.processes.end(), who) == inc.processes.end())
        inc.processes.push_back(who);
    }
  }
  for (auto& [key, o] : open) {
    close(o.inc, o.last_pos);
    done.push_back(std::move(o.inc));
  }
  for (auto& inc : done) add_failures(inc, samples, index, traced);
  std::sort(done.begin(), done.end(), [](const Incident& a, const Incident& b) {
    if (a.started_ms != b.started_ms) return a.started_ms < b.started_ms;
    if (rank(a.severity) != rank(b.severity)) return rank(a.severity) > rank(b.severity);
    return std::tie(a.finding_id, a.subject) < std::tie(b.finding_id, b.subject);
  });
  return done;
}

nlohmann::ordered_json incidents_json(const HistoryWindow& w, const std::vector<Incident>& list) {
  using json = nlohmann::ordered_json;
  json doc;
  doc["schema"] = "conndoctor/history/v1";
  doc["database"] = w.database;
  doc["from"] = format_utc(w.from_ms);
  doc["to"] = format_utc(w.to_ms);
  doc["samples"] = w.samples;
  doc["first_sample"] = w.first_ms ? json(format_utc(*w.first_ms)) : json();
  doc["last_sample"] = w.last_ms ? json(format_utc(*w.last_ms)) : json();
  json arr = json::array();
  for (const auto& i : list) {
    json j;
    j["id"] = i.finding_id;
    j["subject"] = i.subject;
    j["resource"] = i.resource;
    j["layer"] = i.layer;
    j["severity"] = i.severity;
    j["started"] = format_utc(i.started_ms);
    j["peaked"] = format_utc(i.peak_ms);
    j["ended"] = i.ended_ms ? json(format_utc(*i.ended_ms)) : json();
    j["recording_gap_until"] = i.gap_after_ms ? json(format_utc(*i.gap_after_ms)) : json();
    j["last_seen"] = format_utc(i.last_seen_ms);
    j["samples"] = i.samples;
    j["peak_title"] = i.peak_title;
    j["peak_utilization"] = i.peak_figure ? json(*i.peak_figure) : json();
    j["peak_sample"] = i.peak_sample_id;
    j["destination"] = i.destination.empty() ? json() : json(i.destination);
    j["processes"] = i.processes;
    if (i.failed) {
      json failed = json::array();
      for (const auto& f : *i.failed)
        failed.push_back({{"op", f.op},
                          {"errno", f.errno_name.empty() ? json() : json(f.errno_name)},
                          {"pid", f.pid ? json(*f.pid) : json()},
                          {"comm", f.comm.empty() ? json() : json(f.comm)},
                          {"destination", f.destination.empty() ? json() : json(f.destination)},
                          {"count", f.count}});
      j["traced_failures"] = std::move(failed);
    } else {
      j["traced_failures"] = nullptr;
    }
    arr.push_back(std::move(j));
  }
  doc["incidents"] = std::move(arr);
  return doc;
}

std::string incidents_text(const HistoryWindow& w, const std::vector<Incident>& list, bool color) {
  std::string out;
  out += _nf("{0} incident in {1} samples of {2}", "{0} incidents in {1} samples of {2}",
             list.size(), list.size(), w.samples, w.database);
  if (w.first_ms) out += " (" + format_utc(*w.first_ms) + " .. " + format_utc(*w.last_ms) + ")";
  out += "\n";
  for (const auto& i : list) {
    Tone tone = i.severity == "critical"  ? Tone::kCritical
                : i.severity == "warning" ? Tone::kWarning
                                          : Tone::kInfo;
    std::string sev = i.severity;
    std::transform(sev.begin(), sev.end(), sev.begin(), ::toupper);
    out += fmt::format("\n{}  {}{}{}\n", paint(sev, tone, color), i.finding_id,
                       i.subject.empty() ? "" : "  ", i.subject);
    double dur = double((i.ended_ms ? *i.ended_ms : i.last_seen_ms) - i.started_ms) / 1000;
    out += _f("  started {0}, ", format_utc(i.started_ms));
    if (i.ended_ms)
      out += _f("ended {0} (lasted {1})", format_utc(*i.ended_ms), fmt_duration(dur));
    else if (i.gap_after_ms)
      out += _f("last seen {0}, then no sample until {1} (end unknown)", format_utc(i.last_seen_ms),
                format_utc(*i.gap_after_ms));
    else
      out += _f("still active at the last sample ({0} so far)", fmt_duration(dur));
    out += _nf(", {0} sample", ", {0} samples", i.samples, i.samples) + "\n";
    out += _f("  peaked  {0}: {1}", format_utc(i.peak_ms), i.peak_title) + "\n";
    std::string who;
    if (!i.destination.empty()) who += "destination " + i.destination;
    for (std::size_t k = 0; k < i.processes.size() && k < 5; ++k)
      who += (who.empty() ? "pid " : (k == 0 ? "; pid " : ", pid ")) + i.processes[k];
    if (i.processes.size() > 5) who += " and " + std::to_string(i.processes.size() - 5) + " more";
    if (!who.empty()) out += _("  who     ") + who + "\n";
    if (i.failed) {
      if (i.failed->empty()) out += _("  failed  nothing (traced)\n");
      for (std::size_t k = 0; k < i.failed->size() && k < 5; ++k)
        out += std::string(k == 0 ? _("  failed  ") : "          ") + failure_line((*i.failed)[k]) +
               "\n";
      if (i.failed->size() > 5)
        out += "          and " + std::to_string(i.failed->size() - 5) + " more (--json)\n";
    }
    out += std::string(_("  report  ")) + "conndoctor history " + w.database + " --at " +
           format_utc(i.peak_ms) + "\n";
  }
  return out;
}

}  // namespace cd
