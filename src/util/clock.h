// The clock collectors use between readings: real (monotonic), or tests/unit/fake_clock.h.
#pragma once

#include <memory>

namespace cd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual double now_s() = 0;          // monotonic seconds
  virtual void sleep_s(double s) = 0;  // may return early on a signal
};

std::unique_ptr<Clock> make_real_clock();

}  // namespace cd
