// The flight recorder's database: one SQLite file (WAL) holding every recorded sample. One
// writer at a time (an flock() on the file, held for the writer's life), any number of
// readers. The schema is versioned (PRAGMA user_version, mirrored in the `meta` table) and
// marked as ours (PRAGMA application_id), so that "not a conndoctor database" and "written by a
// newer conndoctor" are each one clear error. Schema and limits: docs/history.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "history/sample.h"
#include "util/error.h"

struct sqlite3;

namespace cd {

inline constexpr int kHistorySchemaVersion = 2;
// PRAGMA application_id: "CDHS" (conndoctor history store), the SQLite way to say whose file it is.
inline constexpr int32_t kHistoryApplicationId = 0x43444853;

struct RecorderLimits {
  double retention_s = 7 * 86400.0;   // samples older than this (from the newest) are deleted
  uint64_t max_bytes = 256ull << 20;  // the database file never grows past this
};

// What a write did, for the daemon's log and the tests.
struct WriteOutcome {
  int64_t sample_id = 0;
  int deleted_for_retention = 0;
  int deleted_for_size = 0;
  std::size_t stored_bytes = 0;  // compressed report + text
};

class HistoryWriter {
 public:
  ~HistoryWriter();
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  // Creates or migrates the database; refuses a second writer, a newer schema, a foreign file.
  static Result<std::unique_ptr<HistoryWriter>> open(const std::string& path,
                                                     RecorderLimits limits);
  // One transaction: the sample and its rows, after the oldest samples that retention or
  // --max-size evict. On failure (disk full, I/O error) nothing of the sample is stored and
  // the database is as before; the writer stays usable.
  Result<WriteOutcome> write(const Sample& s);

 private:
  HistoryWriter() = default;
  Result<void> exec(const char* sql);
  Result<int64_t> insert(const Sample& s, const Encoded& e);
  Result<int> delete_oldest(int64_t count);
  Result<int> delete_before(int64_t t_ms);
  int64_t used_bytes();

  std::string path_;
  RecorderLimits limits_;
  sqlite3* db_ = nullptr;
  int lock_fd_ = -1;
  uint64_t wal_reserve_ = 0;  // bytes of --max-size kept for the WAL
};

// One stored sample's row (without the report).
struct SampleRow {
  int64_t id = 0;
  int64_t t_ms = 0;
  std::string status;
  std::string summary;
  std::optional<double> traced_s;  // the sample was traced for this long (watch --trace)
};

// One traced count of a sample (history/sample.h SampleTraced).
struct TracedRow {
  int64_t sample_id = 0;
  std::string kind, op, errno_name, destination, comm;
  std::optional<int64_t> pid, netns, closed;
  int64_t count = 0;
};

struct FindingRow {
  int64_t sample_id = 0;
  std::string finding_id, subject, resource, severity, layer, title, destination, comm;
  std::optional<int64_t> pid;
  std::optional<double> figure;
};

struct SeriesRow {
  int64_t sample_id = 0;
  std::string kind, key;
  std::optional<double> value, limit;
};

class HistoryReader {
 public:
  ~HistoryReader();
  HistoryReader(const HistoryReader&) = delete;
  HistoryReader& operator=(const HistoryReader&) = delete;

  static Result<std::unique_ptr<HistoryReader>> open(const std::string& path);

  // Samples with from_ms <= t <= to_ms, oldest first.
  Result<std::vector<SampleRow>> samples(int64_t from_ms, int64_t to_ms);
  Result<std::vector<FindingRow>> findings(int64_t from_ms, int64_t to_ms);
  Result<std::vector<SeriesRow>> series(int64_t from_ms, int64_t to_ms);
  // Traced counts (watch --trace); none in a schema-1 file, which had no tracing.
  Result<std::vector<TracedRow>> traced(int64_t from_ms, int64_t to_ms);
  // The newest sample at or before t_ms; nullopt when there is none.
  Result<std::optional<SampleRow>> sample_at(int64_t t_ms);
  Result<StoredReport> report(int64_t sample_id);
  Result<std::optional<std::pair<int64_t, int64_t>>> time_span();  // first, last t_ms

 private:
  HistoryReader() = default;
  sqlite3* db_ = nullptr;
  int version_ = 0;  // an older file is read as it is (the writer migrates it)
};

}  // namespace cd
