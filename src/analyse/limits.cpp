// Limit checks shared by several rules (see limits.h).
#include "analyse/limits.h"

#include "analyse/evidence.h"

namespace cd {

namespace {
constexpr int64_t kMinTwBuckets = 4096;
}

std::optional<double> orphan_fill(const Reading& r) {
  return ratio(r.sockstat.tcp_orphan, r.sysctls.tcp_max_orphans);
}

bool tcp_memory_under_pressure(const Reading& r) {
  return r.sockstat.tcp_mem_pages && r.sysctls.tcp_mem &&
         *r.sockstat.tcp_mem_pages >= (*r.sysctls.tcp_mem)[1];
}

bool tw_buckets_lowered(const Sysctls& s) {
  if (!s.tcp_max_tw_buckets) return false;
  int64_t max = *s.tcp_max_tw_buckets;
  return max < kMinTwBuckets || (s.tcp_max_orphans && max < *s.tcp_max_orphans / 8);
}

}  // namespace cd
