// The real monotonic clock.
#include "util/clock.h"

#include <time.h>

namespace cd {

namespace {
class RealClock : public Clock {
 public:
  double now_s() override {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
  }
  void sleep_s(double s) override {
    if (s <= 0) return;
    timespec ts{time_t(s), long((s - double(time_t(s))) * 1e9)};
    nanosleep(&ts, nullptr);
  }
};
}  // namespace

std::unique_ptr<Clock> make_real_clock() {
  return std::make_unique<RealClock>();
}

}  // namespace cd
