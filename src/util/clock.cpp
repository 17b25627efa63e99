// The real monotonic clock.
#include "util/clock.h"

#include "util/time.h"

namespace cd {

namespace {
class RealClock : public Clock {
 public:
  double now_s() override { return mono_now_s(); }
  void sleep_s(double s) override { sleep_for_s(s); }
};
}  // namespace

std::unique_ptr<Clock> make_real_clock() {
  return std::make_unique<RealClock>();
}

}  // namespace cd
