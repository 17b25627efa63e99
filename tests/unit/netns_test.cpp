// Tests of namespace handling: entering and leaving (by fd, pid, path), the refusals, listing
// and deduplicating namespaces (fixture tree and live), diagnosing them all, worst-first order
// and the summary renderers.
#include "diagnose/netns.h"
#include "fake_clock.h"
#include "util/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "no_skip.h"

#include "render/netns_summary.h"
#include "temp_proc_tree.h"

namespace cd {
namespace {

uint64_t self_inode() {
  struct stat st {};
  ::stat("/proc/self/ns/net", &st);
  return uint64_t(st.st_ino);
}

// A child process parked in a new network namespace until the object goes away.
class ParkedChild {
 public:
  ParkedChild() {
    int p[2];
    if (::pipe(p) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(p[0]);
      char ok = ::unshare(CLONE_NEWNET) == 0 ? '1' : '0';
      (void)!::write(p[1], &ok, 1);
      ::pause();
      ::_exit(0);
    }
    ::close(p[1]);
    char ok = '0';
    if (::read(p[0], &ok, 1) != 1) ok = '0';
    ::close(p[0]);
    ok_ = ok == '1';
  }
  ~ParkedChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return ok_; }
  pid_t pid() const { return pid_; }
  uint64_t inode() const {
    struct stat st {};
    ::stat(("/proc/" + std::to_string(pid_) + "/ns/net").c_str(), &st);
    return uint64_t(st.st_ino);
  }

 private:
  pid_t pid_ = -1;
  bool ok_ = false;
};

TEST(NetnsGuard, EntersByPidAndComesBack) {
  if (::geteuid() != 0) CD_SKIP() << "needs root";
  ParkedChild child;
  if (!child.ok()) CD_SKIP() << "cannot create a network namespace";
  const uint64_t before = self_inode();
  ASSERT_NE(child.inode(), before);
  {
    auto g = NetnsGuard::enter(std::to_string(child.pid()));
    ASSERT_TRUE(g) << g.error().message;
    EXPECT_EQ(self_inode(), child.inode());
    EXPECT_EQ(g->inode(), child.inode());
    // /proc/net follows too: the new namespace has only lo.
    std::string dev;
    std::ifstream f("/proc/net/dev");
    for (std::string line; std::getline(f, line);) dev += line + "\n";
    EXPECT_NE(dev.find("lo:"), std::string::npos);
    EXPECT_EQ(dev.find("eth0:"), std::string::npos);
  }
  EXPECT_EQ(self_inode(), before);
}

TEST(NetnsGuard, EntersByPathAndByFd) {
  if (::geteuid() != 0) CD_SKIP() << "needs root";
  ParkedChild child;
  if (!child.ok()) CD_SKIP() << "cannot create a network namespace";
  const uint64_t before = self_inode();
  const std::string path = "/proc/" + std::to_string(child.pid()) + "/ns/net";
  {
    auto g = NetnsGuard::enter(path);
    ASSERT_TRUE(g) << g.error().message;
    EXPECT_EQ(self_inode(), child.inode());
    // Nested: back to the original namespace by fd, then unwound in order.
    UniqueFd orig(::open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC));
    if (orig) {
      auto inner = NetnsGuard::enter_fd(orig.get(), "pid 1");
      ASSERT_TRUE(inner) << inner.error().message;
      EXPECT_NE(self_inode(), child.inode());
    }
    EXPECT_EQ(self_inode(), child.inode());
  }
  EXPECT_EQ(self_inode(), before);
}

TEST(NetnsGuard, RefusesWhatIsNotANetworkNamespace) {
  auto uts = NetnsGuard::enter_path("/proc/self/ns/uts");
  ASSERT_FALSE(uts);
  EXPECT_NE(uts.error().message.find("not a network namespace"), std::string::npos)
      << uts.error().message;
  auto file = NetnsGuard::enter_path("/proc/self/comm");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("not a namespace file"), std::string::npos)
      << file.error().message;
  auto none = NetnsGuard::enter("cd-no-such-namespace");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("/run/netns/cd-no-such-namespace"), std::string::npos);
  EXPECT_FALSE(NetnsGuard::enter(".."));
}

TEST(NetnsGuard, RefusesOffTheMainThread) {
  std::string msg;
  std::thread t([&] {
    auto g = NetnsGuard::enter_path("/proc/self/ns/net");
    msg = g ? "entered" : g.error().message;
  });
  t.join();
  EXPECT_NE(msg.find("main thread"), std::string::npos) << msg;
}

// A fixture /proc where hard links stand for processes sharing a namespace (stat gives the
// same inode), as nsfs does for real.
TEST(ListNetns, DeduplicatesByInodeAndPrefersNames) {
  test::TempProcTree proc;
  proc.write("self/ns/net", "host");
  proc.write("1/comm", "systemd\n");
  proc.write("1/ns/dummy", "");
  std::filesystem::create_hard_link(proc.path("self/ns/net"), proc.path("1/ns/net"));
  proc.write("200/comm", "nginx\n");
  proc.write("200/ns/net", "pod");
  proc.write("300/comm", "sidecar\n");
  proc.write("300/ns/dummy", "");
  std::filesystem::create_hard_link(proc.path("200/ns/net"), proc.path("300/ns/net"));
  proc.write("250/comm", "lonely\n");
  proc.write("250/ns/net", "other");
  proc.write("400/comm", "kthread\n");  // no ns/net: skipped
  proc.write("run/netns/.keep", "");
  std::filesystem::create_hard_link(proc.path("200/ns/net"), proc.path("run/netns/blue"));

  NetnsRoots roots{proc.root(), proc.path("run/netns")};
  auto all = list_netns(roots);
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 3u);
  EXPECT_TRUE((*all)[0].current);
  EXPECT_EQ((*all)[0].label(), "pid 1 (systemd)");
  EXPECT_EQ((*all)[1].label(), "blue");  // named beats pid
  EXPECT_EQ((*all)[1].pid, 200);
  EXPECT_EQ((*all)[1].path, proc.path("run/netns/blue"));
  EXPECT_EQ((*all)[2].label(), "pid 250 (lonely)");
  EXPECT_FALSE((*all)[2].current);

  auto byname = resolve_netns("blue", roots);
  ASSERT_TRUE(byname);
  EXPECT_EQ(byname->label(), "blue");
  auto bypid = resolve_netns("300", roots);
  ASSERT_TRUE(bypid);
  EXPECT_EQ(bypid->label(), "blue");  // pid 300 shares blue's namespace
  EXPECT_FALSE(resolve_netns("999", roots));
}

TEST(ListNetns, LiveSeesANewNamespace) {
  if (::geteuid() != 0) CD_SKIP() << "needs root";
  ParkedChild child;
  if (!child.ok()) CD_SKIP() << "cannot create a network namespace";
  auto all = list_netns();
  ASSERT_TRUE(all) << all.error().message;
  int current = 0;
  bool seen = false;
  for (const NetnsInfo& n : *all) {
    current += n.current;
    if (n.inode == child.inode()) {
      seen = true;
      EXPECT_EQ(n.pid, child.pid());
    }
  }
  EXPECT_EQ(current, 1);
  EXPECT_TRUE(seen);
}

NetnsResult result(const std::string& name, std::optional<Status> status, int criticals = 0) {
  NetnsResult r;
  r.ns.name = name;
  r.ns.inode = std::hash<std::string>{}(name);
  if (!status) {
    r.error = "setns: Operation not permitted";
    return r;
  }
  Diagnosis d;
  d.analysis.status = *status;
  d.analysis.summary = std::string(to_string(*status)) + ": " + name;
  for (int i = 0; i < criticals; ++i) {
    Finding f;
    f.severity = Severity::kCritical;
    d.analysis.findings.push_back(f);
  }
  d.snapshot.netns = name;
  r.diagnosis = std::move(d);
  return r;
}

TEST(NetnsResults, WorstFirst) {
  std::vector<NetnsResult> v;
  v.push_back(result("a-ok", Status::kOk));
  v.push_back(result("b-broken", std::nullopt));
  v.push_back(result("c-warn", Status::kWarning));
  v.push_back(result("d-crit1", Status::kCritical, 1));
  v.push_back(result("e-crit3", Status::kCritical, 3));
  sort_worst_first(v);
  std::vector<std::string> order;
  for (auto& r : v) order.push_back(r.ns.label());
  EXPECT_EQ(order, (std::vector<std::string>{"e-crit3", "d-crit1", "c-warn", "b-broken", "a-ok"}));
  EXPECT_EQ(overall_status(v), Status::kCritical);
}

TEST(NetnsSummary, JsonCarriesEveryReportWithItsLabel) {
  std::vector<NetnsResult> v;
  v.push_back(result("router", Status::kCritical, 1));
  v.push_back(result("broken", std::nullopt));
  v.push_back(result("host", Status::kOk));
  v[2].ns.current = true;
  auto j = netns_summary_json(v);
  EXPECT_EQ(j["schema"], "conndoctor/netns-summary/v1");
  EXPECT_EQ(j["status"], "critical");
  ASSERT_EQ(j["namespaces"].size(), 3u);
  EXPECT_EQ(j["namespaces"][0]["netns"], "router");
  EXPECT_EQ(j["namespaces"][0]["status"], "critical");
  EXPECT_EQ(j["namespaces"][0]["report"]["schema"], "conndoctor/report/v1");
  EXPECT_TRUE(j["namespaces"][1]["report"].is_null());
  EXPECT_EQ(j["namespaces"][1]["status"], "unknown");
  EXPECT_EQ(j["namespaces"][1]["error"], "setns: Operation not permitted");
  EXPECT_TRUE(j["namespaces"][2]["current"]);
  // Valid JSON end to end.
  EXPECT_EQ(nlohmann::json::parse(j.dump())["namespaces"].size(), 3u);
}

TEST(NetnsSummary, TextIsOneLinePerNamespaceVerdictFirst) {
  std::vector<NetnsResult> v;
  v.push_back(result("router", Status::kCritical, 1));
  v.push_back(result("host", Status::kOk));
  const std::string t = netns_summary_text(v, false);
  EXPECT_EQ(t.rfind("critical: 2 network namespaces, 1 not ok\n", 0), 0u) << t;
  EXPECT_EQ(std::count(t.begin(), t.end(), '\n'), 4);  // verdict, header, two namespaces
  EXPECT_NE(t.find("critical: router"), std::string::npos);
  EXPECT_EQ(t.find('\x1b'), std::string::npos);
  EXPECT_NE(netns_summary_text(v, true).find('\x1b'), std::string::npos);
}

TEST(DiagnoseAllNetns, DiagnosesEachNamespaceOnce) {
  if (::geteuid() != 0) CD_SKIP() << "needs root";
  ParkedChild child;
  if (!child.ok()) CD_SKIP() << "cannot create a network namespace";
  DiagnoseOptions opt;
  opt.collect.interval_s = 0;
  opt.collect.attribution = false;
  FakeClock clock;
  const uint64_t before = self_inode();
  auto all = diagnose_all_netns(opt, clock);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(self_inode(), before);
  bool seen = false;
  for (const NetnsResult& r : all->results) {
    if (r.ns.inode != child.inode()) continue;
    seen = true;
    ASSERT_TRUE(r.diagnosis) << r.error;
    EXPECT_EQ(r.diagnosis->snapshot.netns, r.ns.label());
    EXPECT_TRUE(r.diagnosis->snapshot.now().sockets.complete);
    EXPECT_EQ(r.diagnosis->snapshot.now().sockets.total, 0u);  // a fresh namespace
  }
  EXPECT_TRUE(seen);
  auto replay = opt;
  replay.proc_root = "/tmp";
  EXPECT_FALSE(diagnose_all_netns(replay, clock));
}

// A fake listing root holding only the namespaces of the given children (so the test does
// not diagnose the host's other namespaces): <root>/self/ns/net is ours, <root>/PID/ns/net
// points at the child's.
struct FakeListing {
  test::TempProcTree tree;
  NetnsRoots roots;
  explicit FakeListing(const std::vector<pid_t>& pids) {
    tree.link("self/ns/net", "/proc/self/ns/net");
    std::filesystem::create_directories(tree.path("run"));
    for (pid_t pid : pids)
      tree.link(std::to_string(pid) + "/ns/net", "/proc/" + std::to_string(pid) + "/ns/net");
    roots = NetnsRoots{tree.root(), tree.path("run")};
  }
};

// A namespace deleted between the listing and its reading (staged through the before_open
// seam: its only process is killed and reaped there) is named in `missing`; the others are
// diagnosed as usual and nothing is counted for the vanished one.
TEST(DiagnoseAllNetns, ANamespaceDeletedBeforeItsReadingIsNamedInMissing) {
  if (::geteuid() != 0) CD_SKIP() << "needs root";
  auto doomed = std::make_unique<ParkedChild>();
  ParkedChild kept;
  if (!doomed->ok() || !kept.ok()) CD_SKIP() << "cannot create a network namespace";
  const uint64_t doomed_ino = doomed->inode();
  const pid_t doomed_pid = doomed->pid();
  FakeListing fake({doomed_pid, kept.pid()});
  int opened = 0;
  fake.roots.before_open = [&](const NetnsInfo& n) {
    ++opened;
    if (n.inode == doomed_ino) doomed.reset();  // SIGKILL + waitpid: the namespace is freed
  };
  DiagnoseOptions opt;
  opt.collect.interval_s = 0;
  opt.collect.attribution = false;
  opt.collect.processes = false;
  FakeClock clock;
  auto all = diagnose_all_netns(opt, clock, fake.roots);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(opened, 2);
  ASSERT_EQ(all->results.size(), 1u);
  EXPECT_EQ(all->results[0].ns.inode, kept.inode());
  ASSERT_TRUE(all->results[0].diagnosis) << all->results[0].error;
  EXPECT_EQ(all->results[0].diagnosis->snapshot.now().sockets.total, 0u);
  ASSERT_EQ(all->missing.size(), 1u);
  EXPECT_NE(all->missing[0].find("pid " + std::to_string(doomed_pid)), std::string::npos)
      << all->missing[0];
  EXPECT_NE(all->missing[0].find("inode " + std::to_string(doomed_ino)), std::string::npos)
      << all->missing[0];
  EXPECT_NE(all->missing[0].find("gone before it could be read"), std::string::npos);
  // Rendered: the JSON carries it, the text lists it after the table.
  auto j = netns_summary_json(all->results, all->missing);
  ASSERT_EQ(j["missing"].size(), 1u);
  EXPECT_EQ(j["missing"][0], all->missing[0]);
  EXPECT_NE(netns_summary_text(all->results, false, all->missing)
                .find("missing:\n  - network "
                      "namespace pid"),
            std::string::npos);
}

// When the process the listing named exits but the namespace lives on in another process,
// the namespace is found again by its inode and diagnosed: nothing is missing.
TEST(DiagnoseAllNetns, ANamespaceWhoseListedProcessExitsIsFoundAgain) {
  if (::geteuid() != 0) CD_SKIP() << "needs root";
  auto first = std::make_unique<ParkedChild>();
  if (!first->ok()) CD_SKIP() << "cannot create a network namespace";
  const uint64_t ino = first->inode();
  // A second process in the same namespace, with a higher pid than the first.
  pid_t second = ::fork();
  ASSERT_GE(second, 0);
  if (second == 0) {
    int fd = ::open(("/proc/" + std::to_string(first->pid()) + "/ns/net").c_str(), O_RDONLY);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  // Wait until it has entered the namespace.
  for (int i = 0; i < 2000; ++i) {
    struct stat st {};
    if (::stat(("/proc/" + std::to_string(second) + "/ns/net").c_str(), &st) == 0 &&
        uint64_t(st.st_ino) == ino)
      break;
    ::usleep(1000);
  }
  FakeListing fake({first->pid(), second});
  fake.roots.before_open = [&](const NetnsInfo& n) {
    if (n.inode == ino && first) first.reset();  // the listed (lowest) pid exits
  };
  DiagnoseOptions opt;
  opt.collect.interval_s = 0;
  opt.collect.processes = false;
  opt.collect.attribution = false;
  FakeClock clock;
  auto all = diagnose_all_netns(opt, clock, fake.roots);
  ::kill(second, SIGKILL);
  ::waitpid(second, nullptr, 0);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_TRUE(all->missing.empty()) << all->missing[0];
  ASSERT_EQ(all->results.size(), 1u);
  EXPECT_EQ(all->results[0].ns.inode, ino);
  EXPECT_EQ(all->results[0].ns.pid, second);
  EXPECT_TRUE(all->results[0].diagnosis) << all->results[0].error;
}

}  // namespace
}  // namespace cd
