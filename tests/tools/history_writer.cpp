// cdtool-history_writer: drives the flight recorder's store (the product's HistoryWriter) for
// the crash test. `write DB BYTES` writes samples of BYTES of incompressible report as fast as
// it can and prints each committed sample id on its own line (after the commit returned);
// `verify DB LOG` checks PRAGMA integrity_check and that every id in LOG reads back whole.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "history/sample.h"
#include "history/store.h"

using namespace cd;

namespace {

int write_loop(const std::string& db, std::size_t bytes) {
  auto w = HistoryWriter::open(db, RecorderLimits{1e9, 4ull << 30});
  if (!w) {
    std::fprintf(stderr, "%s\n", w.error().message.c_str());
    return 3;
  }
  std::mt19937_64 rng(std::random_device{}());
  for (;;) {
    nlohmann::ordered_json r;
    r["schema"] = "conndoctor/report/v1";
    r["status"] = "critical";
    r["summary"] = "crash test";
    std::string noise(bytes, 'a');
    for (auto& c : noise) c = char('a' + rng() % 26);
    r["noise"] = noise;
    r["findings"] = nlohmann::ordered_json::array(
        {{{"id", "ephemeral_ports.tuple"},
          {"resource", "ephemeral_ports"},
          {"severity", "critical"},
          {"evidence", {{"destination", "198.18.0.2:8080"}, {"utilization", 1.0}}}}});
    int64_t t = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    auto out = (*w)->write(make_sample(t, r, noise.substr(0, 1000)));
    if (!out) {
      std::fprintf(stderr, "%s\n", out.error().message.c_str());
      return 1;
    }
    std::string line = std::to_string(out->sample_id) + " " + std::to_string(bytes) + "\n";
    if (::write(STDOUT_FILENO, line.data(), line.size()) != ssize_t(line.size())) return 1;
  }
}

int verify(const std::string& db, const std::string& log) {
  // A kill between the file's creation and the schema's commit leaves it empty. That is whole
  // as long as no commit had returned (the next writer creates the schema in it).
  struct stat st {};
  std::ifstream committed(log);
  std::string first;
  if (::stat(db.c_str(), &st) == 0 && st.st_size == 0 && !(committed >> first)) {
    std::printf("0\n");
    return 0;
  }
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    std::printf("FAIL: open: %s\n", sqlite3_errmsg(h));
    return 1;
  }
  std::string result;
  sqlite3_exec(
      h, "PRAGMA integrity_check",
      [](void* p, int, char** v, char**) {
        *static_cast<std::string*>(p) += std::string(v[0] ? v[0] : "null") + ";";
        return 0;
      },
      &result, nullptr);
  sqlite3_close(h);
  if (result != "ok;") {
    std::printf("FAIL: integrity_check: %s\n", result.c_str());
    return 1;
  }
  auto r = HistoryReader::open(db);
  if (!r) {
    std::printf("FAIL: %s\n", r.error().message.c_str());
    return 1;
  }
  std::ifstream in(log);
  int64_t id;
  std::size_t bytes, n = 0;
  while (in >> id >> bytes) {
    auto rep = (*r)->report(id);
    if (!rep) {
      std::printf("FAIL: committed sample %lld: %s\n", (long long)id, rep.error().message.c_str());
      return 1;
    }
    auto j = nlohmann::json::parse(rep->json, nullptr, false);
    if (j.is_discarded() || !j.contains("noise") || j["noise"].get<std::string>().size() != bytes) {
      std::printf("FAIL: committed sample %lld does not read back whole\n", (long long)id);
      return 1;
    }
    ++n;
  }
  std::printf("%zu\n", n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "write") return write_loop(argv[2], std::stoul(argv[3]));
  if (argc == 4 && std::string(argv[1]) == "verify") return verify(argv[2], argv[3]);
  std::fprintf(stderr, "usage: cdtool-history_writer write DB BYTES | verify DB LOG\n");
  return 2;
}
