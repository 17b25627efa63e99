// The clock collectors use between readings: real (monotonic) or fake in tests.
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

class FakeClock : public Clock {
 public:
  double now_s() override { return now_; }
  void sleep_s(double s) override { now_ += s; }
  double now_ = 1000.0;
};

}  // namespace cd
