// Monotonic time.
#include "util/time.h"

#include <time.h>

namespace cd {

double mono_now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

void sleep_for_s(double s) {
  if (s <= 0) return;
  timespec ts{time_t(s), long((s - double(time_t(s))) * 1e9)};
  nanosleep(&ts, nullptr);
}

}  // namespace cd
