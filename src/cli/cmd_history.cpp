// `conndoctor history PATH`: what the flight recorder saw. The incidents of a window (text or
// --json), the full report as it was at one moment (--at, printed as `check` prints it), or a
// self-contained HTML incident report (--html FILE).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "cli/commands.h"
#include "history/html_report.h"
#include "history/incidents.h"
#include "history/store.h"
#include "history/time_spec.h"
#include "util/i18n.h"

namespace cd {

namespace {

struct HistoryArgs {
  std::string path;
  std::string since = "24h";
  std::string until;
  std::string at;
  std::string html;
  bool json = false;
  ColorMode color = ColorMode::kAuto;
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --at: the newest sample at or before the time (to the end of the second given, so that a
// time printed by `history`, which drops the milliseconds, finds its own sample).
int print_at(HistoryReader& r, const HistoryArgs& a, int64_t t) {
  auto row = r.sample_at(t + 999);
  if (!row) return error_exit(row.error().message);
  if (!*row) {
    auto span = r.time_span();
    std::string first = span && *span ? "; the first sample is at " + format_utc((*span)->first)
                                      : "; the database holds no sample";
    return error_exit("--at " + a.at + ": no sample at or before " + format_utc(t) + first);
  }
  auto rep = r.report((*row)->id);
  if (!rep) return error_exit(rep.error().message);
  if (a.json) {
    auto doc = nlohmann::ordered_json::parse(rep->json, nullptr, false);
    if (doc.is_discarded())
      return error_exit("sample " + std::to_string(rep->sample_id) +
                        ": the stored report is not JSON");
    if (int rc = emit(doc.dump(2) + "\n"); rc != kExitOk) return rc;
  } else {
    if (int rc = emit(rep->text); rc != kExitOk) return rc;
  }
  const std::string& st = (*row)->status;
  return st == "ok"         ? kExitOk
         : st == "warning"  ? kExitWarning
         : st == "critical" ? kExitCritical
                            : kExitUnknown;
}

Result<void> write_file(const std::string& path, const std::string& data) {
  // Written beside and renamed, so a reader never sees half a report.
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail_errno(tmp);
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail_errno(tmp, e);
    }
    off += std::size_t(n);
  }
  if (::close(fd) != 0) return fail_errno(tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno(path);
  return {};
}

int run_history(const HistoryArgs& a) {
  int64_t now = now_ms();
  // Every value is checked before the database is opened: bad usage is exit 3 either way.
  auto since = parse_time_ms(a.since, now);
  if (!since) return error_exit("--since: " + since.error().message);
  int64_t until = now;
  if (!a.until.empty()) {
    auto u = parse_time_ms(a.until, now);
    if (!u) return error_exit("--until: " + u.error().message);
    until = *u + 999;
  }
  std::optional<int64_t> at;
  if (!a.at.empty()) {
    auto t = parse_time_ms(a.at, now);
    if (!t) return error_exit("--at: " + t.error().message);
    at = *t;
  }
  if (until < *since) return error_exit("--until is before --since");

  auto reader = HistoryReader::open(a.path);
  if (!reader) return error_exit(reader.error().message);
  HistoryReader& r = **reader;
  if (at) return print_at(r, a, *at);

  auto samples = r.samples(*since, until);
  if (!samples) return error_exit(a.path + ": " + samples.error().message);
  auto findings = r.findings(*since, until);
  if (!findings) return error_exit(a.path + ": " + findings.error().message);
  auto traced = r.traced(*since, until);
  if (!traced) return error_exit(a.path + ": " + traced.error().message);
  auto incidents = find_incidents(*samples, *findings, *traced);
  HistoryWindow w{a.path, *since, until, samples->size(), std::nullopt, std::nullopt};
  if (!samples->empty()) {
    w.first_ms = samples->front().t_ms;
    w.last_ms = samples->back().t_ms;
  }

  if (!a.html.empty()) {
    HtmlReportInput in;
    in.window = w;
    in.incidents = incidents;
    auto series = r.series(*since, until);
    if (!series) return error_exit(a.path + ": " + series.error().message);
    in.series = std::move(*series);
    in.traced = std::move(*traced);
    std::vector<int64_t> wanted;
    for (const auto& i : incidents) wanted.push_back(i.peak_sample_id);
    if (!samples->empty()) {
      in.last_sample_id = samples->back().id;
      wanted.push_back(in.last_sample_id);
    }
    for (int64_t id : wanted) {
      if (in.reports.count(id)) continue;
      auto rep = r.report(id);
      if (!rep) return error_exit(a.path + ": " + rep.error().message);
      auto doc = nlohmann::json::parse(rep->json, nullptr, false);
      if (!doc.is_discarded()) in.reports[id] = std::move(doc);
    }
    in.samples = std::move(*samples);
    if (auto ok = write_file(a.html, history_html(in)); !ok) return error_exit(ok.error().message);
  }
  std::string out = a.json ? incidents_json(w, incidents).dump(2) + "\n"
                           : incidents_text(w, incidents, use_color(a.color));
  return emit(out);
}

}  // namespace

Handler setup_history(CLI::App& app) {
  auto a = std::make_shared<HistoryArgs>();
  app.add_option("path", a->path, _("the history database (written by watch or serve --history)"))
      ->required();
  auto* since = app.add_option("--since", a->since,
                               _("from this time: a duration before now (2h) or a UTC time "
                                 "(2026-12-01T03:12:00Z, 03:12, @UNIXSECONDS)"))
                    ->capture_default_str();
  auto* until = app.add_option("--until", a->until, _("to this time (same forms; default now)"));
  auto* at = app.add_option(
      "--at", a->at,
      _("print the full report of the newest sample at or before this time, as check "
        "prints it"));
  auto* html =
      app.add_option("--html", a->html, _("also write a self-contained HTML incident report here"));
  // --at prints one sample's report; a window or an HTML report cannot apply to it.
  at->excludes(since)->excludes(until)->excludes(html);
  app.add_flag("--json", a->json,
               _("print as JSON (incidents: conndoctor/history/v1; --at: conndoctor/report/v1)"));
  add_color_option(app, a->color);
  return [a] { return run_history(*a); };
}

}  // namespace cd
