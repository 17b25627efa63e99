// The live tracer: loads trace/bpf/trace.bpf.c, attaches its programs, and reads the counts
// back. One object owns the skeleton and every link; destroying it (any exit path: return,
// error, exception) detaches everything. Nothing is pinned, so even a killed process leaves
// nothing attached: the kernel drops the programs when their last fd closes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trace/trace_decode.h"
#include "util/error.h"

namespace cd {

struct TraceOptions {
  uint32_t netns_only = 0;  // nsfs inode; 0: every namespace
};

class Tracer {
 public:
  // Loads and attaches. Fails with one line naming the cause (not root, no BTF, a program the
  // kernel refused) when tracing is impossible here.
  static Result<Tracer> start(const TraceOptions& opt);

  Tracer(Tracer&&) noexcept;
  Tracer& operator=(Tracer&&) noexcept;
  ~Tracer();

  // The maps' current contents (the programs keep counting).
  Result<RawTraceMaps> read() const;
  // What this kernel could not trace (a missing function or drop reason), known at load.
  const std::vector<std::string>& missing() const;

 private:
  struct State;
  explicit Tracer(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// The nsfs inode of a network namespace given as a /run/netns name or a pid.
Result<uint32_t> netns_inode_of(const std::string& name_or_pid);

}  // namespace cd
