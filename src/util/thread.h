// The single-thread rule for namespace switches: setns() and unshare(CLONE_NEWNET) move only
// the calling thread, while /proc/self/net (and so /proc/net) follows the thread-group leader
// [fs/proc/proc_net.c get_proc_task_net()], and children inherit the forking thread's
// namespace. A half-moved process would read one namespace's sockets against another's
// counters, so a switch is refused unless the caller is the main thread of a process that has
// no other thread.
#pragma once

#include <string>

#include "util/error.h"

namespace cd {

// Fails with "WHAT: ..." unless the caller is the only thread (counted in /proc/self/task;
// without procfs the check passes, since nothing then reads /proc/net through the leader).
Result<void> require_single_thread(const std::string& what);

}  // namespace cd
