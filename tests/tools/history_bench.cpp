// cdtool-history_bench DB SAMPLES: the flight recorder's cost where it runs (inside the
// benchmark namespace). Each round collects and analyses as `watch` does (one reading, rates
// against the previous round), then stores the sample as `watch` does (render the report and
// its text, build the rows, compress, write, checkpoint). Prints, as medians over the rounds,
// the CPU and wall time of the collection and of the write, and the bytes the database grew
// by per sample (used pages, not file size: freed pages are reused; the mean over the rounds).
#include <sqlite3.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "diagnose/diagnose.h"
#include "history/store.h"
#include "serve/scrape_coordinator.h"
#include "util/clock.h"

using namespace cd;

namespace {

double cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}
double wall_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
long long used_bytes(const std::string& db) {
  sqlite3* h = nullptr;
  long long pages = 0, free_pages = 0, size = 0;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    auto one = [&](const char* sql) {
      sqlite3_stmt* s = nullptr;
      long long v = 0;
      if (sqlite3_prepare_v2(h, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
      sqlite3_finalize(s);
      return v;
    };
    pages = one("PRAGMA page_count");
    free_pages = one("PRAGMA freelist_count");
    size = one("PRAGMA page_size");
  }
  sqlite3_close(h);
  return (pages - free_pages) * size;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: cdtool-history_bench DB SAMPLES\n");
    return 2;
  }
  std::string db = argv[1];
  int rounds = std::stoi(argv[2]);
  auto w = HistoryWriter::open(db, RecorderLimits{1e9, 4ull << 30});
  if (!w) {
    std::fprintf(stderr, "%s\n", w.error().message.c_str());
    return 3;
  }
  DiagnoseOptions diag;
  diag.collect.interval_s = 0;
  auto fd_tables = open_fd_tables(diag);
  auto clock = make_real_clock();
  ScrapeCoordinator coordinator(
      [&]() -> Result<Snapshot> {
        auto c = make_real_clock();
        auto d = diagnose(diag, *c, fd_tables.get());
        if (!d) return std::unexpected(d.error());
        return std::move(d->snapshot);
      },
      [](const Snapshot& s) { return analyse(s); }, *clock,
      CoordinatorOptions{.min_interval_s = 0});
  std::vector<double> c_cpu, c_wall, w_cpu, w_wall, stored;
  long long before = used_bytes(db), first = 0;
  for (int i = 0; i < rounds; ++i) {
    double c0 = cpu_s(), t0 = wall_s();
    auto served = coordinator.get();
    double c1 = cpu_s(), t1 = wall_s();
    if (!served || !served->result->diagnosis) {
      std::fprintf(stderr, "collection failed\n");
      return 1;
    }
    const Diagnosis& d = *served->result->diagnosis;
    auto out = (*w)->write(history_sample(d.snapshot, d.analysis));
    double c2 = cpu_s(), t2 = wall_s();
    if (!out) {
      std::fprintf(stderr, "%s\n", out.error().message.c_str());
      return 1;
    }
    long long after = used_bytes(db);
    c_cpu.push_back(c1 - c0);
    c_wall.push_back(t1 - t0);
    w_cpu.push_back(c2 - c1);
    w_wall.push_back(t2 - t1);
    if (i == 0) first = after;  // the first sample pays for the schema: growth is counted after it
    stored.push_back(double(out->stored_bytes));
    before = after;
  }
  // Pages are 4 KiB, so one sample's growth is 0 or a few pages: the mean over the rounds.
  double g = rounds > 1 ? double(before - first) / (rounds - 1) : 0;
  std::printf(
      "rounds %d | collection: cpu %.1f ms, wall %.1f ms | sample write: cpu %.2f ms, wall %.2f ms "
      "(cpu %.1f %% of the collection) | stored (compressed report+text) %.0f B | database growth "
      "%.0f B/sample (mean) = %.1f MiB/day at --every 10s\n",
      rounds, median(c_cpu) * 1e3, median(c_wall) * 1e3, median(w_cpu) * 1e3, median(w_wall) * 1e3,
      100 * median(w_cpu) / median(c_cpu), median(stored), g, g * 8640 / (1 << 20));
  return 0;
}
