// Shared figures of the orphans and tcp_memory rules (see tcp_pressure.h).
#include "analyse/tcp_pressure.h"

#include "analyse/evidence.h"

namespace cd {

std::optional<double> orphan_fill(const Reading& r) {
  return ratio(r.sockstat.tcp_orphan, r.sysctls.tcp_max_orphans);
}

bool tcp_memory_under_pressure(const Reading& r) {
  return r.sockstat.tcp_mem_pages && r.sysctls.tcp_mem &&
         *r.sockstat.tcp_mem_pages >= (*r.sysctls.tcp_mem)[1];
}

}  // namespace cd
