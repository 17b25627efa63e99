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
