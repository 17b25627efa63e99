// Tests of the process scan: fd counts against each process's own limit, namespace filtering,
// processes that vanish or cannot be read, and socket attribution joined with the dump.
#include "collect/processes.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "no_skip.h"

#include <algorithm>
#include <csignal>
#include <filesystem>

#include "collect/netns_filter.h"
#include "dump_builder.h"
#include "temp_proc_tree.h"
#include "util/unique_fd.h"

namespace cd {
namespace {

using test::ep;
using test::fixture_proc;
using test::TempProcTree;

const ProcessInfo* find_pid(const Reading& r, int32_t pid) {
  for (const auto& p : r.processes)
    if (p.pid == pid) return &p;
  return nullptr;
}

std::vector<int32_t> pids_of(const Reading& r) {
  std::vector<int32_t> v;
  for (const auto& p : r.processes) v.push_back(p.pid);
  return v;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += l + "\n";
  return s;
}

constexpr uint8_t kEst = uint8_t(TcpState::kEstablished);
constexpr uint8_t kCloseWait = uint8_t(TcpState::kCloseWait);
constexpr uint8_t kListen = uint8_t(TcpState::kListen);

// A limits file that reads but does not parse leaves that process's limit unknown, and says so:
// a process that cannot be checked against its limit must not look like one that is fine.
TEST(Processes, UnparsableLimitsAreNamedInMissing) {
  TempProcTree t("host_6_18");
  t.write("4242/limits", "Limit Soft Units\nMax open files lots many files\n");
  Reading r;
  std::vector<std::string> missing;
  scan_processes(ProcFs(t.root()), {.attribution = false}, nullptr, nullptr, r, missing);
  const ProcessInfo* hog = find_pid(r, 4242);
  ASSERT_TRUE(hog);
  EXPECT_FALSE(hog->fd_soft_limit);
  ASSERT_EQ(missing.size(), 1u) << joined(missing);
  EXPECT_NE(missing[0].find("fd limits of 1 process unknown"), std::string::npos) << missing[0];
}

// `record` without root writes a file where an fd directory it could not read would be: the
// replay counts that process as unreadable instead of dropping it as exited.
TEST(Processes, UnrecordedFdDirectoryIsUnreadableNotGone) {
  TempProcTree t("host_6_18");
  t.remove("100/fd");
  t.write("100/fd", "not readable when recorded: Permission denied\n");
  Reading r;
  std::vector<std::string> missing;
  scan_processes(ProcFs(t.root()), {.attribution = false}, nullptr, nullptr, r, missing);
  ASSERT_EQ(missing.size(), 1u) << joined(missing);
  EXPECT_NE(missing[0].find("fd counts of 1 process not readable"), std::string::npos)
      << missing[0];
}

TEST(Processes, FdCountsAgainstEachProcessOwnLimit) {
  Reading r;
  std::vector<std::string> missing;
  scan_processes(ProcFs(fixture_proc("host_6_18")), {.attribution = false}, nullptr, nullptr, r,
                 missing);
  EXPECT_TRUE(missing.empty()) << joined(missing);
  // 555 is in another namespace, 777 vanished (no fd directory), 2 has no open files.
  EXPECT_EQ(pids_of(r), (std::vector<int32_t>{100, 900, 4242}));

  const ProcessInfo* hog = find_pid(r, 4242);
  ASSERT_TRUE(hog);
  EXPECT_EQ(hog->comm, "fdhog");
  EXPECT_EQ(hog->open_fds, 1024u);       // at its own soft limit...
  EXPECT_EQ(hog->fd_soft_limit, 1024u);  // ...while fs.file-max in the same tree is 2466170
  EXPECT_EQ(hog->fd_hard_limit, 4096u);
  EXPECT_FALSE(hog->sockets);  // no attribution asked

  const ProcessInfo* api = find_pid(r, 100);
  ASSERT_TRUE(api);
  EXPECT_EQ(api->comm, "api-server");
  EXPECT_EQ(api->open_fds, 16u);
  EXPECT_EQ(api->fd_soft_limit, 65536u);

  const ProcessInfo* unl = find_pid(r, 900);
  ASSERT_TRUE(unl);
  EXPECT_EQ(unl->open_fds, 2u);
  EXPECT_FALSE(unl->fd_soft_limit);  // "unlimited"
  EXPECT_FALSE(unl->fd_hard_limit);
}

TEST(Processes, NamespaceFilter) {
  ProcFs proc(fixture_proc("host_6_18"));
  Reading all;
  std::vector<std::string> missing;
  scan_processes(proc, {.attribution = false, .filter_netns = false}, nullptr, nullptr, all,
                 missing);
  EXPECT_EQ(pids_of(all), (std::vector<int32_t>{100, 555, 900, 4242}));

  // Our own namespace link unreadable: cannot tell namespaces apart, so nobody is dropped.
  TempProcTree t("host_6_18");
  t.remove("self");
  Reading unfiltered;
  scan_processes(ProcFs(t.root()), {.attribution = false}, nullptr, nullptr, unfiltered, missing);
  EXPECT_EQ(pids_of(unfiltered), (std::vector<int32_t>{100, 555, 900, 4242}));
  EXPECT_TRUE(missing.empty()) << joined(missing);
}

TEST(Processes, VanishingProcessesAreSkippedSilently) {
  TempProcTree t("host_6_18");
  // Exited between readdir(/proc) and reading its files, at different steps.
  t.remove("100/comm");
  t.remove("900/limits");
  t.remove("4242/ns");
  Reading r;
  std::vector<std::string> missing;
  scan_processes(ProcFs(t.root()), {.attribution = false}, nullptr, nullptr, r, missing);
  EXPECT_TRUE(r.processes.empty());
  EXPECT_TRUE(missing.empty()) << joined(missing);
}

// A process that exits between its fd scan and its limits read (staged through the
// before_limits seam): its fd count belongs to no live process and has no limit to be
// checked against, so it is dropped as if it had exited earlier, not kept with an unknown
// limit or one read from another process.
TEST(Processes, ExitBetweenFdScanAndLimitsDropsTheProcess) {
  TempProcTree t("host_6_18");
  Reading r;
  std::vector<std::string> missing;
  std::vector<int32_t> asked;
  ProcessScanOptions opt{.attribution = false};
  opt.before_limits = [&](int32_t pid) {
    asked.push_back(pid);
    if (pid == 4242) t.remove("4242");  // the whole /proc/4242 goes, as when it is reaped
  };
  scan_processes(ProcFs(t.root()), opt, nullptr, nullptr, r, missing);
  EXPECT_NE(std::find(asked.begin(), asked.end(), 4242), asked.end());
  EXPECT_FALSE(find_pid(r, 4242));
  EXPECT_TRUE(find_pid(r, 100));
  EXPECT_TRUE(missing.empty()) << joined(missing);
}

// A limits file that cannot be read for another reason than the process's exit leaves the
// limit unknown and is named in `missing` (it was silently unknown before).
TEST(Processes, UnreadableLimitsAreNamedInMissing) {
  TempProcTree t("host_6_18");
  t.remove("4242/limits");
  std::filesystem::create_directories(t.path("4242/limits"));  // read() fails with EISDIR
  Reading r;
  std::vector<std::string> missing;
  scan_processes(ProcFs(t.root()), {.attribution = false}, nullptr, nullptr, r, missing);
  const ProcessInfo* hog = find_pid(r, 4242);
  ASSERT_TRUE(hog);
  EXPECT_FALSE(hog->fd_soft_limit);
  ASSERT_EQ(missing.size(), 1u) << joined(missing);
  EXPECT_NE(missing[0].find("fd limits of 1 process unknown"), std::string::npos) << missing[0];
  EXPECT_NE(missing[0].find("4242/limits"), std::string::npos) << missing[0];
}

// The same race on the live /proc: a child holding open fds is killed and reaped between its
// fd scan and its limits read. It must vanish from the report with nothing in `missing`
// beyond what a quiet scan says, and every other process keeps its own limit.
TEST(Processes, LiveProcessKilledBetweenFdScanAndLimitsIsDropped) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t kid = ::fork();
  ASSERT_GE(kid, 0);
  if (kid == 0) {
    for (int i = 0; i < 8; ++i) (void)::dup(0);
    char c = 1;
    (void)::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ::close(ready[1]);

  Reading quiet;
  std::vector<std::string> baseline;
  scan_processes(ProcFs("/proc"), {.attribution = false}, nullptr, nullptr, quiet, baseline);
  ASSERT_TRUE(find_pid(quiet, kid)) << "the child is not seen by a quiet scan";

  Reading r;
  std::vector<std::string> missing;
  bool killed = false;
  ProcessScanOptions opt{.attribution = false};
  opt.before_limits = [&](int32_t pid) {
    if (pid != kid) return;
    ::kill(kid, SIGKILL);
    ::waitpid(kid, nullptr, 0);
    killed = true;
  };
  scan_processes(ProcFs("/proc"), opt, nullptr, nullptr, r, missing);
  if (!killed) {
    ::kill(kid, SIGKILL);
    ::waitpid(kid, nullptr, 0);
  }
  ASSERT_TRUE(killed);
  EXPECT_FALSE(find_pid(r, kid));
  EXPECT_EQ(missing, baseline) << joined(missing);
  const ProcessInfo* self = find_pid(r, ::getpid());
  ASSERT_TRUE(self);
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur != RLIM_INFINITY)
    EXPECT_EQ(self->fd_soft_limit, std::optional<uint64_t>(lim.rlim_cur));
}

TEST(Processes, UnreadableFdDirectoriesAreSummarisedInOneLine) {
  TempProcTree t("host_6_18");
  t.chmod("100/fd", 0700);  // root-owned, like another user's /proc/PID/fd
  t.chmod("4242/fd", 0700);
  auto r = test::run_in_child([&]() -> std::string {
    if (!test::become_nobody()) return "SKIP";
    Reading reading;
    std::vector<std::string> missing;
    scan_processes(ProcFs(t.root()), {.attribution = false}, nullptr, nullptr, reading, missing);
    if (missing != std::vector<std::string>{"fd counts of 2 processes not readable (need root, or "
                                            "CAP_SYS_PTRACE with CAP_DAC_READ_SEARCH)"})
      return "missing: " + joined(missing);
    const ProcessInfo* hog = find_pid(reading, 4242);
    if (!hog) return "4242 dropped; it must stay with an unknown fd count";
    if (hog->open_fds) return "4242 has an fd count it could not read";
    if (hog->fd_soft_limit != 1024u) return "4242 limit not read";
    const ProcessInfo* unl = find_pid(reading, 900);
    if (!unl || unl->open_fds != 2u) return "900 (readable) not counted";
    return "";
  });
  if (r.skipped) CD_SKIP() << "cannot switch to uid 65534 here";
  EXPECT_EQ(r.failure, "");
}

// A dump's view for the fixture's sockets: listener 5001, client sockets 6001.. of pid 100,
// 6011 of pid 900, 7003.. of pid 4242.
struct DumpView {
  Reading reading;
  InodeIndex index;
};

DumpView fixture_dump() {
  DumpView v;
  SocketSummary& s = v.reading.sockets;
  s.listeners.push_back(Listener{ep("0.0.0.0:8080"), 0, 4096, 5001});
  s.tuples.resize(3);
  s.tuples[0].key = TupleKey{ep("10.0.0.1:0").addr, ep("198.18.0.2:0").addr, 443};
  s.tuples[1].key = TupleKey{ep("10.0.0.1:0").addr, ep("198.18.0.3:0").addr, 5432};
  s.tuples[2].key = TupleKey{ep("10.0.0.2:0").addr, ep("198.18.0.2:0").addr, 443};
  v.index.add(5001, kListen, kNoTuple);
  for (uint32_t i = 6001; i <= 6006; ++i) v.index.add(i, kEst, 0);
  v.index.add(6007, kCloseWait, 1);
  v.index.add(6008, kCloseWait, 1);
  v.index.add(6009, kEst, 2);
  // 6010 is not in the dump (e.g. a UDP or unix socket).
  v.index.add(6011, kEst, 0);
  for (uint32_t i = 7003; i <= 7100; ++i) v.index.add(i, kEst, 1);
  v.index.seal();
  return v;
}

TEST(Processes, AttributionJoinsFdInodesWithTheDump) {
  DumpView v = fixture_dump();
  std::vector<std::string> missing;
  scan_processes(ProcFs(fixture_proc("host_6_18")), {}, &v.index, nullptr, v.reading, missing);
  EXPECT_TRUE(missing.empty()) << joined(missing);
  const Reading& r = v.reading;

  const ProcessInfo* api = find_pid(r, 100);
  ASSERT_TRUE(api && api->sockets);
  EXPECT_EQ(api->open_fds, 16u);
  const ProcessSockets& ps = *api->sockets;
  EXPECT_EQ(ps.by_state[kEst], 7u);
  EXPECT_EQ(ps.by_state[kCloseWait], 2u);
  EXPECT_EQ(ps.by_state[kListen], 1u);
  EXPECT_EQ(ps.close_wait, 2u);
  // Tuples 0 and 2 differ only in source address: one destination, 7 sockets.
  ASSERT_EQ(ps.top_destinations.size(), 2u);
  EXPECT_EQ(ps.top_destinations[0], (std::pair{ep("198.18.0.2:443"), uint32_t{7}}));
  EXPECT_EQ(ps.top_destinations[1], (std::pair{ep("198.18.0.3:5432"), uint32_t{2}}));
  EXPECT_EQ(ps.listening, std::vector<Endpoint>{ep("0.0.0.0:8080")});

  // 555 also holds inode 5001 but lives in another namespace: not the owner.
  EXPECT_EQ(r.listener_owner, (std::map<uint32_t, int32_t>{{5001, 100}}));

  const ProcessInfo* hog = find_pid(r, 4242);
  ASSERT_TRUE(hog && hog->sockets);
  EXPECT_EQ(hog->open_fds, 1024u);
  EXPECT_EQ(hog->sockets->by_state[kEst], 98u);
  EXPECT_EQ(hog->sockets->top_destinations.size(), 1u);

  ASSERT_EQ(r.tuple_owners.size(), 3u);
  EXPECT_EQ(r.tuple_owners[0].key, r.sockets.tuples[0].key);
  EXPECT_EQ(r.tuple_owners[0].pids,
            (std::vector<std::pair<int32_t, uint32_t>>{{100, 6}, {900, 1}}));
  EXPECT_EQ(r.tuple_owners[1].pids,
            (std::vector<std::pair<int32_t, uint32_t>>{{4242, 98}, {100, 2}}));
  EXPECT_EQ(r.tuple_owners[2].pids, (std::vector<std::pair<int32_t, uint32_t>>{{100, 1}}));
}

// With an fd table (the BPF fd scan), the processes it lists take their fds from it and the
// others still have their /proc/PID/fd links read.
TEST(Processes, FdTableReplacesTheLinksOfTheProcessesItLists) {
  DumpView v = fixture_dump();
  FdTable table;
  table.by_pid[100] = FdTable::Process{.open_fds = 5, .socket_inodes = {6009, 6010, 5001}};
  std::vector<std::string> missing;
  scan_processes(ProcFs(fixture_proc("host_6_18")), {}, &v.index, &table, v.reading, missing);
  EXPECT_TRUE(missing.empty()) << joined(missing);
  const Reading& r = v.reading;

  const ProcessInfo* api = find_pid(r, 100);
  ASSERT_TRUE(api && api->sockets);
  EXPECT_EQ(api->open_fds, 5u);
  EXPECT_EQ(api->sockets->by_state[kEst], 1u);  // 6009; 6010 is not in the dump
  EXPECT_EQ(api->sockets->by_state[kListen], 1u);
  EXPECT_EQ(api->sockets->close_wait, 0u);
  EXPECT_EQ(api->sockets->listening, std::vector<Endpoint>{ep("0.0.0.0:8080")});
  EXPECT_EQ(r.listener_owner, (std::map<uint32_t, int32_t>{{5001, 100}}));

  // Not in the table: read from its fd links, as without one.
  const ProcessInfo* hog = find_pid(r, 4242);
  ASSERT_TRUE(hog && hog->sockets);
  EXPECT_EQ(hog->open_fds, 1024u);
  EXPECT_EQ(hog->sockets->by_state[kEst], 98u);

  ASSERT_EQ(r.tuple_owners.size(), 3u);
  EXPECT_EQ(r.tuple_owners[0].pids, (std::vector<std::pair<int32_t, uint32_t>>{{900, 1}}));
  EXPECT_EQ(r.tuple_owners[1].pids, (std::vector<std::pair<int32_t, uint32_t>>{{4242, 98}}));
  EXPECT_EQ(r.tuple_owners[2].pids, (std::vector<std::pair<int32_t, uint32_t>>{{100, 1}}));
}

TEST(Processes, NoAttributionWithAnEmptyIndex) {
  DumpView v = fixture_dump();
  InodeIndex empty;
  std::vector<std::string> missing;
  scan_processes(ProcFs(fixture_proc("host_6_18")), {}, &empty, nullptr, v.reading, missing);
  ASSERT_TRUE(find_pid(v.reading, 100));
  EXPECT_FALSE(find_pid(v.reading, 100)->sockets);
  EXPECT_TRUE(v.reading.tuple_owners.empty());
  EXPECT_TRUE(v.reading.listener_owner.empty());
}

// Scans the live /proc with a dump holding one ESTABLISHED socket: the one open as `fd`.
Reading scan_live_holding(int fd, std::vector<std::string>& missing) {
  struct stat st {};
  InodeIndex index;
  if (::fstat(fd, &st) == 0) index.add(uint32_t(st.st_ino), kEst, kNoTuple);
  index.seal();
  Reading r;
  scan_processes(ProcFs("/proc"), {}, &index, nullptr, r, missing);
  return r;
}

// Live /proc: our own socket is attributed to us, through the real fd links and (since 6.2)
// the st_size fd count.
TEST(Processes, LiveProcAttributesOurOwnSocket) {
  UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));  // never bound or connected
  ASSERT_TRUE(sock);
  std::vector<std::string> missing;
  Reading r = scan_live_holding(sock.get(), missing);
  const ProcessInfo* me = find_pid(r, ::getpid());
  ASSERT_TRUE(me);
  ASSERT_TRUE(me->sockets);
  EXPECT_EQ(me->sockets->by_state[kEst], 1u);
  ASSERT_TRUE(me->open_fds);
  EXPECT_GE(*me->open_fds, 4u);  // stdio + this socket
  EXPECT_TRUE(me->fd_soft_limit);
  if (::geteuid() == 0) {
    EXPECT_TRUE(missing.empty()) << joined(missing);
  }
}

// A socket far past a gap in the fd table (fd 900, the rest below 10) is found: a guard for
// any shortcut that reads links by number instead of walking the directory.
TEST(Processes, LiveProcFindsASocketPastAGapInTheFdTable) {
  UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(sock);
  struct rlimit rl {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur <= 901) CD_SKIP() << "soft RLIMIT_NOFILE " << rl.rlim_cur << " <= 901";
  ASSERT_EQ(::dup3(sock.get(), 900, O_CLOEXEC), 900);
  UniqueFd far(900);
  sock.reset();  // only fd 900 holds it now
  std::vector<std::string> missing;
  Reading r = scan_live_holding(far.get(), missing);
  const ProcessInfo* me = find_pid(r, ::getpid());
  ASSERT_TRUE(me && me->sockets);
  EXPECT_EQ(me->sockets->by_state[kEst], 1u);
}

TEST(Processes, LiveProcAsNobodyReportsWhatItCannotRead) {
  auto res = test::run_in_child([]() -> std::string {
    if (!test::become_nobody()) return "SKIP";
    UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) return "socket";
    std::vector<std::string> missing;
    Reading r = scan_live_holding(sock.get(), missing);
    const ProcessInfo* me = find_pid(r, ::getpid());
    if (!me || !me->sockets || me->sockets->by_state[kEst] != 1) return "own socket not found";
    if (missing.size() != 1 ||
        missing[0].find("not readable (need root, or CAP_SYS_PTRACE with CAP_DAC_READ_SEARCH)") ==
            std::string::npos)
      return "missing: " + joined(missing);
    // pid 1 (root) is someone else's: its sockets are unknown, never an empty "none".
    const ProcessInfo* init = find_pid(r, 1);
    if (init && init->sockets) return "pid 1's sockets claimed readable";
    return "";
  });
  if (res.skipped) CD_SKIP() << "cannot switch to uid 65534 here";
  EXPECT_EQ(res.failure, "");
}

TEST(Processes, LiveProcessesExitingDuringTheScanAreSkipped) {
  // Children that exit while we scan, at whatever step: no error, and nothing more in
  // `missing` than a quiet scan reports (processes we may not read stay the same).
  Reading quiet;
  std::vector<std::string> baseline;
  InodeIndex index;
  index.add(1, kEst, kNoTuple);
  index.seal();
  scan_processes(ProcFs("/proc"), {}, &index, nullptr, quiet, baseline);
  for (int round = 0; round < 5; ++round) {
    std::vector<pid_t> kids;
    for (int i = 0; i < 20; ++i) {
      pid_t pid = ::fork();
      if (pid == 0) {
        ::usleep(unsigned(i) * 150);
        ::_exit(0);
      }
      if (pid > 0) kids.push_back(pid);
    }
    Reading r;
    std::vector<std::string> missing;
    scan_processes(ProcFs("/proc"), {}, &index, nullptr, r, missing);
    for (pid_t k : kids) ::waitpid(k, nullptr, 0);
    EXPECT_EQ(missing, baseline) << joined(missing);
    EXPECT_TRUE(find_pid(r, ::getpid()));
  }
}

// /proc/PID/ns/net needs ptrace access; the scan then tells namespaces apart by the inode of
// /proc/PID/net/dev, which anyone may stat.
TEST(NetnsFilter, WithoutPtraceAccessFallsBackToNetDevInode) {
  const pid_t parent = ::getpid();
  auto same = test::run_in_child([parent]() -> std::string {
    if (!test::become_nobody()) return "SKIP";
    ProcFs proc("/proc");
    if (proc.readlink(std::to_string(parent) + "/ns/net")) return "SKIP";  // readable anyway
    NetnsFilter f(proc);
    if (!f.active()) return "own namespace link unreadable";
    return f.check(parent) == NetnsVerdict::kSame ? "" : "parent not seen in our namespace";
  });
  if (same.skipped) CD_SKIP() << "cannot switch to uid 65534 here";
  EXPECT_EQ(same.failure, "");

  auto other = test::run_in_child([parent]() -> std::string {
    if (::unshare(CLONE_NEWNET) != 0 || !test::become_nobody()) return "SKIP";
    ProcFs proc("/proc");
    NetnsFilter f(proc);
    return f.check(parent) == NetnsVerdict::kOther ? "" : "parent seen in our new namespace";
  });
  if (other.skipped) CD_SKIP() << "cannot create a namespace and drop privileges here";
  EXPECT_EQ(other.failure, "");
}

// Unix listeners join the same listener_owner map by inode (one sockfs numbering for every
// family), even in a namespace without a single TCP socket (an empty index).
TEST(Processes, UnixListenerInodesNameTheirOwnerWithoutAnyTcpSocket) {
  Reading r;
  r.unix_listeners = std::vector<UnixListener>{{"/run/php/fpm.sock", false, 17, 16, 7001},
                                               {"@other", false, 0, 8, 7002}};
  InodeIndex index;
  index.seal();
  ProcessFds fds;
  ProcessFds::Entry master;
  master.info.pid = 300;
  master.info.comm = "php-fpm";
  master.info.open_fds = 9;
  master.socket_inodes = {6999, 7001};  // 6999: a connected unix socket, not a listener
  master.fds_read = true;
  ProcessFds::Entry worker = master;  // a forked worker shares the listener: the first pid wins
  worker.info.pid = 301;
  fds.entries = {std::move(master), std::move(worker)};
  std::vector<std::string> missing;
  attribute_processes(std::move(fds), {}, &index, r, missing);
  EXPECT_EQ(r.listener_owner, (std::map<uint32_t, int32_t>{{7001, 300}}));
}

TEST(Processes, NoUnixListenersAndNoTcpSocketsAttributeNothing) {
  Reading r;
  r.unix_listeners = std::vector<UnixListener>{};
  InodeIndex index;
  index.seal();
  ProcessFds fds;
  ProcessFds::Entry e;
  e.info.pid = 300;
  e.info.open_fds = 9;
  e.socket_inodes = {7001};
  e.fds_read = true;
  fds.entries = {std::move(e)};
  std::vector<std::string> missing;
  attribute_processes(std::move(fds), {}, &index, r, missing);
  EXPECT_TRUE(r.listener_owner.empty());
  ASSERT_EQ(r.processes.size(), 1u);
  EXPECT_FALSE(r.processes[0].sockets);
}

}  // namespace
}  // namespace cd
