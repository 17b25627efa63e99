// Writes the HTML incident report. Everything is escaped text and numbers we computed; the
// charts are a few SVG polylines, so the file stays small and renders anywhere without script.
#include "history/html_report.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "history/time_spec.h"

namespace cd {

namespace {

using json = nlohmann::json;

std::string esc(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

// At most n bytes, never cutting a UTF-8 sequence (keys hold "→").
std::string cut(std::string s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "…";
}

std::string hhmm(int64_t t_ms) {
  return format_utc(t_ms).substr(11, 8);
}

std::string short_num(double v) {
  if (std::fabs(v) >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
  if (std::fabs(v) >= 1e4) return fmt::format("{:.1f}k", v / 1e3);
  if (v == std::floor(v) || std::fabs(v) >= 100) return fmt::format("{:.0f}", v);
  return fmt::format("{:.2f}", v);
}

const char* kColors[] = {"#1f6fb2", "#2a9d55", "#8e44ad", "#d35400", "#7f8c8d"};

std::string sev_color(const std::string& s) {
  if (s == "critical") return "#c0392b";
  if (s == "warning") return "#e0a800";
  return "#3498db";
}

constexpr int kW = 760, kH = 190, kL = 60, kR = 190, kT = 24, kB = 26;

// Stored reports are read back from a database file: any shape must render, never throw.
// `key` of `j` when `j` is an object that has it, else null.
const json& field(const json& j, const char* key) {
  static const json null;
  if (!j.is_object()) return null;
  auto it = j.find(key);
  return it == j.end() ? null : *it;
}
std::string str_field(const json& j, const char* key) {
  const json& v = field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}
// `key` of `j` when it is an array (or an object, for `items()`), else an empty one.
const json& list_field(const json& j, const char* key) {
  static const json empty = json::array();
  const json& v = field(j, key);
  return v.is_array() ? v : empty;
}
const json& object_field(const json& j, const char* key) {
  static const json empty = json::object();
  const json& v = field(j, key);
  return v.is_object() ? v : empty;
}

std::string json_scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "unknown";
  return v.dump();
}

// The incident's traced failures, a line each (the five largest): count, call, errno, who, where.
std::string failed_cell(const Incident& inc) {
  if (!inc.failed) return "not traced";
  if (inc.failed->empty()) return "nothing";
  std::string c;
  for (std::size_t k = 0; k < inc.failed->size() && k < 5; ++k) {
    const auto& f = (*inc.failed)[k];
    std::string line = std::to_string(f.count) + " " + f.op + "()" +
                       (f.errno_name.empty() ? "" : " " + f.errno_name);
    if (f.pid) line += " pid " + std::to_string(*f.pid) + (f.comm.empty() ? "" : " " + f.comm);
    if (!f.destination.empty()) line += " → " + f.destination;
    c += (k ? "<br>" : "") + esc(line);
  }
  if (inc.failed->size() > 5) c += "<br>and " + std::to_string(inc.failed->size() - 5) + " more";
  return c;
}

}  // namespace

std::string svg_chart(const std::string& title, const std::vector<ChartLine>& lines, int64_t t0_ms,
                      int64_t t1_ms) {
  double ymax = 0;
  for (const auto& l : lines) {
    for (auto [t, v] : l.points) ymax = std::max(ymax, v);
    for (auto [t, v] : l.limit) ymax = std::max(ymax, v);
  }
  if (ymax <= 0) ymax = 1;
  ymax *= 1.08;
  double span = double(std::max<int64_t>(1, t1_ms - t0_ms));
  auto x = [&](int64_t t) { return kL + (kW - kL - kR) * double(t - t0_ms) / span; };
  auto y = [&](double v) { return kT + (kH - kT - kB) * (1 - v / ymax); };
  std::string s = fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
      "aria-label=\"{2}\">\n<text x=\"{3}\" y=\"15\" class=\"ct\">{2}</text>\n",
      kW, kH, esc(title), kL);
  // Axes and grid: 0, half and top, with their values.
  for (double f : {0.0, 0.5, 1.0}) {
    double v = ymax / 1.08 * f;
    s += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" class=\"grid\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" class=\"ax\" text-anchor=\"end\">{5}</text>\n",
        kL, kW - kR, y(v), kL - 4, y(v) + 4, short_num(v));
  }
  s += fmt::format(
      "<text x=\"{}\" y=\"{}\" class=\"ax\">{}</text><text x=\"{}\" y=\"{}\" class=\"ax\" "
      "text-anchor=\"end\">{}</text>\n",
      kL, kH - 6, hhmm(t0_ms), kW - kR, kH - 6, hhmm(t1_ms));
  int legend_y = kT + 8;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    std::string color = kColors[i % std::size(kColors)];
    auto poly = [&](const std::vector<std::pair<int64_t, double>>& pts) {
      std::string p;
      for (auto [t, v] : pts) p += fmt::format("{:.1f},{:.1f} ", x(t), y(v));
      return p;
    };
    if (!l.limit.empty()) s += "<polyline class=\"limit\" points=\"" + poly(l.limit) + "\"/>\n";
    if (l.points.size() == 1)
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n",
                       x(l.points[0].first), y(l.points[0].second), color);
    else if (!l.points.empty())
      s += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\" points=\"" +
           poly(l.points) + "\"/>\n";
    std::string label = cut(l.label, 29);
    s += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" "
        "class=\"lg\">{}</text>\n",
        kW - kR + 8, legend_y - 9, color, kW - kR + 22, legend_y, esc(label));
    legend_y += 16;
    if (!l.limit.empty()) {
      s += fmt::format(
          "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" class=\"limit\"/><text x=\"{}\" y=\"{}\" "
          "class=\"lg\">limit {}</text>\n",
          kW - kR + 8, kW - kR + 18, legend_y - 4, legend_y - 4, kW - kR + 22, legend_y,
          short_num(l.limit.back().second));
      legend_y += 16;
    }
  }
  s += "</svg>\n";
  return s;
}

std::string history_html(const HtmlReportInput& in) {
  const auto& w = in.window;
  int64_t t0 = w.first_ms.value_or(w.from_ms), t1 = w.last_ms.value_or(w.to_ms);
  if (t1 <= t0) t1 = t0 + 1000;
  std::unordered_map<int64_t, int64_t> t_of;
  for (const auto& s : in.samples) t_of[s.id] = s.t_ms;

  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'\">\n";
  h += "<title>conndoctor incident report " + esc(format_utc(t0)) + "</title>\n";
  h += R"(<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:28px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
.critical{color:#c0392b;font-weight:bold}.warning{color:#b38600;font-weight:bold}.info{color:#2573a7}
code,pre{font:12px ui-monospace,monospace;background:#f4f4f4}pre{padding:6px;white-space:pre-wrap}
.chart{display:block;margin:8px 0}.ct{font-weight:bold;font-size:13px}.ax,.lg{font-size:11px;fill:#444}
.grid{stroke:#e6e6e6}.limit{fill:none;stroke:#c0392b;stroke-width:1.5;stroke-dasharray:6 4}
.f{border:1px solid #ddd;padding:8px 12px;margin:10px 0}
</style></head><body>
)";
  std::string host, kernel;
  json last;
  if (auto it = in.reports.find(in.last_sample_id); it != in.reports.end()) last = it->second;
  if (field(last, "host").is_object()) {
    host = json_scalar(field(field(last, "host"), "hostname"));
    kernel = json_scalar(field(field(last, "host"), "kernel"));
  }
  h += "<h1>conndoctor incident report" + (host.empty() ? "" : " — " + esc(host)) + "</h1>\n";
  h += "<p>" + std::to_string(w.samples) + " samples from <b>" + esc(format_utc(t0)) +
       "</b> to <b>" + esc(format_utc(t1)) + "</b> (all times UTC), " +
       std::to_string(in.incidents.size()) + " incident" + (in.incidents.size() == 1 ? "" : "s") +
       ". Database: <code>" + esc(w.database) + "</code>.</p>\n";

  // Timeline: one bar per incident, from its start to its end (or the last sample).
  h += "<h2>Incident timeline</h2>\n";
  if (in.incidents.empty()) {
    h += "<p>No finding in this window.</p>\n";
  } else {
    int rows = int(in.incidents.size());
    int H = 30 + rows * 22;
    double span = double(t1 - t0);
    auto x = [&](int64_t t) {
      return kL + 160 + (kW - kL - 160 - 20) * double(std::clamp(t, t0, t1) - t0) / span;
    };
    h += fmt::format(
        "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" "
        "role=\"img\" aria-label=\"incident timeline\">\n",
        kW, H);
    for (int i = 0; i < rows; ++i) {
      const auto& inc = in.incidents[std::size_t(i)];
      int64_t end = inc.ended_ms.value_or(inc.last_seen_ms);
      double x0 = x(inc.started_ms), x1 = std::max(x(end), x0 + 3);
      int yy = 8 + i * 22;
      std::string label = cut(inc.finding_id + (inc.subject.empty() ? "" : " " + inc.subject), 33);
      h += fmt::format(
          "<text x=\"4\" y=\"{}\" class=\"lg\">{}</text><rect x=\"{:.1f}\" y=\"{}\" "
          "width=\"{:.1f}\" height=\"14\" fill=\"{}\"><title>{}</title></rect>\n",
          yy + 11, esc(label), x0, yy, x1 - x0, sev_color(inc.severity), esc(inc.peak_title));
    }
    h += fmt::format(
        "<text x=\"{}\" y=\"{}\" class=\"ax\">{}</text><text x=\"{}\" y=\"{}\" class=\"ax\" "
        "text-anchor=\"end\">{}</text></svg>\n",
        kL + 160, H - 6, hhmm(t0), kW - 20, H - 6, hhmm(t1));
    h += "<table><tr><th>severity</th><th>finding</th><th>started</th><th>peaked</th>"
         "<th>ended</th><th>who</th><th>failed (traced)</th></tr>\n";
    for (const auto& inc : in.incidents) {
      std::string who = inc.destination;
      for (const auto& p : inc.processes) who += (who.empty() ? "pid " : ", pid ") + p;
      h += "<tr><td class=\"" + esc(inc.severity) + "\">" + esc(inc.severity) + "</td><td>" +
           esc(inc.finding_id) + "<br>" + esc(inc.peak_title) + "</td><td>" +
           esc(hhmm(inc.started_ms)) + "</td><td>" + esc(hhmm(inc.peak_ms)) + "</td><td>" +
           (inc.ended_ms       ? esc(hhmm(*inc.ended_ms))
            : inc.gap_after_ms ? "unknown: no sample until " + esc(hhmm(*inc.gap_after_ms))
                               : std::string("still active")) +
           "</td><td>" + esc(who) + "</td><td>" + failed_cell(inc) + "</td></tr>\n";
    }
    h += "</table>\n";
  }

  // Charts: per kind, the keys that came closest to their limit.
  auto lines_of = [&](const std::string& kind, std::size_t max_keys) {
    std::map<std::string, ChartLine> by_key;
    std::map<std::string, double> worst;
    for (const auto& r : in.series) {
      if (r.kind != kind || !r.value) continue;
      auto& l = by_key[r.key];
      l.label = r.key;
      int64_t t = t_of.count(r.sample_id) ? t_of[r.sample_id] : 0;
      l.points.push_back({t, *r.value});
      if (r.limit) l.limit.push_back({t, *r.limit});
      double u = r.limit && *r.limit > 0 ? *r.value / *r.limit : *r.value;
      worst[r.key] = std::max(worst[r.key], u);
    }
    std::vector<std::pair<double, std::string>> order;
    for (auto& [k, v] : worst) order.push_back({-v, k});
    std::sort(order.begin(), order.end());
    std::vector<ChartLine> out;
    for (std::size_t i = 0; i < order.size() && i < max_keys; ++i)
      out.push_back(std::move(by_key[order[i].second]));
    return out;
  };
  h += "<h2>Charts</h2>\n";
  int charts = 0;
  for (auto& l : lines_of("tuple", 3)) {
    h += svg_chart("Ephemeral ports in use: " + l.label, {l}, t0, t1);
    ++charts;
  }
  for (auto& l : lines_of("process_fds", 3)) {
    h += svg_chart("Open fds of pid " + l.label, {l}, t0, t1);
    ++charts;
  }
  if (auto l = lines_of("conntrack", 1); !l.empty()) {
    l[0].label = "entries";
    h += svg_chart("Conntrack table fill", l, t0, t1);
    ++charts;
  }
  if (auto l = lines_of("time_wait", 1); !l.empty()) {
    l[0].label = "TIME_WAIT";
    h += svg_chart("TIME_WAIT sockets", l, t0, t1);
    ++charts;
  }
  if (auto l = lines_of("failures_per_s", 4); !l.empty()) {
    h += svg_chart("Failures per second (kernel counters; the limit is 0)", l, t0, t1);
    ++charts;
  }
  // Traced failures (watch --trace): calls that failed per second, by call and errno, from
  // each sample's counts over the time they cover. A failure has no limit to draw: any is one.
  {
    std::unordered_map<int64_t, double> traced_s;
    for (const auto& s : in.samples)
      if (s.traced_s && *s.traced_s > 0) traced_s[s.id] = *s.traced_s;
    std::map<std::string, std::map<int64_t, double>> per_key;  // "connect EADDRNOTAVAIL" -> t -> /s
    std::map<std::string, double> total;
    for (const auto& t : in.traced) {
      auto d = traced_s.find(t.sample_id);
      if (t.kind != "failure" || d == traced_s.end()) continue;
      std::string key = t.op + "()" + (t.errno_name.empty() ? "" : " " + t.errno_name);
      per_key[key][t_of[t.sample_id]] += double(t.count) / d->second;
      total[key] += double(t.count);
    }
    if (!traced_s.empty()) {
      std::vector<std::pair<double, std::string>> order;
      for (const auto& [k, n] : total) order.push_back({-n, k});
      std::sort(order.begin(), order.end());
      std::vector<ChartLine> lines;
      // Every traced sample is a point: 0 where that call did not fail.
      for (std::size_t i = 0; i < order.size() && i < 4; ++i) {
        ChartLine l;
        l.label = order[i].second;
        const auto& pts = per_key[order[i].second];
        for (const auto& s : in.samples) {
          if (!traced_s.count(s.id)) continue;
          auto it = pts.find(s.t_ms);
          l.points.push_back({s.t_ms, it == pts.end() ? 0.0 : it->second});
        }
        lines.push_back(std::move(l));
      }
      if (lines.empty()) {
        h += "<p>Traced: no call failed in this window.</p>\n";
      } else {
        h += svg_chart("Failed calls per second (traced)", lines, t0, t1);
        ++charts;
      }
    }
  }
  if (charts == 0) h += "<p>No figure was recorded in this window.</p>\n";

  // Findings with plans, as they were at each incident's peak.
  h += "<h2>Findings and plans (at each incident's peak)</h2>\n";
  for (const auto& inc : in.incidents) {
    auto it = in.reports.find(inc.peak_sample_id);
    if (it == in.reports.end()) continue;
    for (const auto& f : list_field(it->second, "findings")) {
      const json& ev = object_field(f, "evidence");
      const json& pid = field(ev, "pid");
      std::string subject =
          field(ev, "destination").is_string() ? str_field(ev, "destination")
          : pid.is_number()                    ? "pid " + std::to_string(pid.get<int64_t>()) +
                                  (field(ev, "comm").is_string() ? " " + str_field(ev, "comm") : "")
                            : "";
      if (str_field(f, "id") != inc.finding_id || subject != inc.subject) continue;
      std::string sev = str_field(f, "severity");
      h += "<div class=\"f\"><p><span class=\"" + esc(sev) + "\">" + esc(sev) + "</span> <b>" +
           esc(str_field(f, "id")) + "</b> (" + esc(str_field(f, "layer")) + " layer) at " +
           esc(format_utc(inc.peak_ms)) + "<br>" + esc(str_field(f, "title")) + "</p>\n<table>";
      for (const auto& [k, v] : ev.items())
        h += "<tr><td>" + esc(k) + "</td><td>" + esc(json_scalar(v)) + "</td></tr>";
      h += "</table>\n<ol>";
      for (const auto& step : list_field(f, "remediation")) {
        h +=
            "<li><b>" + esc(str_field(step, "priority")) + "</b> " + esc(str_field(step, "action"));
        for (const auto& c : list_field(step, "commands"))
          h += "<pre>" + esc(json_scalar(c)) + "</pre>";
        if (auto r = str_field(step, "risk"); !r.empty()) h += "<br><i>Risk:</i> " + esc(r);
        h += "</li>\n";
      }
      h += "</ol></div>\n";
    }
  }
  if (in.incidents.empty()) h += "<p>None.</p>\n";

  // Host, kernel and settings as of the last sample in the window.
  h += "<h2>Host, kernel and settings (last sample, " + esc(format_utc(t1)) + ")</h2>\n<table>";
  h += "<tr><td>host</td><td>" + esc(host) + "</td></tr><tr><td>kernel</td><td>" + esc(kernel) +
       "</td></tr>";
  if (field(last, "host").is_object())
    h += "<tr><td>conndoctor</td><td>" +
         esc(json_scalar(field(field(last, "host"), "conndoctor_version"))) + "</td></tr>";
  if (field(field(last, "resources"), "netns").is_string())
    h += "<tr><td>netns</td><td>" + esc(str_field(field(last, "resources"), "netns")) +
         "</td></tr>";
  for (const auto& [k, v] : object_field(object_field(last, "resources"), "sysctls").items())
    h += "<tr><td>" + esc(k) + "</td><td>" + esc(json_scalar(v)) + "</td></tr>";
  h += "</table>\n<p><small>Written by conndoctor history. Self-contained: no script, no "
       "external resource.</small></p>\n</body></html>\n";
  return h;
}

}  // namespace cd
