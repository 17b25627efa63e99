// Test helpers for the procfs collectors: a throwaway proc tree (often a copy of a fixture,
// then edited), and running a check in a forked child (as another user, or in a new network
// namespace) whose verdict comes back through a pipe.
#pragma once

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#ifndef CONNDOCTOR_FIXTURES
#define CONNDOCTOR_FIXTURES "tests/fixtures"
#endif

namespace cd::test {

inline std::string fixture_proc(const std::string& name) {
  return std::string(CONNDOCTOR_FIXTURES) + "/proc/" + name;
}

class TempProcTree {
 public:
  TempProcTree() {
    char tmpl[] = "/tmp/cd-proc-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    root_ = d ? d : "";
    // Readable by the unprivileged user of run_in_child tests.
    std::filesystem::permissions(root_, std::filesystem::perms(0755));
  }
  explicit TempProcTree(const std::string& fixture) : TempProcTree() {
    std::filesystem::copy(
        fixture_proc(fixture), root_,
        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  }
  ~TempProcTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  TempProcTree(const TempProcTree&) = delete;
  TempProcTree& operator=(const TempProcTree&) = delete;

  const std::string& root() const { return root_; }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }

  void write(const std::string& rel, const std::string& content) const {
    std::filesystem::create_directories(std::filesystem::path(path(rel)).parent_path());
    std::ofstream(path(rel), std::ios::trunc) << content;
  }
  void link(const std::string& rel, const std::string& target) const {
    std::filesystem::create_directories(std::filesystem::path(path(rel)).parent_path());
    std::filesystem::create_symlink(target, path(rel));
  }
  void remove(const std::string& rel) const { std::filesystem::remove_all(path(rel)); }
  void chmod(const std::string& rel, int mode) const {
    std::filesystem::permissions(path(rel), std::filesystem::perms(mode));
  }

 private:
  std::string root_;
};

// Runs `fn` in a forked child; its returned string (empty = success) comes back. Exit code
// 77 from the child means "skipped here" (e.g. no permission for a namespace).
struct ChildResult {
  bool skipped = false;
  std::string failure;  // empty when the child's check passed
};

inline ChildResult run_in_child(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) return {false, "pipe failed"};
  pid_t pid = ::fork();
  if (pid < 0) return {false, "fork failed"};
  if (pid == 0) {
    ::close(fds[0]);
    std::string out = fn();
    if (out == "SKIP") ::_exit(77);
    std::size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::write(fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += std::size_t(n);
    }
    ::_exit(out.empty() ? 0 : 1);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, std::size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return {true, {}};
  if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && msg.empty()))
    return {false, "child died (status " + std::to_string(status) + ") " + msg};
  return {false, msg};
}

// Drops to nobody (uid/gid 65534) inside a run_in_child function. Returns false if it cannot.
inline bool become_nobody() {
  return ::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
         ::setresuid(65534, 65534, 65534) == 0;
}

}  // namespace cd::test
