// The single-thread check (see thread.h for why).
#include "util/thread.h"

#include <sys/syscall.h>
#include <unistd.h>

#include "util/dir.h"

namespace cd {

Result<void> require_single_thread(const std::string& what) {
  if (::syscall(SYS_gettid) != ::getpid()) return fail(what + ": only the main thread may do it");
  std::size_t threads = numeric_entries("/proc/self/task").size();
  if (threads > 1)
    return fail(what + ": the process has " + std::to_string(threads) +
                " threads; a network namespace switch needs a single thread");
  return {};
}

}  // namespace cd
