// make_frame: what `top` takes from a diagnosis (and a trace delta), and its JSON line.
#include <gtest/gtest.h>

#include "top/top_frame.h"

namespace cd {
namespace {

Endpoint ep(const char* ip, uint16_t port) {
  return Endpoint{*IpAddr::parse(ip), port};
}

struct Fixture {
  Snapshot snap;
  Analysis a;
  Fixture() {
    snap.netns = "cdtop-ns";
    Reading& r = snap.first;
    ProcessInfo p1{.pid = 10, .comm = "calm", .open_fds = 10, .fd_soft_limit = 1024};
    ProcessInfo p2{.pid = 11, .comm = "leaky\x1b[2J", .open_fds = 1000, .fd_soft_limit = 1024};
    ProcessInfo p3{.pid = 12, .comm = "gone"};  // fds unreadable: not shown
    r.processes = {p1, p2, p3};
    r.conntrack.available = true;
    r.conntrack.count = 100;
    r.conntrack.max = 1000;
    r.sockets.listeners.push_back({ep("0.0.0.0", 22), 0, 128, 1, 0});
    r.sockets.listeners.push_back({ep("127.0.0.1", 8080), 128, 128, 2, 5});
    r.counters["TcpExt.ListenOverflows"] = 100;
    snap.second = r;
    snap.second->taken_at_s = 2;
    snap.second->counters["TcpExt.ListenOverflows"] = 120;
    a.status = Status::kCritical;
    a.summary = "critical: ephemeral ports to 127.0.0.1:8080 100% used";
    TupleStat cold;
    cold.key = TupleKey{*IpAddr::parse("127.0.0.1"), *IpAddr::parse("198.18.0.2"), 80};
    cold.effective_in_use = 10;
    cold.usable = 1000;
    cold.utilization = 0.01;
    TupleStat hot;
    hot.key = TupleKey{*IpAddr::parse("127.0.0.1"), *IpAddr::parse("127.0.0.1"), 8080};
    hot.effective_in_use = 1000;
    hot.usable = 1000;
    hot.utilization = 1.0;
    hot.new_per_s = 400;
    hot.seconds_to_exhaustion = 0;
    a.ports.tuples = {cold, hot};
  }
};

TEST(TopFrame, TakesTheFiguresOfOneDiagnosis) {
  Fixture fx;
  TopFrame f = make_frame(fx.snap, fx.a, nullptr);
  EXPECT_EQ(f.scope, "namespace cdtop-ns");
  EXPECT_EQ(f.status, Status::kCritical);
  EXPECT_EQ(f.summary, fx.a.summary);
  EXPECT_TRUE(f.rates);
  ASSERT_EQ(f.tuples.size(), 2u);
  EXPECT_EQ(f.tuples[0].destination, "127.0.0.1:8080");  // hottest first
  EXPECT_EQ(f.tuples[0].in_use, 1000u);
  EXPECT_EQ(*f.tuples[0].seconds_to_exhaustion, 0);
  ASSERT_EQ(f.processes.size(), 2u);
  EXPECT_EQ(f.processes[0].pid, 11);                               // closest to its limit first
  EXPECT_EQ(f.processes[0].comm.find('\x1b'), std::string::npos);  // no escape reaches the screen
  EXPECT_EQ(*f.conntrack_count, 100);
  EXPECT_EQ(*f.conntrack_max, 1000);
  ASSERT_EQ(f.listeners.size(), 2u);
  EXPECT_EQ(f.listeners[0].local, "127.0.0.1:8080");  // full queue first
  ASSERT_TRUE(f.listen_overflows_per_s);
  EXPECT_DOUBLE_EQ(*f.listen_overflows_per_s, 10.0);  // 20 in 2 s
  EXPECT_FALSE(f.tracing);
  EXPECT_FALSE(f.failures_per_s);
}

TEST(TopFrame, OneReadingHasNoRates) {
  Fixture fx;
  fx.snap.second.reset();
  TopFrame f = make_frame(fx.snap, fx.a, nullptr);
  EXPECT_FALSE(f.rates);
  EXPECT_FALSE(f.listen_overflows_per_s);
  EXPECT_FALSE(f.conntrack_count && f.conntrack_count != 100);
}

TEST(TopFrame, TracedFailuresPerSecond) {
  Fixture fx;
  TraceResult t;
  t.duration_s = 2;
  t.failures.push_back({"connect", 99, 42, "client", 0, ep("127.0.0.1", 8080), 500});
  t.failures.push_back({"accept4", 24, 43, "server", 0, std::nullopt, 10});
  TopFrame f = make_frame(fx.snap, fx.a, &t);
  EXPECT_TRUE(f.tracing);
  ASSERT_TRUE(f.failures_per_s);
  EXPECT_DOUBLE_EQ(*f.failures_per_s, 255.0);
  ASSERT_EQ(f.failures.size(), 2u);
  EXPECT_EQ(f.failures[0].call, "connect() EADDRNOTAVAIL");
  EXPECT_EQ(f.failures[0].destination, "127.0.0.1:8080");
  EXPECT_DOUBLE_EQ(f.failures[0].per_s, 250.0);
  EXPECT_EQ(f.failures[1].call, "accept4() EMFILE");
}

TEST(TopFrame, JsonLineRoundTrips) {
  Fixture fx;
  TraceResult t;
  t.duration_s = 1;
  t.failures.push_back({"connect", 99, 42, "client", 0, ep("127.0.0.1", 8080), 5});
  TopFrame f = make_frame(fx.snap, fx.a, &t);
  f.snat.push_back({"", "198.18.0.1 -> 203.0.113.5:443/tcp", 10, 64512, 10.0 / 64512});
  f.namespaces.push_back({"ns", Status::kWarning, "warning: x"});
  auto back = frame_from_json(nlohmann::json::parse(frame_json(f).dump()));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(frame_json(*back), frame_json(f));
  EXPECT_EQ(back->tuples[0].new_per_s, f.tuples[0].new_per_s);
  EXPECT_FALSE(back->tuples[1].new_per_s);
}

TEST(TopFrame, ABadJsonLineIsAnError) {
  EXPECT_FALSE(frame_from_json(nlohmann::json::object()));
  auto j = frame_json(TopFrame{});
  j["status"] = 9;
  EXPECT_FALSE(frame_from_json(j));
  j = frame_json(TopFrame{});
  j["tuples"] = nlohmann::json::array({{{"destination", 3}}});
  EXPECT_FALSE(frame_from_json(j));
}

}  // namespace
}  // namespace cd
