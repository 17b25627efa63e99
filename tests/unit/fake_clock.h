// A clock that moves only when slept on: readings "seconds apart" without waiting.
#pragma once

#include "util/clock.h"

namespace cd {

class FakeClock : public Clock {
 public:
  double now_s() override { return now_; }
  void sleep_s(double s) override { now_ += s; }
  double now_ = 1000.0;
};

}  // namespace cd
