// CD_SKIP(): GTEST_SKIP() that turns into a failure when CONNDOCTOR_NO_SKIP is set (as .ci/run
// sets it), so that CI cannot pass with a live test unrun; elsewhere a test that cannot run here
// still reports itself skipped. Streams like GTEST_SKIP(): `CD_SKIP() << "needs root";`.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

namespace cd::test {

inline bool skips_are_failures() {
  const char* v = std::getenv("CONNDOCTOR_NO_SKIP");
  return v && *v && std::string_view(v) != "0";
}

}  // namespace cd::test

#define CD_SKIP()                                                                          \
  return ::testing::internal::AssertHelper(                                                \
             ::cd::test::skips_are_failures() ? ::testing::TestPartResult::kFatalFailure   \
                                              : ::testing::TestPartResult::kSkip,          \
             __FILE__, __LINE__,                                                           \
             ::cd::test::skips_are_failures() ? "cannot run here, and CONNDOCTOR_NO_SKIP " \
                                                "is set"                                   \
                                              : "") = ::testing::Message()
