// trace_decode: raw trace map entries (the byte layouts of trace/bpf/trace_maps.h) into a
// TraceResult, and the conndoctor/trace/v1 JSON made from it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/types.h>
#include <sys/syscall.h>

#include <cstring>

#include "trace/bpf/trace_maps.h"
#include "trace/trace_decode.h"
#include "render/trace_report.h"

namespace cd {
namespace {

template <typename T>
std::vector<uint8_t> bytes_of(const T& v) {
  std::vector<uint8_t> b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

cd_failure_key failure(uint32_t pid, const char* comm, uint16_t op, int err, const char* ip,
                       uint16_t port) {
  cd_failure_key k{};
  k.pid = pid;
  k.netns = 4026531840u;
  k.err = err;
  k.op = op;
  std::strncpy(k.comm, comm, sizeof k.comm);
  if (ip) {
    k.family = AF_INET;
    k.port = htons(port);
    inet_pton(AF_INET, ip, k.addr);
  }
  return k;
}

TEST(TraceDecode, FailuresKeepTheirKeyAndAreSortedByCount) {
  RawTraceMaps raw;
  raw.failures.emplace_back(
      bytes_of(failure(1234, "java", CD_OP_CONNECT, EADDRNOTAVAIL, "10.0.0.5", 443)),
      bytes_of(uint64_t(812)));
  auto emfile = failure(99, "nginx", CD_OP_SYSCALL, EMFILE, nullptr, 0);
  emfile.call = SYS_accept4;
  raw.failures.emplace_back(bytes_of(emfile), bytes_of(uint64_t(3)));
  raw.failures.emplace_back(bytes_of(failure(7, "x", CD_OP_BIND, EADDRINUSE, "0.0.0.0", 0)),
                            bytes_of(uint64_t(0)));  // never counted: left out

  TraceResult r = decode_trace(raw, 10);
  ASSERT_EQ(r.failures.size(), 2u);
  EXPECT_EQ(r.failures[0].op, "connect");
  EXPECT_EQ(r.failures[0].err, EADDRNOTAVAIL);
  EXPECT_EQ(r.failures[0].pid, 1234);
  EXPECT_EQ(r.failures[0].comm, "java");
  ASSERT_TRUE(r.failures[0].destination);
  EXPECT_EQ(r.failures[0].destination->to_string(), "10.0.0.5:443");
  EXPECT_EQ(r.failures[0].count, 812u);
  EXPECT_EQ(r.failures[1].op, "accept4");
  EXPECT_EQ(r.failures[1].err, EMFILE);
  EXPECT_FALSE(r.failures[1].destination);
  EXPECT_EQ(r.failures_of("connect", EADDRNOTAVAIL), 812u);
  EXPECT_EQ(r.failures_of("connect", EADDRNOTAVAIL, 99), 0u);
  EXPECT_TRUE(r.missing.empty());
}

TEST(TraceDecode, CommIsPrintable) {
  // prctl(PR_SET_NAME) accepts any bytes; JSON needs valid UTF-8.
  RawTraceMaps raw;
  raw.failures.emplace_back(
      bytes_of(failure(1, "a\xff\nb", CD_OP_CONNECT, EADDRNOTAVAIL, "10.0.0.5", 443)),
      bytes_of(uint64_t(1)));
  TraceResult r = decode_trace(raw, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].comm, "a??b");
  EXPECT_NO_THROW((void)trace_json(r, TraceScope{}).dump());
}

TEST(TraceDecode, Ipv6Destination) {
  cd_failure_key k = failure(1, "c", CD_OP_CONNECT, ECONNREFUSED, nullptr, 0);
  k.family = AF_INET6;
  k.port = htons(8443);
  inet_pton(AF_INET6, "fd00::5", k.addr);
  RawTraceMaps raw;
  raw.failures.emplace_back(bytes_of(k), bytes_of(uint64_t(1)));
  TraceResult r = decode_trace(raw, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].destination->to_string(), "[fd00::5]:8443");
}

TEST(TraceDecode, TheOtherKeyIsNamedInMissing) {
  RawTraceMaps raw;
  raw.failures.emplace_back(std::vector<uint8_t>(sizeof(cd_failure_key), 0), bytes_of(uint64_t(5)));
  raw.drops.emplace_back(std::vector<uint8_t>(sizeof(cd_drop_key), 0), bytes_of(uint64_t(2)));
  TraceResult r = decode_trace(raw, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].op, "other");
  EXPECT_EQ(r.failures[0].count, 5u);
  ASSERT_EQ(r.drops.size(), 1u);
  EXPECT_EQ(r.drops[0].reason, "other");
  ASSERT_EQ(r.missing.size(), 2u);
  EXPECT_NE(r.missing[0].find("failures was full"), std::string::npos) << r.missing[0];
  EXPECT_NE(r.missing[0].find("5 further"), std::string::npos) << r.missing[0];
}

TEST(TraceDecode, WrongSizedEntriesAreSkippedAndReported) {
  RawTraceMaps raw;
  raw.failures.emplace_back(std::vector<uint8_t>(3, 1), bytes_of(uint64_t(5)));
  raw.churn.emplace_back(std::vector<uint8_t>(sizeof(cd_dest_key), 1), std::vector<uint8_t>(7));
  TraceResult r = decode_trace(raw, 1);
  EXPECT_TRUE(r.failures.empty());
  EXPECT_TRUE(r.churn.empty());
  ASSERT_EQ(r.missing.size(), 2u);
  EXPECT_NE(r.missing[0].find("unexpected size"), std::string::npos);
}

TEST(TraceDecode, ChurnAndItsLifetimeQuantiles) {
  cd_dest_key k{};
  k.pid = 42;
  k.netns = 1;
  std::strncpy(k.comm, "cdlab-client", sizeof k.comm);
  k.family = AF_INET;
  k.port = htons(8080);
  inet_pton(AF_INET, "127.0.0.1", k.addr);
  cd_churn v{};
  v.opened = 100;
  v.closed = 100;
  v.local_closed_first = 100;
  v.lifetime_log2_us[5] = 90;   // [32, 64) µs
  v.lifetime_log2_us[15] = 10;  // [32768, 65536) µs
  RawTraceMaps raw;
  raw.churn.emplace_back(bytes_of(k), bytes_of(v));
  TraceResult r = decode_trace(raw, 1);
  ASSERT_EQ(r.churn.size(), 1u);
  const TraceChurn& c = r.churn[0];
  EXPECT_EQ(c.pid, 42);
  EXPECT_EQ(c.comm, "cdlab-client");
  EXPECT_EQ(c.destination->to_string(), "127.0.0.1:8080");
  EXPECT_EQ(c.local_closed_first, 100u);
  EXPECT_DOUBLE_EQ(*c.lifetime_ms(0.5), 0.064);    // upper bound of bucket 5
  EXPECT_DOUBLE_EQ(*c.lifetime_ms(0.99), 65.536);  // upper bound of bucket 15
  TraceChurn empty;
  EXPECT_FALSE(empty.lifetime_ms(0.5));
}

TEST(TraceDecode, DropReasonsByTheKernelsNumbering) {
  cd_drop_key k{};
  k.reason = 40;
  k.netns = 7;
  k.family = AF_INET;
  k.port = htons(8080);
  inet_pton(AF_INET, "127.0.0.1", k.addr);
  RawTraceMaps raw;
  raw.drop_reason_names[40] = "TCP_LISTEN_OVERFLOW";
  raw.drops.emplace_back(bytes_of(k), bytes_of(uint64_t(57)));
  k.reason = 41;  // a number this kernel's enum does not name
  raw.drops.emplace_back(bytes_of(k), bytes_of(uint64_t(1)));
  TraceResult r = decode_trace(raw, 1);
  ASSERT_EQ(r.drops.size(), 2u);
  EXPECT_EQ(r.drops[0].reason, "TCP_LISTEN_OVERFLOW");
  EXPECT_EQ(r.drops[0].where->to_string(), "127.0.0.1:8080");
  EXPECT_EQ(r.drops[0].count, 57u);
  EXPECT_EQ(r.drops[1].reason, "reason 41");
}

TEST(TraceDecode, UntrackedConnectsAreMissing) {
  RawTraceMaps raw;
  raw.conns_untracked = 12;
  TraceResult r = decode_trace(raw, 1);
  ASSERT_EQ(r.missing.size(), 1u);
  EXPECT_NE(r.missing[0].find("12 connects"), std::string::npos) << r.missing[0];
}

TEST(TraceDecode, StaleConnectionsAreMissing) {
  RawTraceMaps raw;
  raw.conns_stale = 3;
  TraceResult r = decode_trace(raw, 1);
  ASSERT_EQ(r.missing.size(), 1u);
  EXPECT_NE(r.missing[0].find("3 traced connects"), std::string::npos) << r.missing[0];
}

TEST(TraceDecode, Names) {
  EXPECT_EQ(syscall_name(SYS_socket), "socket");
  EXPECT_EQ(syscall_name(SYS_accept4), "accept4");
  EXPECT_EQ(syscall_name(100000), "syscall 100000");
  EXPECT_EQ(errno_label(EADDRNOTAVAIL), "EADDRNOTAVAIL");
  EXPECT_EQ(errno_label(4095), "errno 4095");
  EXPECT_EQ(errno_from_label("ETIMEDOUT"), ETIMEDOUT);
  EXPECT_EQ(errno_from_label("nope"), 0);
}

TEST(TraceReport, JsonFollowsTheV1Contract) {
  RawTraceMaps raw;
  raw.failures.emplace_back(
      bytes_of(failure(1234, "java", CD_OP_CONNECT, EADDRNOTAVAIL, "10.0.0.5", 443)),
      bytes_of(uint64_t(812)));
  raw.failures.emplace_back(bytes_of(failure(0, "", CD_OP_CONNECT, ETIMEDOUT, "10.0.0.6", 80)),
                            bytes_of(uint64_t(2)));
  TraceResult r = decode_trace(raw, 10.0004);
  TraceScope scope{.netns = std::nullopt, .label = "all", .interrupted = true};
  auto j = trace_json(r, scope);
  EXPECT_EQ(j["schema"], "conndoctor/trace/v1");
  EXPECT_EQ(j["duration_s"], 10.0);
  EXPECT_TRUE(j["netns"].is_null());
  EXPECT_EQ(j["interrupted"], true);
  ASSERT_EQ(j["failures"].size(), 2u);
  const auto& f = j["failures"][0];
  EXPECT_EQ(f["op"], "connect");
  EXPECT_EQ(f["errno"], "EADDRNOTAVAIL");
  EXPECT_EQ(f["pid"], 1234);
  EXPECT_EQ(f["comm"], "java");
  EXPECT_EQ(f["netns"], 4026531840u);
  EXPECT_EQ(f["destination"], "10.0.0.5:443");
  EXPECT_EQ(f["count"], 812);
  EXPECT_TRUE(j["failures"][1]["pid"].is_null());  // owner unknown
  EXPECT_TRUE(j["failures"][1]["comm"].is_null());
  for (const char* key : {"churn", "drops", "syn_retransmits", "missing"})
    EXPECT_TRUE(j[key].is_array()) << key;
  const std::string text = trace_text(r, scope);
  EXPECT_NE(text.find("EADDRNOTAVAIL"), std::string::npos) << text;
  EXPECT_NE(text.find("pid 1234 (java)"), std::string::npos) << text;
  EXPECT_NE(text.find("(interrupted)"), std::string::npos) << text;
}

}  // namespace
}  // namespace cd
