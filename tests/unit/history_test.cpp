// The flight recorder's store and readers on temporary files: schema identity and versions,
// one writer, retention and --max-size, incidents from consecutive samples, time parsing.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <cstdlib>
#include <filesystem>

#include "history/html_report.h"
#include "history/incidents.h"
#include "history/sample.h"
#include "history/store.h"
#include "history/time_spec.h"
#include "snapshot/trace_result.h"

namespace cd {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct TempDir {
  fs::path dir;
  TempDir() {
    char tmpl[] = "/tmp/cdhist-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string file(const char* name) const { return (dir / name).string(); }
};

// A report with one critical ephemeral_ports finding on `dest` at `util`, or none.
json report(const std::string& status, const std::string& dest, double util) {
  json r;
  r["schema"] = "conndoctor/report/v1";
  r["status"] = status;
  r["summary"] = status == "ok" ? "ok" : "ports of " + dest + " run out";
  r["findings"] = json::array();
  if (status != "ok")
    r["findings"].push_back({{"id", "ephemeral_ports.tuple"},
                             {"resource", "ephemeral_ports"},
                             {"severity", status},
                             {"layer", "application"},
                             {"title", "ports " + std::to_string(int(util * 100)) + "%"},
                             {"evidence", {{"destination", dest}, {"utilization", util}}},
                             {"remediation", json::array()}});
  r["resources"]["ephemeral_ports"]["tuples"] = json::array({{{"src", "127.0.0.1"},
                                                              {"destination", dest},
                                                              {"effective_in_use", util * 1000},
                                                              {"usable", 1000}}});
  r["resources"]["conntrack"] = {{"count", 10}, {"max", 100}};
  r["host"] = {{"hostname", "h1"}, {"kernel", "6.18"}};
  return r;
}

Sample sample_at(int64_t t_ms, const std::string& status, double util = 0.5) {
  return make_sample(t_ms, report(status, "198.18.0.2:8080", util),
                     "text at " + std::to_string(t_ms) + "\n");
}

RecorderLimits limits(double retention_s = 86400, uint64_t max = 64ull << 20) {
  return RecorderLimits{retention_s, max};
}

TEST(HistoryStore, WritesAndReadsBackEverySample) {
  TempDir d;
  auto w = HistoryWriter::open(d.file("h.db"), limits());
  ASSERT_TRUE(w) << w.error().message;
  for (int i = 0; i < 5; ++i) {
    auto out = (*w)->write(sample_at(1000000 + i * 10000, i == 2 ? "critical" : "ok", 0.99));
    ASSERT_TRUE(out) << out.error().message;
  }
  auto r = HistoryReader::open(d.file("h.db"));
  ASSERT_TRUE(r) << r.error().message;
  auto rows = (*r)->samples(0, INT64_MAX);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 5u);
  auto rep = (*r)->report((*rows)[2].id);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->text, "text at 1020000\n");
  EXPECT_EQ(json::parse(rep->json)["status"], "critical");
  auto f = (*r)->findings(0, INT64_MAX);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ((*f)[0].destination, "198.18.0.2:8080");
  EXPECT_DOUBLE_EQ(*(*f)[0].figure, 0.99);
}

TEST(HistoryStore, RefusesASecondWriter) {
  TempDir d;
  auto w = HistoryWriter::open(d.file("h.db"), limits());
  ASSERT_TRUE(w);
  auto second = HistoryWriter::open(d.file("h.db"), limits());
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("another conndoctor is already recording"),
            std::string::npos)
      << second.error().message;
  // Readers are welcome meanwhile.
  EXPECT_TRUE(HistoryReader::open(d.file("h.db")));
}

TEST(HistoryStore, RefusesAFileThatIsNotADatabase) {
  TempDir d;
  int fd = ::open(d.file("x").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::string junk(8192, 'x');
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), ssize_t(junk.size()));
  ::close(fd);
  auto w = HistoryWriter::open(d.file("x"), limits());
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("not a conndoctor history database"), std::string::npos)
      << w.error().message;
  auto r = HistoryReader::open(d.file("x"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a conndoctor history database"), std::string::npos);
}

TEST(HistoryStore, RefusesAnotherApplicationsSqliteFile) {
  TempDir d;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(d.file("o.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto w = HistoryWriter::open(d.file("o.db"), limits());
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("not a conndoctor history database"), std::string::npos)
      << w.error().message;
}

TEST(HistoryStore, RefusesANewerSchema) {
  TempDir d;
  { ASSERT_TRUE(HistoryWriter::open(d.file("h.db"), limits())); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(d.file("h.db").c_str(), &db), SQLITE_OK);
  std::string bump = "PRAGMA user_version=" + std::to_string(kHistorySchemaVersion + 1);
  ASSERT_EQ(sqlite3_exec(db, bump.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto w = HistoryWriter::open(d.file("h.db"), limits());
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("newer conndoctor"), std::string::npos) << w.error().message;
  auto r = HistoryReader::open(d.file("h.db"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("newer conndoctor"), std::string::npos);
}

TEST(HistoryStore, RetentionDeletesTheOldestSamples) {
  TempDir d;
  auto w = HistoryWriter::open(d.file("h.db"), limits(60));
  ASSERT_TRUE(w);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*w)->write(sample_at(i * 20000, "critical")));
  auto r = HistoryReader::open(d.file("h.db"));
  auto rows = (*r)->samples(0, INT64_MAX);
  ASSERT_TRUE(rows);
  // Newest at 180 s: everything before 120 s is gone.
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ(rows->front().t_ms, 120000);
  auto f = (*r)->findings(0, INT64_MAX);
  EXPECT_EQ(f->size(), 4u);  // the findings of deleted samples went with them
}

// Reports that do not compress: each sample stores ~100 KB, so a 2 MiB cap holds a handful.
TEST(HistoryStore, MaxSizeIsNeverExceededAndEvictsOldestFirst) {
  TempDir d;
  const uint64_t cap = 2ull << 20;
  auto w = HistoryWriter::open(d.file("h.db"), limits(1e9, cap));
  ASSERT_TRUE(w);
  unsigned seed = 7;
  for (int i = 0; i < 60; ++i) {
    json r = report("warning", "198.18.0.2:8080", 0.8);
    std::string noise;
    for (int k = 0; k < 100000; ++k) noise += char('a' + rand_r(&seed) % 26);
    r["noise"] = noise;
    auto out = (*w)->write(make_sample(i * 1000, r, "t"));
    ASSERT_TRUE(out) << out.error().message;
    auto bytes = fs::file_size(d.file("h.db"));
    std::error_code ec;
    auto wal = fs::file_size(d.file("h.db") + "-wal", ec);
    EXPECT_LE(bytes + (ec ? 0 : wal), cap) << "after sample " << i;
  }
  auto r = HistoryReader::open(d.file("h.db"));
  auto rows = (*r)->samples(0, INT64_MAX);
  ASSERT_TRUE(rows);
  EXPECT_GT(rows->size(), 3u);
  EXPECT_LT(rows->size(), 30u);
  EXPECT_EQ(rows->back().t_ms, 59000);  // the newest is kept; the oldest went
  for (std::size_t i = 1; i < rows->size(); ++i)
    EXPECT_EQ((*rows)[i].t_ms, (*rows)[i - 1].t_ms + 1000);
}

TEST(HistoryIncidents, ConsecutiveSamplesAreOneIncident) {
  TempDir d;
  auto w = HistoryWriter::open(d.file("h.db"), limits());
  ASSERT_TRUE(w);
  // ok, crit .7, crit .95, crit .9, ok, crit .8 (a second incident), then the end.
  const char* st[] = {"ok", "critical", "critical", "critical", "ok", "critical"};
  double util[] = {0, 0.7, 0.95, 0.9, 0, 0.8};
  for (int i = 0; i < 6; ++i) ASSERT_TRUE((*w)->write(sample_at(i * 10000, st[i], util[i])));
  auto r = HistoryReader::open(d.file("h.db"));
  auto inc = find_incidents(*(*r)->samples(0, INT64_MAX), *(*r)->findings(0, INT64_MAX));
  ASSERT_EQ(inc.size(), 2u);
  EXPECT_EQ(inc[0].started_ms, 10000);
  EXPECT_EQ(inc[0].peak_ms, 20000);
  EXPECT_DOUBLE_EQ(*inc[0].peak_figure, 0.95);
  ASSERT_TRUE(inc[0].ended_ms);
  EXPECT_EQ(*inc[0].ended_ms, 40000);
  EXPECT_EQ(inc[0].samples, 3);
  EXPECT_EQ(inc[0].destination, "198.18.0.2:8080");
  EXPECT_EQ(inc[1].started_ms, 50000);
  EXPECT_FALSE(inc[1].ended_ms);  // still active at the last sample
}

// A gap in the recording (the recorder was down) ends an incident with an unknown end, and
// the finding seen again after it is a new incident.
TEST(HistoryIncidents, ARecordingGapEndsAnIncidentWithAnUnknownEnd) {
  TempDir d;
  auto w = HistoryWriter::open(d.file("h.db"), limits());
  ASSERT_TRUE(w);
  const int64_t ts[] = {0, 10000, 20000, 3600000, 3610000, 3620000};
  const char* st[] = {"ok", "critical", "critical", "critical", "critical", "ok"};
  for (int i = 0; i < 6; ++i) ASSERT_TRUE((*w)->write(sample_at(ts[i], st[i], 0.9)));
  auto r = HistoryReader::open(d.file("h.db"));
  auto inc = find_incidents(*(*r)->samples(0, INT64_MAX), *(*r)->findings(0, INT64_MAX));
  ASSERT_EQ(inc.size(), 2u);
  EXPECT_EQ(inc[0].started_ms, 10000);
  EXPECT_EQ(inc[0].last_seen_ms, 20000);
  EXPECT_FALSE(inc[0].ended_ms);
  ASSERT_TRUE(inc[0].gap_after_ms);
  EXPECT_EQ(*inc[0].gap_after_ms, 3600000);
  EXPECT_EQ(inc[1].started_ms, 3600000);
  ASSERT_TRUE(inc[1].ended_ms);
  EXPECT_EQ(*inc[1].ended_ms, 3620000);
  EXPECT_FALSE(inc[1].gap_after_ms);
}

// A report traced by `watch --trace`: its "trace" member as trace_json writes it.
json traced_report(const std::string& status, double util, int64_t eaddr, int64_t refused) {
  json r = report(status, "198.18.0.2:8080", util);
  json tr;
  tr["schema"] = "conndoctor/trace/v1";
  tr["duration_s"] = 10.0;
  tr["failures"] = json::array();
  if (eaddr)
    tr["failures"].push_back({{"op", "connect"},
                              {"errno", "EADDRNOTAVAIL"},
                              {"pid", 42},
                              {"comm", "client"},
                              {"netns", 4026},
                              {"destination", "198.18.0.2:8080"},
                              {"count", eaddr}});
  if (refused)
    tr["failures"].push_back({{"op", "connect"},
                              {"errno", "ECONNREFUSED"},
                              {"pid", 43},
                              {"comm", "other"},
                              {"netns", 4026},
                              {"destination", "198.18.0.9:25"},
                              {"count", refused}});
  tr["churn"] = json::array({{{"pid", 42},
                              {"comm", "client"},
                              {"destination", "198.18.0.2:8080"},
                              {"opened", 4000},
                              {"closed", 3990}}});
  tr["drops"] = json::array(
      {{{"reason", "TCP_LISTEN_OVERFLOW"}, {"where", "198.18.0.2:8080"}, {"count", 7}}});
  tr["syn_retransmits"] = json::array();
  r["trace"] = tr;
  return r;
}

// Schema 1 as released (frozen here: a migration test must not follow the code it tests).
const char* const kSchema1 = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE samples(id INTEGER PRIMARY KEY, t_ms INTEGER NOT NULL, status TEXT NOT NULL,
  summary TEXT NOT NULL, netns TEXT, hostname TEXT, kernel TEXT, encoding TEXT NOT NULL,
  report BLOB NOT NULL, text BLOB NOT NULL);
CREATE INDEX samples_t ON samples(t_ms);
CREATE TABLE findings(sample_id INTEGER NOT NULL, finding_id TEXT NOT NULL, subject TEXT NOT NULL,
  resource TEXT, severity TEXT NOT NULL, layer TEXT, title TEXT, destination TEXT, pid INTEGER,
  comm TEXT, figure REAL);
CREATE INDEX findings_sample ON findings(sample_id);
CREATE TABLE series(sample_id INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
  value REAL, lim REAL);
CREATE INDEX series_sample ON series(sample_id);
CREATE TABLE traced_failures(sample_id INTEGER NOT NULL, kind TEXT NOT NULL, errno_name TEXT,
  destination TEXT, pid INTEGER, comm TEXT, count INTEGER NOT NULL);
CREATE INDEX traced_failures_sample ON traced_failures(sample_id);
PRAGMA application_id=1128548435; PRAGMA user_version=1;
INSERT INTO meta VALUES('application','conndoctor history'), ('schema_version','1');
INSERT INTO samples VALUES(1, 5000, 'critical', 'ports run out', NULL, 'h1', '6.18', 'identity',
  '{"schema":"conndoctor/report/v1","status":"critical"}', 'old text');
INSERT INTO findings VALUES(1, 'ephemeral_ports.tuple', '198.18.0.2:8080', 'ephemeral_ports',
  'critical', 'application', 'ports 99%', '198.18.0.2:8080', NULL, NULL, 0.99);
)sql";

TEST(HistoryStore, ReadsAndMigratesASchema1Database) {
  TempDir d;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(d.file("h.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, kSchema1, nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_close(db);
  }
  {  // A reader takes the old file as it is: its sample, no traced rows.
    auto r = HistoryReader::open(d.file("h.db"));
    ASSERT_TRUE(r) << r.error().message;
    auto rows = (*r)->samples(0, INT64_MAX);
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_FALSE((*rows)[0].traced_s);
    auto traced = (*r)->traced(0, INT64_MAX);
    ASSERT_TRUE(traced);
    EXPECT_TRUE(traced->empty());
  }
  // The writer migrates it to the current schema in place; the old sample stays readable.
  auto w = HistoryWriter::open(d.file("h.db"), limits());
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE((*w)->write(make_sample(15000, traced_report("critical", 0.99, 1412, 3), "new")));
  w->reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(d.file("h.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT (SELECT user_version FROM pragma_user_version), "
                               "(SELECT value FROM meta WHERE key='schema_version')",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), kHistorySchemaVersion);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))),
            std::to_string(kHistorySchemaVersion));
  sqlite3_finalize(st);
  sqlite3_close(db);

  auto r = HistoryReader::open(d.file("h.db"));
  ASSERT_TRUE(r) << r.error().message;
  auto rows = (*r)->samples(0, INT64_MAX);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*r)->report((*rows)[0].id)->text, "old text");
  EXPECT_FALSE((*rows)[0].traced_s);
  ASSERT_TRUE((*rows)[1].traced_s);
  EXPECT_DOUBLE_EQ(*(*rows)[1].traced_s, 10.0);
  auto traced = (*r)->traced(0, INT64_MAX);
  ASSERT_TRUE(traced) << traced.error().message;
  ASSERT_EQ(traced->size(), 4u);  // two failures, one drop, one churn (stored in that order)
  const TracedRow& f = (*traced)[0];
  EXPECT_EQ(f.kind, "failure");
  EXPECT_EQ(f.op, "connect");
  EXPECT_EQ(f.errno_name, "EADDRNOTAVAIL");
  EXPECT_EQ(f.pid, 42);
  EXPECT_EQ(f.comm, "client");
  EXPECT_EQ(f.destination, "198.18.0.2:8080");
  EXPECT_EQ(f.count, 1412);
  EXPECT_EQ((*traced)[2].kind, "drop");
  EXPECT_EQ((*traced)[2].op, "TCP_LISTEN_OVERFLOW");
  EXPECT_EQ((*traced)[2].destination, "198.18.0.2:8080");
  EXPECT_EQ((*traced)[3].kind, "churn");
  EXPECT_EQ((*traced)[3].count, 4000);
  EXPECT_EQ((*traced)[3].closed, 3990);
  // Retention deletes the traced rows with their sample.
  auto w2 = HistoryWriter::open(d.file("h.db"), limits(1));
  ASSERT_TRUE(w2) << w2.error().message;
  ASSERT_TRUE((*w2)->write(sample_at(100000, "ok")));
  w2->reset();
  auto r2 = HistoryReader::open(d.file("h.db"));
  EXPECT_TRUE((*r2)->traced(0, INT64_MAX)->empty());
}

// An incident says who failed while it lasted: the traced failures of its samples, summed by
// who and what, those to another destination than the finding's left out; "not traced" (unset)
// differs from "traced, nothing failed" (empty).
TEST(HistoryIncidents, TracedFailuresSayWhoFailed) {
  TempDir d;
  auto w = HistoryWriter::open(d.file("h.db"), limits());
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->write(make_sample(0, traced_report("ok", 0, 0, 0), "t")));
  ASSERT_TRUE((*w)->write(make_sample(10000, traced_report("critical", 0.99, 1000, 5), "t")));
  ASSERT_TRUE((*w)->write(make_sample(20000, traced_report("critical", 0.99, 412, 0), "t")));
  ASSERT_TRUE((*w)->write(make_sample(30000, traced_report("ok", 0, 9, 0), "t")));
  ASSERT_TRUE((*w)->write(sample_at(40000, "critical")));  // not traced
  auto r = HistoryReader::open(d.file("h.db"));
  auto inc = find_incidents(*(*r)->samples(0, INT64_MAX), *(*r)->findings(0, INT64_MAX),
                            *(*r)->traced(0, INT64_MAX));
  ASSERT_EQ(inc.size(), 2u);
  ASSERT_TRUE(inc[0].failed);
  ASSERT_EQ(inc[0].failed->size(), 1u);  // ECONNREFUSED went to another destination
  const IncidentFailure& f = (*inc[0].failed)[0];
  EXPECT_EQ(f.count, 1412);  // 1000 + 412; the 9 after it ended are not its
  EXPECT_EQ(f.op, "connect");
  EXPECT_EQ(f.errno_name, "EADDRNOTAVAIL");
  EXPECT_EQ(f.pid, 42);
  EXPECT_EQ(f.comm, "client");
  EXPECT_FALSE(inc[1].failed);
  HistoryWindow win{"h.db", 0, 40000, 5, 0, 40000};
  std::string text = incidents_text(win, inc, false);
  EXPECT_NE(text.find("failed  1,412 connect() EADDRNOTAVAIL by pid 42 client to 198.18.0.2:8080"),
            std::string::npos)
      << text;
  auto j = incidents_json(win, inc);
  EXPECT_EQ(j["incidents"][0]["traced_failures"][0]["count"], 1412);
  EXPECT_EQ(j["incidents"][0]["traced_failures"][0]["errno"], "EADDRNOTAVAIL");
  EXPECT_TRUE(j["incidents"][1]["traced_failures"].is_null());
  HtmlReportInput in;
  in.window = win;
  in.samples = *(*r)->samples(0, INT64_MAX);
  in.incidents = inc;
  in.traced = *(*r)->traced(0, INT64_MAX);
  std::string html = history_html(in);
  EXPECT_NE(html.find("Failed calls per second (traced)"), std::string::npos);
  EXPECT_NE(html.find("connect() EADDRNOTAVAIL"), std::string::npos);
  EXPECT_NE(html.find("1412 connect() EADDRNOTAVAIL pid 42 client"), std::string::npos);
}

// What a recorder stores per sample is what the maps gained since the previous read.
TEST(TraceSince, SubtractsThePreviousReadByKey) {
  Endpoint dst{*IpAddr::parse("198.18.0.2"), 8080};
  TraceResult before, now;
  before.failures = {{"connect", 99, 42, "client", 7, dst, 100}};
  now.failures = {{"connect", 99, 42, "client", 7, dst, 160},
                  {"connect", 111, 43, "other", 7, dst, 5},
                  {"bind", 98, 42, "client", 7, std::nullopt, 0}};
  TraceChurn c;
  c.pid = 42;
  c.destination = dst;
  c.opened = 10;
  c.closed = 9;
  before.churn = {c};
  c.opened = 10;  // nothing new: left out
  c.closed = 9;
  now.churn = {c};
  before.drops = {{"TCP_LISTEN_OVERFLOW", 7, dst, 3}};
  now.drops = {{"TCP_LISTEN_OVERFLOW", 7, dst, 10}};
  TraceResult d = trace_since(now, before, 2.5);
  EXPECT_DOUBLE_EQ(d.duration_s, 2.5);
  ASSERT_EQ(d.failures.size(), 2u);
  EXPECT_EQ(d.failures[0].count, 60u);
  EXPECT_EQ(d.failures[1].count, 5u);
  EXPECT_EQ(d.failures[1].err, 111);
  EXPECT_TRUE(d.churn.empty());
  ASSERT_EQ(d.drops.size(), 1u);
  EXPECT_EQ(d.drops[0].count, 7u);
}

TEST(HistoryTime, ParsesDurationsSizesAndTimes) {
  EXPECT_DOUBLE_EQ(*parse_duration_s("10s"), 10);
  EXPECT_DOUBLE_EQ(*parse_duration_s("7d"), 7 * 86400);
  EXPECT_FALSE(parse_duration_s("ten"));
  EXPECT_FALSE(parse_duration_s("0s"));
  EXPECT_EQ(*parse_size_bytes("256MiB"), 256ull << 20);
  EXPECT_FALSE(parse_size_bytes("lots"));
  const int64_t now = 1764559920000;  // 2025-12-01T03:32:00Z
  EXPECT_EQ(*parse_time_ms("2h", now), now - 7200000);
  EXPECT_EQ(*parse_time_ms("2025-12-01T03:12:00Z", now), 1764558720000);
  EXPECT_EQ(*parse_time_ms("2025-12-01 03:12", now), 1764558720000);
  EXPECT_EQ(*parse_time_ms("03:12", now), 1764558720000);
  EXPECT_EQ(*parse_time_ms("@1764558720", now), 1764558720000);
  EXPECT_FALSE(parse_time_ms("yesterday", now));
  EXPECT_FALSE(parse_time_ms("2025-02-31T00:00:00Z", now));
  EXPECT_FALSE(parse_time_ms("25:00", now));
  EXPECT_EQ(format_utc(1764558720000), "2025-12-01T03:12:00Z");
}

TEST(HistoryHtml, IsSelfContainedAndDrawsLimits) {
  ChartLine l{"a", {{0, 1}, {1000, 5}}, {{0, 10}, {1000, 10}}};
  std::string svg = svg_chart("t <x>", {l}, 0, 1000);
  EXPECT_NE(svg.find("class=\"limit\""), std::string::npos);
  EXPECT_NE(svg.find("t &lt;x&gt;"), std::string::npos);
  HtmlReportInput in;
  in.window.database = "h.db";
  std::string html = history_html(in);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

}  // namespace
}  // namespace cd
