// Tests of the accept_queue rule's AF_UNIX part: unix_recvq_full() is `queue > limit`, a queue
// at its limit still takes one more connect, two readings at the limit are the evidence (there
// is no overflow counter), the owner, and a plan with the servers' own backlog settings.
#include <gtest/gtest.h>

#include "analyse/rules.h"
#include "snapshot_builder.h"

namespace cd {
namespace {

using test::priorities;
using test::run_rule;
using test::SnapshotBuilder;

void unix_listener(SnapshotBuilder& b, std::string path, uint32_t queue, uint32_t limit,
                   uint32_t inode) {
  auto& v = b.now().unix_listeners;
  if (!v) v.emplace();
  v->push_back(UnixListener{std::move(path), false, queue, limit, inode});
}

std::string all_commands(const Finding& f) {
  std::string s;
  for (const auto& step : f.remediation) {
    s += step.action + "\n";
    for (const auto& c : step.commands) s += c + "\n";
  }
  return s;
}

TEST(AcceptQueueUnix, FullListenerIsCriticalAndNamesPathQueueLimitAndOwner) {
  SnapshotBuilder b;
  b.sysctls().somaxconn = 4096;
  unix_listener(b, "/run/php/fpm.sock", 17, 16, 7001);
  unix_listener(b, "@idle", 0, 128, 7002);
  b.process(300, "php-fpm", 40, 1024);
  b.now().listener_owner[7001] = 300;
  auto f = run_rule(rule_accept_queue, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "accept_queue.unix_listener");
  EXPECT_EQ(f[0].resource, Resource::kAcceptQueue);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].layer, Layer::kApplication);
  const Evidence& ev = f[0].evidence;
  EXPECT_EQ(ev["path"], "/run/php/fpm.sock");
  EXPECT_EQ(ev["destination"], "/run/php/fpm.sock");
  EXPECT_EQ(ev["socket_type"], "stream");
  EXPECT_EQ(ev["queue"], 17);
  EXPECT_EQ(ev["limit"], 16);
  EXPECT_EQ(ev["pid"], 300);
  EXPECT_EQ(ev["comm"], "php-fpm");
  EXPECT_EQ(ev["owner_at_fd_limit"], false);
  // One reading: whether it stays full is unknown, not false.
  EXPECT_TRUE(ev["at_limit_in_both_readings"].is_null());
  EXPECT_TRUE(ev["queue_before"].is_null());
  EXPECT_NE(f[0].title.find("/run/php/fpm.sock: 17 of 16"), std::string::npos) << f[0].title;
  EXPECT_NE(f[0].title.find("EAGAIN"), std::string::npos) << f[0].title;
  EXPECT_EQ(priorities(f[0]), "AB");
  const std::string plan = all_commands(f[0]);
  EXPECT_NE(plan.find("listen.backlog = 1024"), std::string::npos) << plan;
  EXPECT_NE(plan.find("--backlog 1024"), std::string::npos) << plan;
  EXPECT_NE(plan.find("--listen 1024"), std::string::npos) << plan;
  EXPECT_NE(plan.find("pm.max_children"), std::string::npos) << plan;
  // somaxconn 4096 already allows 1024: no sysctl to change.
  EXPECT_EQ(plan.find("sysctl -w net.core.somaxconn"), std::string::npos) << plan;
  // A datagram setting has nothing to do with a stream listener's backlog.
  EXPECT_EQ(plan.find("max_dgram_qlen"), std::string::npos) << plan;
}

TEST(AcceptQueueUnix, SomaxconnBelowTheWantedBacklogIsRaisedAndPersisted) {
  SnapshotBuilder b;
  b.sysctls().somaxconn = 128;
  unix_listener(b, "/run/gunicorn.sock", 129, 128, 1);
  auto f = run_rule(rule_accept_queue, b.build());
  ASSERT_EQ(f.size(), 1u);
  const std::string plan = all_commands(f[0]);
  EXPECT_NE(plan.find("sysctl -w net.core.somaxconn=1024"), std::string::npos) << plan;
  EXPECT_NE(plan.find("/etc/sysctl.d/"), std::string::npos) << plan;
  EXPECT_TRUE(f[0].evidence["pid"].is_null());  // no owner known
}

TEST(AcceptQueueUnix, AtTheLimitIsAWarningAndBelowEightyPercentIsFine) {
  // unix_recvq_full() is `>`: 16 of 16 still takes one more connect.
  SnapshotBuilder b;
  unix_listener(b, "/a", 16, 16, 1);
  unix_listener(b, "/b", 12, 16, 2);  // 75 %
  unix_listener(b, "/c", 0, 0, 3);    // listen(fd, 0), empty
  auto f = run_rule(rule_accept_queue, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kWarning);
  EXPECT_EQ(f[0].evidence["path"], "/a");
  EXPECT_EQ(f[0].title.find("full"), std::string::npos) << f[0].title;
  EXPECT_NE(f[0].title.find("at its limit"), std::string::npos) << f[0].title;
}

TEST(AcceptQueueUnix, TwoReadingsAtTheLimitAreTheEvidence) {
  SnapshotBuilder b;
  unix_listener(b, "/run/php/fpm.sock", 17, 16, 7001);
  b.then(2.0);
  auto f = run_rule(rule_accept_queue, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence["at_limit_in_both_readings"], true);
  EXPECT_EQ(f[0].evidence["queue_before"], 17);
  EXPECT_NE(f[0].title.find("in both readings 2 s apart"), std::string::npos) << f[0].title;
}

TEST(AcceptQueueUnix, AQueueThatJustFilledIsNotSaidToStayFull) {
  SnapshotBuilder b;
  unix_listener(b, "/run/php/fpm.sock", 2, 16, 7001);
  b.then(2.0);
  b.now().unix_listeners->back().queue_len = 17;
  auto f = run_rule(rule_accept_queue, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_EQ(f[0].evidence["at_limit_in_both_readings"], false);
  EXPECT_EQ(f[0].evidence["queue_before"], 2);
  EXPECT_EQ(f[0].title.find("both readings"), std::string::npos) << f[0].title;
}

TEST(AcceptQueueUnix, UnknownUnixListenersGiveNoFindingAndTcpStillDoes) {
  SnapshotBuilder b;
  b.listener(test::ep("127.0.0.1", 8080), 129, 128, 5555);
  auto f = run_rule(rule_accept_queue, b.build());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "accept_queue.listener");
  // And both kinds side by side.
  unix_listener(b, "/s", 5, 4, 1);
  f = run_rule(rule_accept_queue, b.build());
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].id, "accept_queue.listener");
  EXPECT_EQ(f[1].id, "accept_queue.unix_listener");
}

TEST(AcceptQueueUnix, ManyFullListenersAreCapped) {
  SnapshotBuilder b;
  for (uint32_t i = 0; i < 8; ++i) unix_listener(b, "/s" + std::to_string(i), 9, 8, i + 1);
  auto f = run_rule(rule_accept_queue, b.build());
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].evidence["others_unix_listeners"], 3);
}

}  // namespace
}  // namespace cd
