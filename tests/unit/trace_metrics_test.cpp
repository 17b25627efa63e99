// serve --trace counters: labels without pid, sums per label set, and the sticky cardinality
// cap (the first N label sets keep their own series; later ones go to "other" for good).
#include "serve/trace_metrics.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace cd {
namespace {

TraceFailure connect_failure(int32_t pid, std::string comm, const char* dest, uint64_t n) {
  TraceFailure f;
  f.op = "connect";
  f.err = ECONNREFUSED;
  f.pid = pid;
  f.comm = std::move(comm);
  f.destination = Endpoint{*IpAddr::parse(dest), 443};
  f.count = n;
  return f;
}

TEST(TraceMetrics, SumsPidsOfOneCommAndCapsSeriesStickily) {
  TraceMetrics m(2);
  TraceResult t;
  t.failures = {connect_failure(1, "java", "10.0.0.1", 5),
                connect_failure(2, "java", "10.0.0.1", 3),
                connect_failure(3, "curl", "10.0.0.2", 1)};
  Exposition first;
  m.write(first, t);
  const std::string a = first.str();
  EXPECT_NE(a.find("conndoctor_connect_failures_total{errno=\"ECONNREFUSED\",comm=\"java\","
                   "destination=\"10.0.0.1:443\"} 8"),
            std::string::npos)
      << a;
  EXPECT_NE(a.find("comm=\"curl\""), std::string::npos) << a;

  // A third label set arrives: over the cap of 2, it goes to "other"; the first two stay.
  t.failures.push_back(connect_failure(4, "wget", "10.0.0.3", 7));
  t.failures[0].count = 6;
  Exposition second;
  m.write(second, t);
  const std::string b = second.str();
  EXPECT_NE(b.find("comm=\"java\",destination=\"10.0.0.1:443\"} 9"), std::string::npos) << b;
  EXPECT_NE(b.find("comm=\"curl\""), std::string::npos) << b;
  EXPECT_EQ(b.find("wget"), std::string::npos) << b;
  EXPECT_NE(b.find("{errno=\"other\",comm=\"other\",destination=\"other\"} 7"), std::string::npos)
      << b;
}

TEST(TraceMetrics, FdDropsChurnFamilies) {
  TraceMetrics m;
  TraceResult t;
  TraceFailure emfile;
  emfile.op = "accept4";
  emfile.err = EMFILE;
  emfile.pid = 9;
  emfile.comm = "nginx";
  emfile.count = 20;
  t.failures.push_back(emfile);
  t.drops.push_back({.reason = "NETFILTER_DROP", .netns = 1, .where = std::nullopt, .count = 4});
  TraceChurn c;
  c.pid = 5;
  c.comm = "client";
  c.destination = Endpoint{*IpAddr::parse("127.0.0.1"), 8080};
  c.opened = 100;
  c.local_closed_first = 90;
  t.churn.push_back(c);
  Exposition out;
  m.write(out, t);
  const std::string s = out.str();
  EXPECT_NE(s.find("conndoctor_fd_exhaustion_failures_total{comm=\"nginx\",errno=\"EMFILE\"} 20"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("conndoctor_kernel_drops_total{reason=\"NETFILTER_DROP\"} 4"), std::string::npos)
      << s;
  EXPECT_NE(s.find("conndoctor_churn_opened_total{comm=\"client\",destination=\"127.0.0.1:8080\"} "
                   "100"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("conndoctor_churn_local_closed_first_total{comm=\"client\",destination="
                   "\"127.0.0.1:8080\"} 90"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace cd
