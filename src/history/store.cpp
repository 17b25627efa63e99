// SQLite behind the flight recorder: opening (ours? which version? another writer?), the
// migrations, one transaction per sample, retention and the size cap.
#include "history/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace cd {

namespace {

// Each entry migrates schema version i to i + 1 (entry 0 creates version 1). A new version
// appends an entry; old files are migrated in order by the writer, inside one transaction.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE samples(
  id INTEGER PRIMARY KEY,
  t_ms INTEGER NOT NULL,            -- wall clock, Unix milliseconds
  status TEXT NOT NULL, summary TEXT NOT NULL,
  netns TEXT, hostname TEXT, kernel TEXT,
  encoding TEXT NOT NULL,           -- 'zlib' or 'identity'
  report BLOB NOT NULL,             -- conndoctor/report/v1, with its host block
  text BLOB NOT NULL);              -- the text report, without colour
CREATE INDEX samples_t ON samples(t_ms);
CREATE TABLE findings(
  sample_id INTEGER NOT NULL, finding_id TEXT NOT NULL, subject TEXT NOT NULL,
  resource TEXT, severity TEXT NOT NULL, layer TEXT, title TEXT,
  destination TEXT, pid INTEGER, comm TEXT, figure REAL);
CREATE INDEX findings_sample ON findings(sample_id);
CREATE TABLE series(
  sample_id INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, value REAL, lim REAL);
CREATE INDEX series_sample ON series(sample_id);
-- Failures seen by `conndoctor trace` (eBPF) during a sample: empty until tracing records.
CREATE TABLE traced_failures(
  sample_id INTEGER NOT NULL, kind TEXT NOT NULL, errno_name TEXT,
  destination TEXT, pid INTEGER, comm TEXT, count INTEGER NOT NULL);
CREATE INDEX traced_failures_sample ON traced_failures(sample_id);
)sql",
    // 1 -> 2: traced counts per sample (watch --trace). Schema 1 reserved traced_failures
    // but never wrote to it; it becomes `traced`, one row per traced key of a sample.
    R"sql(
ALTER TABLE samples ADD COLUMN traced_s REAL;  -- seconds the traced counts cover; NULL: not traced
DROP INDEX traced_failures_sample;
ALTER TABLE traced_failures RENAME TO traced;
-- kind: failure | drop | churn | syn_retransmit; op: the call (connect, bind, ...) or the
-- drop reason; count: calls, drops, connections opened (churn) or SYN retransmits.
ALTER TABLE traced ADD COLUMN op TEXT;
ALTER TABLE traced ADD COLUMN netns INTEGER;
ALTER TABLE traced ADD COLUMN closed INTEGER;  -- churn: of the connections opened, how many closed
CREATE INDEX traced_sample ON traced(sample_id);
)sql",
};
constexpr int kMigrationCount = int(std::size(kMigrations));
static_assert(kMigrationCount == kHistorySchemaVersion);

// A prepared statement, finalized once by its last owner.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt() = default;
  Stmt(Stmt&& o) noexcept : s(std::exchange(o.s, nullptr)) {}
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(s, o.s);
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s); }
};

std::string errmsg(sqlite3* db) {
  return db ? sqlite3_errmsg(db) : "out of memory";
}

Result<Stmt> prepare(sqlite3* db, const char* sql) {
  Stmt st;
  if (sqlite3_prepare_v2(db, sql, -1, &st.s, nullptr) != SQLITE_OK) return fail(errmsg(db));
  return st;
}

Result<int64_t> pragma_int(sqlite3* db, const char* sql) {
  auto st = prepare(db, sql);
  if (!st) return std::unexpected(st.error());
  int rc = sqlite3_step(st->s);
  if (rc == SQLITE_ROW) return sqlite3_column_int64(st->s, 0);
  if (rc == SQLITE_DONE) return 0;
  return fail(errmsg(db));
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v, bool null_if_empty = false) {
  if (null_if_empty && v.empty())
    sqlite3_bind_null(s, i);
  else
    sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
}
template <typename T>
void bind_opt(sqlite3_stmt* s, int i, const std::optional<T>& v) {
  if (!v)
    sqlite3_bind_null(s, i);
  else if constexpr (std::is_integral_v<T>)
    sqlite3_bind_int64(s, i, *v);
  else
    sqlite3_bind_double(s, i, *v);
}
std::string col_text(sqlite3_stmt* s, int i) {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, std::size_t(sqlite3_column_bytes(s, i))) : std::string();
}
std::optional<double> col_double(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(s, i);
}

// Decides whether an open connection is a conndoctor history database we may use. `fresh` is
// set for an empty file (or an SQLite file without any table and without our id): the writer
// then creates the schema.
Result<int> check_identity(sqlite3* db, const std::string& path, bool& fresh) {
  auto app = pragma_int(db, "PRAGMA application_id");
  if (!app) {
    // SQLITE_NOTADB: the first page is not an SQLite header.
    return fail(path + ": not a conndoctor history database (" + app.error().message + ")");
  }
  auto version = pragma_int(db, "PRAGMA user_version");
  auto tables = pragma_int(db, "SELECT count(*) FROM sqlite_schema");
  if (!version || !tables) return fail(path + ": cannot read the database header");
  fresh = false;
  if (*app == 0 && *tables == 0 && *version == 0) {
    fresh = true;
    return 0;
  }
  if (*app != kHistoryApplicationId)
    return fail(
        path + ": not a conndoctor history database (an SQLite database of " +
        (*app == 0 ? std::string("another program") : "application id " + std::to_string(*app)) +
        ")");
  if (*version > kHistorySchemaVersion)
    return fail(path + ": written by a newer conndoctor (history schema " +
                std::to_string(*version) + "; this one knows up to " +
                std::to_string(kHistorySchemaVersion) + ")");
  return int(*version);
}

}  // namespace

// ---- writer ----

HistoryWriter::~HistoryWriter() {
  if (db_) {
    // A clean stop folds the WAL back into the file, so that a copy of the file alone is whole.
    sqlite3_exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close_v2(db_);
  }
  // Closed after SQLite: closing any fd of the file drops the process's POSIX locks on it,
  // which SQLite relies on.
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<void> HistoryWriter::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : errmsg(db_);
    sqlite3_free(err);
    return fail(m);
  }
  return {};
}

Result<std::unique_ptr<HistoryWriter>> HistoryWriter::open(const std::string& path,
                                                           RecorderLimits limits) {
  std::unique_ptr<HistoryWriter> w(new HistoryWriter);
  w->path_ = path;
  w->limits_ = limits;
  // One writer per file. flock() is separate from SQLite's own fcntl() locks (which only
  // guard single transactions) and is released by the kernel when the holder dies, kill -9
  // included, so a crashed recorder never leaves a stale lock behind.
  w->lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (w->lock_fd_ < 0) return fail_errno(path);
  if (::flock(w->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return fail(path + ": another conndoctor is already recording into this database");
    return fail_errno(path + ": lock");
  }
  if (sqlite3_open_v2(path.c_str(), &w->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK)
    return fail(path + ": " + errmsg(w->db_));
  sqlite3_busy_timeout(w->db_, 5000);
  bool fresh = false;
  auto version = check_identity(w->db_, path, fresh);
  if (!version) return std::unexpected(version.error());

  if (auto r = w->exec("PRAGMA journal_mode=WAL"); !r) return fail(path + ": " + r.error().message);
  // WAL + NORMAL: a commit is in the WAL before write() returns, so it survives the process
  // being killed; only a power cut may lose the last commits (never corrupting the file).
  (void)w->exec("PRAGMA synchronous=NORMAL");
  // The WAL is folded back and truncated after every sample (write()), so it never holds more
  // than one sample's transaction; SQLite's own checkpoints are not needed on top.
  (void)w->exec("PRAGMA wal_autocheckpoint=0");

  if (*version < kHistorySchemaVersion) {
    if (auto r = w->exec("BEGIN IMMEDIATE"); !r) return fail(path + ": " + r.error().message);
    for (int v = *version; v < kHistorySchemaVersion; ++v) {
      if (auto r = w->exec(kMigrations[v]); !r) {
        (void)w->exec("ROLLBACK");
        return fail(path + ": migrating the history schema to version " + std::to_string(v + 1) +
                    ": " + r.error().message);
      }
    }
    std::string stamp = "PRAGMA application_id=" + std::to_string(kHistoryApplicationId) +
                        "; PRAGMA user_version=" + std::to_string(kHistorySchemaVersion) +
                        "; INSERT OR REPLACE INTO meta VALUES('application','conndoctor history')"
                        ", ('schema_version','" +
                        std::to_string(kHistorySchemaVersion) + "')";
    if (auto r = w->exec(stamp.c_str()); !r) {
      (void)w->exec("ROLLBACK");
      return fail(path + ": " + r.error().message);
    }
    if (auto r = w->exec("COMMIT"); !r) return fail(path + ": " + r.error().message);
  }
  // The hard cap: SQLite refuses (SQLITE_FULL) to grow the main file past max_page_count.
  // The WAL (one sample's transaction at most, see above) comes on top, so it is reserved
  // from the budget.
  auto page = pragma_int(w->db_, "PRAGMA page_size");
  if (!page || *page <= 0) return fail(path + ": cannot read the page size");
  w->wal_reserve_ = std::clamp<uint64_t>(limits.max_bytes / 8, 256u << 10, 8u << 20);
  uint64_t pages = (limits.max_bytes - w->wal_reserve_) / uint64_t(*page);
  auto cur = pragma_int(w->db_, "PRAGMA page_count");
  if (cur && uint64_t(*cur) > pages)
    return fail(path + ": already larger than --max-size (" + std::to_string(*cur * *page) +
                " bytes)");
  std::string cap = "PRAGMA max_page_count=" + std::to_string(pages);
  (void)w->exec(cap.c_str());
  return w;
}

int64_t HistoryWriter::used_bytes() {
  auto page = pragma_int(db_, "PRAGMA page_size");
  auto count = pragma_int(db_, "PRAGMA page_count");
  auto free = pragma_int(db_, "PRAGMA freelist_count");
  if (!page || !count || !free) return 0;
  return (*count - *free) * *page;
}

Result<int> HistoryWriter::delete_before(int64_t t_ms) {
  // Children first, then the samples (ids are the join key).
  const char* sqls[] = {
      "DELETE FROM findings WHERE sample_id IN (SELECT id FROM samples WHERE t_ms < ?1)",
      "DELETE FROM series WHERE sample_id IN (SELECT id FROM samples WHERE t_ms < ?1)",
      "DELETE FROM traced WHERE sample_id IN (SELECT id FROM samples WHERE t_ms < ?1)",
      "DELETE FROM samples WHERE t_ms < ?1"};
  int deleted = 0;
  for (const char* sql : sqls) {
    auto s = prepare(db_, sql);
    if (!s) return std::unexpected(s.error());
    sqlite3_bind_int64(s->s, 1, t_ms);
    if (sqlite3_step(s->s) != SQLITE_DONE) return fail(errmsg(db_));
    deleted = sqlite3_changes(db_);
  }
  return deleted;
}

Result<int> HistoryWriter::delete_oldest(int64_t count) {
  // The t_ms of the count-th oldest sample + 1 ms: everything older goes.
  auto st = prepare(db_, "SELECT t_ms FROM samples ORDER BY t_ms LIMIT 1 OFFSET ?1");
  if (!st) return std::unexpected(st.error());
  sqlite3_bind_int64(st->s, 1, std::max<int64_t>(0, count - 1));
  int rc = sqlite3_step(st->s);
  int64_t cutoff;
  if (rc == SQLITE_ROW)
    cutoff = sqlite3_column_int64(st->s, 0) + 1;
  else if (rc == SQLITE_DONE)
    cutoff = INT64_MAX;
  else
    return fail(errmsg(db_));
  return delete_before(cutoff);
}

Result<int64_t> HistoryWriter::insert(const Sample& s, const Encoded& e) {
  auto st = prepare(db_,
                    "INSERT INTO samples(t_ms,status,summary,netns,hostname,kernel,encoding,report,"
                    "text,traced_s) VALUES(?,?,?,?,?,?,?,?,?,?)");
  if (!st) return std::unexpected(st.error());
  sqlite3_bind_int64(st->s, 1, s.t_ms);
  bind_text(st->s, 2, s.status);
  bind_text(st->s, 3, s.summary);
  bind_text(st->s, 4, s.netns, true);
  bind_text(st->s, 5, s.hostname, true);
  bind_text(st->s, 6, s.kernel, true);
  bind_text(st->s, 7, e.encoding);
  sqlite3_bind_blob(st->s, 8, e.report.data(), int(e.report.size()), SQLITE_STATIC);
  sqlite3_bind_blob(st->s, 9, e.text.data(), int(e.text.size()), SQLITE_STATIC);
  bind_opt(st->s, 10, s.traced_s);
  if (sqlite3_step(st->s) != SQLITE_DONE) return fail(errmsg(db_));
  int64_t id = sqlite3_last_insert_rowid(db_);

  auto fs = prepare(db_,
                    "INSERT INTO findings(sample_id,finding_id,subject,resource,severity,layer,"
                    "title,destination,pid,comm,figure) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
  if (!fs) return std::unexpected(fs.error());
  for (const auto& f : s.findings) {
    sqlite3_reset(fs->s);
    sqlite3_bind_int64(fs->s, 1, id);
    bind_text(fs->s, 2, f.finding_id);
    bind_text(fs->s, 3, f.subject);
    bind_text(fs->s, 4, f.resource, true);
    bind_text(fs->s, 5, f.severity);
    bind_text(fs->s, 6, f.layer, true);
    bind_text(fs->s, 7, f.title, true);
    bind_text(fs->s, 8, f.destination, true);
    bind_opt(fs->s, 9, f.pid);
    bind_text(fs->s, 10, f.comm, true);
    bind_opt(fs->s, 11, f.figure);
    if (sqlite3_step(fs->s) != SQLITE_DONE) return fail(errmsg(db_));
  }
  auto ss = prepare(db_, "INSERT INTO series(sample_id,kind,key,value,lim) VALUES(?,?,?,?,?)");
  if (!ss) return std::unexpected(ss.error());
  for (const auto& r : s.series) {
    sqlite3_reset(ss->s);
    sqlite3_bind_int64(ss->s, 1, id);
    bind_text(ss->s, 2, r.kind);
    bind_text(ss->s, 3, r.key);
    bind_opt(ss->s, 4, r.value);
    bind_opt(ss->s, 5, r.limit);
    if (sqlite3_step(ss->s) != SQLITE_DONE) return fail(errmsg(db_));
  }
  auto ts = prepare(db_,
                    "INSERT INTO traced(sample_id,kind,op,errno_name,destination,pid,comm,netns,"
                    "count,closed) VALUES(?,?,?,?,?,?,?,?,?,?)");
  if (!ts) return std::unexpected(ts.error());
  for (const auto& t : s.traced) {
    sqlite3_reset(ts->s);
    sqlite3_bind_int64(ts->s, 1, id);
    bind_text(ts->s, 2, t.kind);
    bind_text(ts->s, 3, t.op, true);
    bind_text(ts->s, 4, t.errno_name, true);
    bind_text(ts->s, 5, t.destination, true);
    bind_opt(ts->s, 6, t.pid);
    bind_text(ts->s, 7, t.comm, true);
    bind_opt(ts->s, 8, t.netns);
    sqlite3_bind_int64(ts->s, 9, t.count);
    bind_opt(ts->s, 10, t.closed);
    if (sqlite3_step(ts->s) != SQLITE_DONE) return fail(errmsg(db_));
  }
  return id;
}

Result<WriteOutcome> HistoryWriter::write(const Sample& s) {
  Encoded e = encode(s);
  WriteOutcome out;
  out.stored_bytes = e.report.size() + e.text.size();
  // A transaction writes the sample's pages (about twice its stored bytes with the rows,
  // indexes and page slack) and a few pages of the deletions; that must fit in the WAL's reserve.
  if (out.stored_bytes * 2 + (64u << 10) > wal_reserve_)
    return fail("a sample (" + std::to_string(out.stored_bytes) +
                " bytes) is too large for --max-size " + std::to_string(limits_.max_bytes));
  auto page = pragma_int(db_, "PRAGMA page_size");
  auto cap = pragma_int(db_, "PRAGMA max_page_count");
  const int64_t budget = (page && cap) ? *page * *cap : int64_t(limits_.max_bytes);

  // Up to a few attempts: each SQLITE_FULL at the cap evicts more of the oldest samples.
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return std::unexpected(r.error());
    auto rollback = [&](Error err) -> Result<WriteOutcome> {
      (void)exec("ROLLBACK");
      return std::unexpected(std::move(err));
    };
    auto ret = delete_before(s.t_ms - int64_t(limits_.retention_s * 1000));
    if (!ret) return rollback(ret.error());
    out.deleted_for_retention = *ret;
    // Oldest first until the sample (with room for its rows and indexes) fits in the used
    // pages, so that the cap is normally never hit and freed pages are reused in place.
    int64_t need = int64_t(out.stored_bytes) * 2 + (32 << 10);
    while (used_bytes() + need > budget) {
      auto d = delete_oldest(std::max<int64_t>(1, attempt * 16 + 1));
      if (!d) return rollback(d.error());
      if (*d == 0) break;
      out.deleted_for_size += *d;
    }
    auto id = insert(s, e);
    if (!id) {
      int code = sqlite3_extended_errcode(db_);
      (void)exec("ROLLBACK");
      auto count = pragma_int(db_, "PRAGMA page_count");
      bool at_cap = code == SQLITE_FULL && count && cap && *count + 16 >= *cap;
      if (at_cap) continue;  // our own cap: evict more and retry
      return std::unexpected(id.error());
    }
    if (auto r = exec("COMMIT"); !r) return rollback(r.error());
    out.sample_id = *id;
    // Fold the WAL into the file and truncate it. With a reader in the middle of a long read
    // it cannot finish; the next sample tries again (the WAL then holds a few samples).
    sqlite3_exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    return out;
  }
  return fail("the sample does not fit in --max-size even after evicting older samples");
}

// ---- reader ----

HistoryReader::~HistoryReader() {
  if (db_) sqlite3_close_v2(db_);
}

Result<std::unique_ptr<HistoryReader>> HistoryReader::open(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return fail_errno(path);
  std::unique_ptr<HistoryReader> r(new HistoryReader);
  if (sqlite3_open_v2(path.c_str(), &r->db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return fail(path + ": " + errmsg(r->db_));
  sqlite3_busy_timeout(r->db_, 5000);
  bool fresh = false;
  auto version = check_identity(r->db_, path, fresh);
  if (!version) return std::unexpected(version.error());
  if (fresh) return fail(path + ": not a conndoctor history database (empty)");
  if (*version < 1) return fail(path + ": not a conndoctor history database (no schema version)");
  // An older file is read as it is (a reader never writes): what its schema lacks is absent.
  r->version_ = *version;
  return r;
}

Result<std::vector<SampleRow>> HistoryReader::samples(int64_t from_ms, int64_t to_ms) {
  auto st = prepare(db_, version_ >= 2 ? "SELECT id,t_ms,status,summary,traced_s FROM samples "
                                         "WHERE t_ms BETWEEN ? AND ? ORDER BY t_ms, id"
                                       : "SELECT id,t_ms,status,summary,NULL FROM samples "
                                         "WHERE t_ms BETWEEN ? AND ? ORDER BY t_ms, id");
  if (!st) return std::unexpected(st.error());
  sqlite3_bind_int64(st->s, 1, from_ms);
  sqlite3_bind_int64(st->s, 2, to_ms);
  std::vector<SampleRow> out;
  int rc;
  while ((rc = sqlite3_step(st->s)) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(st->s, 0), sqlite3_column_int64(st->s, 1),
                   col_text(st->s, 2), col_text(st->s, 3), col_double(st->s, 4)});
  if (rc != SQLITE_DONE) return fail(errmsg(db_));
  return out;
}

Result<std::vector<FindingRow>> HistoryReader::findings(int64_t from_ms, int64_t to_ms) {
  auto st = prepare(db_,
                    "SELECT f.sample_id,f.finding_id,f.subject,f.resource,f.severity,f.layer,"
                    "f.title,f.destination,f.comm,f.pid,f.figure FROM samples s JOIN findings f "
                    "ON f.sample_id = s.id WHERE s.t_ms BETWEEN ? AND ? ORDER BY s.t_ms, s.id");
  if (!st) return std::unexpected(st.error());
  sqlite3_bind_int64(st->s, 1, from_ms);
  sqlite3_bind_int64(st->s, 2, to_ms);
  std::vector<FindingRow> out;
  int rc;
  while ((rc = sqlite3_step(st->s)) == SQLITE_ROW) {
    FindingRow f;
    f.sample_id = sqlite3_column_int64(st->s, 0);
    f.finding_id = col_text(st->s, 1);
    f.subject = col_text(st->s, 2);
    f.resource = col_text(st->s, 3);
    f.severity = col_text(st->s, 4);
    f.layer = col_text(st->s, 5);
    f.title = col_text(st->s, 6);
    f.destination = col_text(st->s, 7);
    f.comm = col_text(st->s, 8);
    if (sqlite3_column_type(st->s, 9) != SQLITE_NULL) f.pid = sqlite3_column_int64(st->s, 9);
    f.figure = col_double(st->s, 10);
    out.push_back(std::move(f));
  }
  if (rc != SQLITE_DONE) return fail(errmsg(db_));
  return out;
}

Result<std::vector<SeriesRow>> HistoryReader::series(int64_t from_ms, int64_t to_ms) {
  auto st = prepare(db_,
                    "SELECT r.sample_id,r.kind,r.key,r.value,r.lim FROM samples s JOIN series r "
                    "ON r.sample_id = s.id WHERE s.t_ms BETWEEN ? AND ? ORDER BY s.t_ms, s.id");
  if (!st) return std::unexpected(st.error());
  sqlite3_bind_int64(st->s, 1, from_ms);
  sqlite3_bind_int64(st->s, 2, to_ms);
  std::vector<SeriesRow> out;
  int rc;
  while ((rc = sqlite3_step(st->s)) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(st->s, 0), col_text(st->s, 1), col_text(st->s, 2),
                   col_double(st->s, 3), col_double(st->s, 4)});
  if (rc != SQLITE_DONE) return fail(errmsg(db_));
  return out;
}

Result<std::vector<TracedRow>> HistoryReader::traced(int64_t from_ms, int64_t to_ms) {
  std::vector<TracedRow> out;
  if (version_ < 2) return out;
  auto st = prepare(db_,
                    "SELECT r.sample_id,r.kind,r.op,r.errno_name,r.destination,r.pid,r.comm,"
                    "r.netns,r.count,r.closed FROM samples s JOIN traced r ON r.sample_id = s.id "
                    "WHERE s.t_ms BETWEEN ? AND ? ORDER BY s.t_ms, s.id, r.rowid");
  if (!st) return std::unexpected(st.error());
  sqlite3_bind_int64(st->s, 1, from_ms);
  sqlite3_bind_int64(st->s, 2, to_ms);
  auto opt_int = [&](int i) -> std::optional<int64_t> {
    if (sqlite3_column_type(st->s, i) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(st->s, i);
  };
  int rc;
  while ((rc = sqlite3_step(st->s)) == SQLITE_ROW) {
    TracedRow t;
    t.sample_id = sqlite3_column_int64(st->s, 0);
    t.kind = col_text(st->s, 1);
    t.op = col_text(st->s, 2);
    t.errno_name = col_text(st->s, 3);
    t.destination = col_text(st->s, 4);
    t.pid = opt_int(5);
    t.comm = col_text(st->s, 6);
    t.netns = opt_int(7);
    t.count = sqlite3_column_int64(st->s, 8);
    t.closed = opt_int(9);
    out.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return fail(errmsg(db_));
  return out;
}

Result<std::optional<SampleRow>> HistoryReader::sample_at(int64_t t_ms) {
  auto st = prepare(db_,
                    "SELECT id,t_ms,status,summary FROM samples WHERE t_ms <= ? "
                    "ORDER BY t_ms DESC, id DESC LIMIT 1");
  if (!st) return std::unexpected(st.error());
  sqlite3_bind_int64(st->s, 1, t_ms);
  int rc = sqlite3_step(st->s);
  if (rc == SQLITE_DONE) return std::optional<SampleRow>();
  if (rc != SQLITE_ROW) return fail(errmsg(db_));
  return SampleRow{sqlite3_column_int64(st->s, 0), sqlite3_column_int64(st->s, 1),
                   col_text(st->s, 2), col_text(st->s, 3), std::nullopt};
}

Result<StoredReport> HistoryReader::report(int64_t sample_id) {
  auto st = prepare(db_, "SELECT t_ms,encoding,report,text FROM samples WHERE id = ?");
  if (!st) return std::unexpected(st.error());
  sqlite3_bind_int64(st->s, 1, sample_id);
  int rc = sqlite3_step(st->s);
  if (rc != SQLITE_ROW) return fail("sample " + std::to_string(sample_id) + ": not stored");
  auto blob = [&](int i) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(st->s, i));
    return p ? std::string(p, std::size_t(sqlite3_column_bytes(st->s, i))) : std::string();
  };
  std::string enc = col_text(st->s, 1);
  auto json = decode(enc, blob(2));
  if (!json) return std::unexpected(json.error());
  auto text = decode(enc, blob(3));
  if (!text) return std::unexpected(text.error());
  return StoredReport{sample_id, sqlite3_column_int64(st->s, 0), std::move(*json),
                      std::move(*text)};
}

Result<std::optional<std::pair<int64_t, int64_t>>> HistoryReader::time_span() {
  auto st = prepare(db_, "SELECT min(t_ms), max(t_ms) FROM samples");
  if (!st) return std::unexpected(st.error());
  if (sqlite3_step(st->s) != SQLITE_ROW) return fail(errmsg(db_));
  if (sqlite3_column_type(st->s, 0) == SQLITE_NULL)
    return std::optional<std::pair<int64_t, int64_t>>();
  return std::make_optional(
      std::pair{sqlite3_column_int64(st->s, 0), sqlite3_column_int64(st->s, 1)});
}

}  // namespace cd
