// SideThread: the work runs, is joined on every path, is asked to stop when the scope is left
// early, and after join() the kernel counts one thread again (what entering a network
// namespace checks).
#include "util/side_thread.h"

#include <gtest/gtest.h>

#include "no_skip.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>

namespace cd {
namespace {

int kernel_thread_count() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

TEST(SideThread, RunsTheWorkAndIsGoneAfterJoin) {
  if (kernel_thread_count() != 1) CD_SKIP() << "the test process has other threads";
  // pthread_join() alone may return a moment before the kernel drops the thread from the count;
  // the window is a few microseconds, so this loop rarely catches it without wait_released().
  for (int i = 0; i < 200; ++i) {
    int result = 0;
    SideThread t;
    ASSERT_TRUE(t.start([&result](std::stop_token) { result = 42; }));
    t.join();
    EXPECT_EQ(result, 42);
    ASSERT_EQ(kernel_thread_count(), 1) << "round " << i;
  }
}

TEST(SideThread, LeavingTheScopeStopsAndJoinsTheWork) {
  std::atomic<bool> stopped{false};
  {
    SideThread t;
    ASSERT_TRUE(t.start([&stopped](std::stop_token stop) {
      while (!stop.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      stopped = true;
    }));
    EXPECT_TRUE(t.running());
  }  // an early return (a failed dump) ends up here
  EXPECT_TRUE(stopped);
}

TEST(SideThread, JoinWithoutWorkIsANoOp) {
  SideThread t;
  EXPECT_FALSE(t.running());
  t.join();
  t.stop_and_join();
}

}  // namespace
}  // namespace cd
