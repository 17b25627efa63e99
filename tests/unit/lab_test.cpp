// Tests of the lab's building blocks: sysctl key policy, the scenario table, worker processes,
// signal handling, and (as root) the namespace life cycle and the leftover cleaner.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "no_skip.h"

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "lab/lab.h"
#include "lab/load.h"
#include "lab/netns.h"
#include "lab/scenarios.h"
#include "lab/signal_guard.h"

namespace cd {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Whether this process may create network namespaces (root with CAP_SYS_ADMIN).
bool can_unshare() {
  if (::geteuid() != 0) return false;
  pid_t pid = ::fork();
  if (pid == 0) _exit(::unshare(CLONE_NEWNET) == 0 ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// ---- sysctl key policy -------------------------------------------------------------------

TEST(LabSysctl, NetKeysMapToProcSys) {
  EXPECT_EQ(net_sysctl_path("net.ipv4.tcp_tw_reuse").value(), "/proc/sys/net/ipv4/tcp_tw_reuse");
  EXPECT_EQ(net_sysctl_path("net/core/somaxconn").value(), "/proc/sys/net/core/somaxconn");
  EXPECT_EQ(net_sysctl_path("net.ipv4.conf.lo.rp_filter").value(),
            "/proc/sys/net/ipv4/conf/lo/rp_filter");
}

TEST(LabSysctl, RefusesEverythingOutsideNet) {
  for (const char* key :
       {"kernel.pid_max", "fs.file-max", "vm.swappiness", "netx.a", "net", "", "net..ipv4",
        "net.ipv4/../../kernel/pid_max", "net.ipv4.tcp tw", "net.ipv4.", ".net.ipv4"}) {
    auto r = net_sysctl_path(key);
    EXPECT_FALSE(r.has_value()) << key;
  }
  auto r = net_sysctl_path("fs.file-max");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("never host settings"), std::string::npos);
}

TEST(LabSysctl, ParsesAssignments) {
  auto kv = parse_sysctl_assignment("net.ipv4.tcp_tw_reuse=1");
  ASSERT_TRUE(kv) << kv.error().message;
  EXPECT_EQ(kv->first, "net.ipv4.tcp_tw_reuse");
  EXPECT_EQ(kv->second, "1");
  auto range = parse_sysctl_assignment("net.ipv4.ip_local_port_range=10000 65535");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->second, "10000 65535");
  auto empty = parse_sysctl_assignment("net.ipv4.ip_local_reserved_ports=");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->second, "");
  EXPECT_FALSE(parse_sysctl_assignment("net.ipv4.tcp_tw_reuse"));
  EXPECT_FALSE(parse_sysctl_assignment("=1"));
  EXPECT_FALSE(parse_sysctl_assignment("kernel.pid_max=4194304"));
}

// ---- scenario table ----------------------------------------------------------------------

TEST(LabScenarios, TableHasEveryScenarioOfTheIssueOnce) {
  std::set<std::string> names;
  for (const ScenarioInfo& s : lab_list()) {
    EXPECT_TRUE(names.insert(std::string(s.name)).second) << "duplicate " << s.name;
    EXPECT_FALSE(s.description.empty()) << s.name;
    EXPECT_EQ(s.description.find('\n'), std::string_view::npos) << s.name;
    EXPECT_FALSE(s.expect.empty()) << s.name;
    EXPECT_NE(s.start, nullptr) << s.name;
    for (const Sysctl& k : s.sysctls) {
      EXPECT_TRUE(net_sysctl_path(k.key)) << s.name << ": " << k.key;
    }
  }
  for (const char* n : {"port-exhaustion", "port-range-wide-spread", "tw-reuse-loopback",
                        "server-close", "fd-exhaustion", "close-wait-leak", "accept-overflow",
                        "tw-bucket-overflow", "service-port-in-range", "no-timestamps-peer",
                        "bind-port-exhaustion", "bind-shared-pool", "unix-backlog", "idle"}) {
    EXPECT_TRUE(names.count(n)) << n;
    EXPECT_NE(find_scenario(n), nullptr) << n;
  }
  EXPECT_EQ(find_scenario("no-such"), nullptr);
}

TEST(LabRun, RejectsUnknownScenarioAndHostSysctlsBeforeTouchingAnything) {
  LabOptions opt;
  opt.scenario = "no-such";
  auto r = lab_run(opt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown lab scenario"), std::string::npos);
  EXPECT_EQ(lab_exit_code(r.error()), 3);

  opt.scenario = "idle";
  opt.sets = {"kernel.pid_max=1000"};
  r = lab_run(opt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("never host settings"), std::string::npos);
}

// ---- worker processes ----------------------------------------------------------------------

TEST(LabLoad, WorkerReportsReadyAndObservationsThenStops) {
  int dummy[2];
  ASSERT_EQ(::pipe(dummy), 0);  // stands in for the signal fd: never readable
  UniqueFd dr(dummy[0]), dw(dummy[1]);
  LoadSet load(dr.get(), 10);
  auto w = load.spawn({"cdlab-test",
                       [](WorkerLink& link) {
                         std::string comm = read_text("/proc/self/comm");
                         link.ready("live as " + comm);
                         link.wait_stop(60);  // until the lab closes the control pipe
                         link.observe("stopped");
                         return 0;
                       },
                       std::nullopt});
  ASSERT_TRUE(w) << w.error().message;
  auto ready = load.wait_ready(*w, 5);
  ASSERT_TRUE(ready) << ready.error().message;
  double t0 = WorkerLink::now();
  load.stop(3);
  EXPECT_LT(WorkerLink::now() - t0, 2.0);  // stopped on request, not by the deadline
  auto obs = load.observations();
  ASSERT_EQ(obs.size(), 2u);
  EXPECT_EQ(obs[0], "live as cdlab-test");
  EXPECT_EQ(obs[1], "stopped");
}

TEST(LabLoad, WorkerGetsItsOwnFdLimit) {
  int dummy[2];
  ASSERT_EQ(::pipe(dummy), 0);
  UniqueFd dr(dummy[0]), dw(dummy[1]);
  LoadSet load(dr.get(), 10);
  auto w = load.spawn({"cdlab-test",
                       [](WorkerLink& link) {
                         rlimit rl{};
                         getrlimit(RLIMIT_NOFILE, &rl);
                         link.ready(std::to_string(rl.rlim_cur));
                         return 0;
                       },
                       uint64_t(64)});
  ASSERT_TRUE(w);
  ASSERT_TRUE(load.wait_ready(*w, 5));
  load.stop(3);
  EXPECT_EQ(load.observations().at(0), "64");
  rlimit mine{};
  getrlimit(RLIMIT_NOFILE, &mine);
  EXPECT_NE(mine.rlim_cur, 64u) << "the limit must apply to the worker only";
}

TEST(LabLoad, WorkerThatExitsOrFailsBeforeReadyIsAnError) {
  int dummy[2];
  ASSERT_EQ(::pipe(dummy), 0);
  UniqueFd dr(dummy[0]), dw(dummy[1]);
  LoadSet load(dr.get(), 10);
  auto quits = load.spawn({"cdlab-test", [](WorkerLink&) { return 0; }, std::nullopt});
  auto fails = load.spawn({"cdlab-test2",
                           [](WorkerLink& link) {
                             link.error("bind 127.0.0.1:8080: Address already in use");
                             return 1;
                           },
                           std::nullopt});
  ASSERT_TRUE(quits && fails);
  auto r1 = load.wait_ready(*quits, 5);
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message.find("exited before"), std::string::npos);
  auto r2 = load.wait_ready(*fails, 5);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("Address already in use"), std::string::npos);
}

TEST(LabLoad, WorkerThatIgnoresStopIsKilledAfterGrace) {
  int dummy[2];
  ASSERT_EQ(::pipe(dummy), 0);
  UniqueFd dr(dummy[0]), dw(dummy[1]);
  LoadSet load(dr.get(), 30);
  auto w = load.spawn({"cdlab-test",
                       [](WorkerLink& link) {
                         link.ready("");
                         ::sleep(20);  // deaf to the control pipe
                         return 0;
                       },
                       std::nullopt});
  ASSERT_TRUE(w);
  ASSERT_TRUE(load.wait_ready(*w, 5));
  pid_t pid = load.pid(*w);
  double t0 = WorkerLink::now();
  load.stop(0.5);
  EXPECT_LT(WorkerLink::now() - t0, 3.0);
  EXPECT_NE(::kill(pid, 0), 0) << "reaped, so the pid is gone";
  auto obs = load.observations();
  ASSERT_FALSE(obs.empty());
  EXPECT_NE(obs.back().find("killed"), std::string::npos);
}

// ---- signals ---------------------------------------------------------------------------------

TEST(LabSignals, GuardTurnsSignalIntoFdAndRestoresMask) {
  {
    auto g = SignalGuard::install();
    ASSERT_TRUE(g) << g.error().message;
    EXPECT_EQ(g->check(), 0);
    ::kill(::getpid(), SIGTERM);  // blocked: becomes readable on the signalfd, no death
    LoadSet load(g->fd(), 10);
    auto w = load.spawn({"cdlab-test",
                         [](WorkerLink& link) {
                           link.wait_stop(60);
                           return 0;
                         },
                         std::nullopt});
    ASSERT_TRUE(w);
    double t0 = WorkerLink::now();
    auto r = load.wait_ready(*w, 10);
    EXPECT_FALSE(r);
    EXPECT_LT(WorkerLink::now() - t0, 1.0) << "the wait must wake on the signal";
    EXPECT_EQ(g->check(), SIGTERM);
  }
  sigset_t now;
  sigprocmask(SIG_BLOCK, nullptr, &now);
  EXPECT_FALSE(sigismember(&now, SIGTERM)) << "mask restored";
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGTERM)) << "nothing left to kill us later";
}

TEST(LabSignals, ClockSleepWakesOnPendingSignal) {
  auto g = SignalGuard::install();
  ASSERT_TRUE(g);
  ::kill(::getpid(), SIGHUP);
  SignalAwareClock clock(g->fd());
  double t0 = clock.now_s();
  clock.sleep_s(5);
  EXPECT_LT(clock.now_s() - t0, 1.0);
  EXPECT_EQ(g->check(), SIGHUP);
}

// ---- namespace (root only) ---------------------------------------------------------------------

TEST(LabNetnsTest, LifeCycleMovesProcessNamesItAndRemovesIt) {
  if (!can_unshare()) CD_SKIP() << "needs root to create network namespaces";
  auto host = netns_id_of("/proc/self/ns/net");
  ASSERT_TRUE(host);
  std::string host_reuse = read_text("/proc/sys/net/ipv4/tcp_tw_reuse");
  std::string name = "cdlab-" + std::to_string(::getpid()) + "-unit";
  pid_t child = -1;
  {
    auto ns = LabNetns::create(name);
    ASSERT_TRUE(ns) << ns.error().message;
    auto inside = netns_id_of("/proc/self/ns/net");
    ASSERT_TRUE(inside);
    EXPECT_FALSE(*inside == *host);
    EXPECT_TRUE(*netns_id_of(ns->path()) == *inside) << "the name is a bind mount of it";

    UniqueFd s(::socket(AF_INET, SOCK_DGRAM, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    ASSERT_EQ(::ioctl(s.get(), SIOCGIFFLAGS, &ifr), 0);
    EXPECT_TRUE(ifr.ifr_flags & IFF_UP);

    std::string other = host_reuse == "0" ? "1" : "0";
    ASSERT_TRUE(ns->set_sysctl("net.ipv4.tcp_tw_reuse", other));
    EXPECT_EQ(ns->get_sysctl("net.ipv4.tcp_tw_reuse").value(), other);

    auto global = ns->set_sysctl("net.core.rmem_max", "4096");  // host-wide data: read-only
    ASSERT_FALSE(global);
    EXPECT_NE(global.error().message.find("host-wide"), std::string::npos);
    auto absent = ns->set_sysctl("net.ipv4.tcp_mem", "1 2 3");  // host-only table
    ASSERT_FALSE(absent);
    EXPECT_NE(absent.error().message.find("no such sysctl"), std::string::npos);
    auto bad = ns->set_sysctl("net.ipv4.ip_local_port_range", "banana");
    EXPECT_FALSE(bad);

    child = ::fork();  // a process left inside must be killed and reaped by the teardown
    if (child == 0) {
      ::pause();
      _exit(0);
    }
    ASSERT_GT(child, 0);
  }
  EXPECT_NE(::kill(child, 0), 0) << "killed and reaped";
  EXPECT_TRUE(*netns_id_of("/proc/self/ns/net") == *host) << "back in the original namespace";
  EXPECT_FALSE(exists(std::string(kNetnsRunDir) + "/" + name));
  EXPECT_EQ(read_text("/proc/sys/net/ipv4/tcp_tw_reuse"), host_reuse) << "host untouched";
}

TEST(LabNetnsTest, SysctlRefusedOutsideTheLabNamespace) {
  if (!can_unshare()) CD_SKIP() << "needs root to create network namespaces";
  UniqueFd host(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(host);
  std::string host_reuse = read_text("/proc/sys/net/ipv4/tcp_tw_reuse");
  std::string name = "cdlab-" + std::to_string(::getpid()) + "-outside";
  auto ns = LabNetns::create(name);
  ASSERT_TRUE(ns) << ns.error().message;
  // The process went back to the host namespace behind the object's back: writing now would
  // change a host setting, so the object must refuse.
  ASSERT_EQ(::setns(host.get(), CLONE_NEWNET), 0);
  auto r = ns->set_sysctl("net.ipv4.tcp_tw_reuse", host_reuse == "0" ? "1" : "0");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not inside"), std::string::npos);
  EXPECT_EQ(read_text("/proc/sys/net/ipv4/tcp_tw_reuse"), host_reuse);
  auto moved = LabNetns(std::move(*ns));
  EXPECT_FALSE(ns->set_sysctl("net.ipv4.tcp_tw_reuse", "0")) << "moved-from object";
}

TEST(LabNetnsTest, CleanRemovesKeptNamespaceAndKillsItsProcesses) {
  if (!can_unshare()) CD_SKIP() << "needs root to create network namespaces";
  // No such pid: a leftover of a dead run. Unique per test process, and cleaned by prefix only,
  // so that leftovers of runs in progress elsewhere (e2e tests in parallel) are not touched.
  std::string name = "cdlab-999999999-unitclean" + std::to_string(::getpid());
  std::string path = std::string(kNetnsRunDir) + "/" + name;
  pid_t straggler = -1;
  {
    auto ns = LabNetns::create(name);
    ASSERT_TRUE(ns) << ns.error().message;
    ns->keep();
  }
  ASSERT_TRUE(exists(path)) << "keep() leaves the name";
  auto id = netns_id_of(path);
  ASSERT_TRUE(id);
  // A process inside the leftover, not our child's child: it must be found by namespace.
  straggler = ::fork();
  if (straggler == 0) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) _exit(1);
    ::pause();
    _exit(0);
  }
  for (int i = 0; i < 100; ++i) {  // until it is inside
    auto in = netns_id_of("/proc/" + std::to_string(straggler) + "/ns/net");
    if (in && *in == *id) break;
    ::usleep(10000);
  }
  auto lines = remove_leftover_lab_netns(name);
  ASSERT_TRUE(lines) << lines.error().message;
  bool found = false;
  for (const auto& l : *lines) {
    if (l.find(name) != std::string::npos) {
      found = true;
      EXPECT_NE(l.find("removed"), std::string::npos) << l;
      EXPECT_NE(l.find("killed 1 process"), std::string::npos) << l;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(exists(path));
  // It was our child, so the cleaner also reaped it: the pid is gone.
  EXPECT_NE(::kill(straggler, 0), 0);
}

}  // namespace
}  // namespace cd
