// Coalescing and rate-limiting collections for serve (see scrape_coordinator.h).
#include "serve/scrape_coordinator.h"

#include <chrono>
#include <exception>

namespace cd {

ScrapeCoordinator::ScrapeCoordinator(CollectFn collect, AnalyseFn analyse, Clock& clock,
                                     CoordinatorOptions opt)
    : collect_(std::move(collect)), analyse_(std::move(analyse)), clock_(clock), opt_(opt) {}

Result<ScrapeCoordinator::Served> ScrapeCoordinator::get() {
  std::unique_lock lk(mu_);
  if (latest_ && clock_.now_s() - latest_->finished_at_s < opt_.min_interval_s)
    return Served{latest_, true};
  if (in_progress_) {
    // Share the collection in progress: a flood of scrapes never starts a second one.
    uint64_t gen = generation_;
    bool finished = done_.wait_for(lk, std::chrono::duration<double>(opt_.wait_timeout_s),
                                   [&] { return generation_ != gen; });
    if (!finished) return fail("the collection in progress did not finish in time");
    return Served{latest_, true};
  }
  in_progress_ = true;
  lk.unlock();

  std::shared_ptr<const CollectionResult> result = run_collection();

  lk.lock();
  in_progress_ = false;
  latest_ = result;
  ++generation_;
  ++collections_;
  if (!result->diagnosis) ++errors_;
  lk.unlock();
  done_.notify_all();
  return Served{std::move(result), false};
}

std::shared_ptr<const CollectionResult> ScrapeCoordinator::run_collection() {
  auto res = std::make_shared<CollectionResult>();
  double started = clock_.now_s();
  // Nothing may escape: a collection that threw would leave in_progress_ set and every later
  // scrape waiting for it.
  try {
    auto snap = collect_();
    if (!snap) {
      res->error = snap.error().message;
    } else {
      auto d = std::make_shared<Diagnosis>();
      d->snapshot = std::move(*snap);
      // Two readings across collections: the previous collection's newest reading becomes
      // this snapshot's first, so counter rates and forecasts cover the time between scrapes.
      if (previous_ && !d->snapshot.second) {
        const Reading& prev = previous_->snapshot.now();
        double age = d->snapshot.first.taken_at_s - prev.taken_at_s;
        if (age > 0 && age <= opt_.max_rate_window_s) {
          d->snapshot.second = std::move(d->snapshot.first);
          d->snapshot.first = prev;
        }
      }
      d->analysis = analyse_(d->snapshot);
      previous_ = d;
      res->diagnosis = std::move(d);
    }
  } catch (const std::exception& e) {
    res->error = std::string("collection failed: ") + e.what();
  } catch (...) {
    res->error = "collection failed: unknown exception";
  }
  res->finished_at_s = clock_.now_s();
  res->duration_s = res->finished_at_s - started;
  return res;
}

void ScrapeCoordinator::count_scrape(bool shared) {
  std::lock_guard lk(mu_);
  ++scrapes_;
  if (shared) ++shared_;
}

ExporterStats ScrapeCoordinator::stats(const CollectionResult* served) const {
  std::lock_guard lk(mu_);
  ExporterStats s;
  s.collections_total = collections_;
  s.errors_total = errors_;
  s.scrapes_total = scrapes_;
  s.scrapes_shared_total = shared_;
  if (served) {
    s.up = served->diagnosis != nullptr;
    s.collection_duration_s = served->duration_s;
    s.collection_age_s = std::max(0.0, clock_.now_s() - served->finished_at_s);
  }
  return s;
}

}  // namespace cd
