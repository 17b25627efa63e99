// The live BPF fd scan against the kernel's own answer: /proc/PID/fd of this process and of
// a child. Runs as root on a kernel with BTF when conndoctor was built with BPF; anywhere
// else it reports itself skipped and why. A load failure where all that holds is a failure.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "no_skip.h"

#include <algorithm>
#include <vector>

#include "collect/fd_table.h"
#include "util/unique_fd.h"

namespace cd {
namespace {

uint32_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? uint32_t(st.st_ino) : 0;
}

// Entries of /proc/self/fd, not counting the fd opendir() itself holds.
uint64_t proc_fd_count() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  uint64_t n = 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;
}

bool contains(const std::vector<uint32_t>& v, uint32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

class BpfFdTable : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = open_bpf_fd_table_source();
    auto probe = source_->read();
    if (probe) return;
    const std::string& why = probe.error().message;
    if (why.find("built without BPF") != std::string::npos) CD_SKIP() << why;
    if (::geteuid() != 0) CD_SKIP() << "needs root (CAP_BPF): " << why;
    if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) CD_SKIP() << "no kernel BTF: " << why;
    FAIL() << why;
  }
  std::unique_ptr<FdTableSource> source_;
};

TEST_F(BpfFdTable, ListsOurSocketsAndCountsOurFdsAsProcDoes) {
  UniqueFd a(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  UniqueFd b(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  UniqueFd file(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));  // not a socket
  ASSERT_TRUE(a && b && file);

  auto t = source_->read();
  ASSERT_TRUE(t) << t.error().message;
  const uint64_t proc_now = proc_fd_count();  // the iterator's own fd is closed again
  auto me = t->by_pid.find(::getpid());
  ASSERT_NE(me, t->by_pid.end());
  EXPECT_TRUE(contains(me->second.socket_inodes, inode_of(a.get())));
  EXPECT_TRUE(contains(me->second.socket_inodes, inode_of(b.get())));
  EXPECT_FALSE(contains(me->second.socket_inodes, inode_of(file.get())));
  EXPECT_EQ(me->second.open_fds, proc_now + 1);  // + the iterator fd open while it ran
}

TEST_F(BpfFdTable, ListsAnotherProcessUnderItsPidAndSeesNewSockets) {
  int to_child[2], from_child[2];
  ASSERT_EQ(::pipe2(to_child, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(from_child, O_CLOEXEC), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // holds one socket, reports its inode, waits to be told to go
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    uint32_t ino = inode_of(s);
    (void)!::write(from_child[1], &ino, sizeof ino);
    char c;
    (void)!::read(to_child[0], &c, 1);
    ::_exit(0);
  }
  uint32_t child_inode = 0;
  ASSERT_EQ(::read(from_child[0], &child_inode, sizeof child_inode), ssize_t(sizeof child_inode));

  auto t = source_->read();
  UniqueFd late(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));  // after the first read
  auto again = source_->read();                                     // the loaded iterator, reused
  (void)!::write(to_child[1], "x", 1);
  ::waitpid(child, nullptr, 0);
  for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);

  ASSERT_TRUE(t) << t.error().message;
  auto kid = t->by_pid.find(child);
  ASSERT_NE(kid, t->by_pid.end());
  EXPECT_TRUE(contains(kid->second.socket_inodes, child_inode));
  EXPECT_FALSE(contains(t->by_pid.at(::getpid()).socket_inodes, child_inode));

  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(contains(t->by_pid.at(::getpid()).socket_inodes, inode_of(late.get())));
  EXPECT_TRUE(contains(again->by_pid.at(::getpid()).socket_inodes, inode_of(late.get())));
}

}  // namespace
}  // namespace cd
