// Monotonic time for the code that measures or waits on its own (the lab, the exporter); the
// collectors take a Clock (clock.h) so that tests can fake it.
#pragma once

namespace cd {

double mono_now_s();         // CLOCK_MONOTONIC in seconds
void sleep_for_s(double s);  // nanosleep; may return early on a signal

}  // namespace cd
