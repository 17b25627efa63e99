// One collection at a time, shared by every scrape: concurrent scrapes wait for the collection
// in progress instead of starting their own, and a result younger than the minimum interval is
// served again. Rates come from two readings across collections: each collection takes one
// reading (interval 0) and is analysed together with the previous collection's reading.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "analyse/analysis.h"
#include "diagnose/diagnose.h"
#include "render/metrics.h"
#include "snapshot/snapshot.h"
#include "util/clock.h"
#include "util/error.h"

namespace cd {

struct CoordinatorOptions {
  // A collection is at most this often; scrapes in between share the last result. It is also
  // the shortest interval rates are computed over.
  double min_interval_s = 5.0;
  // A previous reading older than this is not used for rates (an average over hours would
  // hide the present); the collection then reports no rates, as `check --interval 0` does.
  double max_rate_window_s = 900.0;
  // How long a scrape waits for a collection in progress before it gives up (503).
  double wait_timeout_s = 60.0;
};

// What one collection produced. Immutable once published; shared by the scrapes it serves.
struct CollectionResult {
  std::shared_ptr<const Diagnosis> diagnosis;  // null when the collection failed
  std::string error;                           // why, when it failed
  double finished_at_s = 0;                    // coordinator clock
  double duration_s = 0;
};

class ScrapeCoordinator {
 public:
  // One reading of the namespace (interval 0), and the rules over a snapshot. Injected, so
  // that tests count collections with a fake and cmd_serve passes diagnose() and analyse().
  using CollectFn = std::function<Result<Snapshot>()>;
  using AnalyseFn = std::function<Analysis(const Snapshot&)>;

  ScrapeCoordinator(CollectFn collect, AnalyseFn analyse, Clock& clock, CoordinatorOptions opt);

  struct Served {
    std::shared_ptr<const CollectionResult> result;
    bool shared = false;  // served from a collection this call did not run
  };
  // The current result: a recent one, the one in progress, or a new collection run on the
  // calling thread. Fails only when waiting for a collection in progress timed out.
  Result<Served> get();

  // Counters for the exposition; `served` is the result the scrape will show.
  ExporterStats stats(const CollectionResult* served) const;
  // Counts one answered /metrics request (served from its own collection or not).
  void count_scrape(bool shared);

 private:
  std::shared_ptr<const CollectionResult> run_collection();

  CollectFn collect_;
  AnalyseFn analyse_;
  Clock& clock_;
  CoordinatorOptions opt_;

  mutable std::mutex mu_;
  std::condition_variable done_;
  bool in_progress_ = false;
  uint64_t generation_ = 0;  // bumped when a collection finishes
  std::shared_ptr<const CollectionResult> latest_;
  // The reading the next collection computes rates against: the newest successful one.
  // Touched only by the thread running a collection (in_progress_ makes it exclusive).
  std::shared_ptr<const Diagnosis> previous_;
  uint64_t collections_ = 0, errors_ = 0, scrapes_ = 0, shared_ = 0;
};

}  // namespace cd
