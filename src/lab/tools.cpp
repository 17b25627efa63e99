// The lab's subprocess runner and veth wiring.
#include "lab/tools.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/netns.h"
#include "util/unique_fd.h"

namespace cd {

Result<void> run_tool(const std::vector<std::string>& argv, const std::string& input) {
  std::string what;
  for (const auto& a : argv) what += (what.empty() ? "" : " ") + a;
  int in[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return fail_errno("pipe");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return fail_errno("pipe");
  }
  UniqueFd in_r(in[0]), in_w(in[1]), err_r(err[0]), err_w(err[1]);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork " + what);
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(in_r.get(), 0);
    ::dup2(err_w.get(), 1);
    ::dup2(err_w.get(), 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  in_r.reset();
  err_w.reset();
  if (!input.empty()) (void)!::write(in_w.get(), input.data(), input.size());
  in_w.reset();
  std::string out;
  char buf[512];
  for (int waited_ms = 0; waited_ms < 10000;) {
    pollfd p{err_r.get(), POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r == 0) {
      waited_ms += 100;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    ssize_t n = ::read(err_r.get(), buf, sizeof buf);
    if (n <= 0) break;
    if (out.size() < 4096) out.append(buf, std::size_t(n));
  }
  int status = 0;
  for (int i = 0; i < 100 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) ::usleep(20000);
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return fail(what + ": timed out");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (auto nl = out.find('\n'); nl != std::string::npos) out.resize(nl);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) out = "not installed";
  return fail(what + ": " + (out.empty() ? "failed" : out));
}

Result<void> run_all(const std::vector<std::vector<std::string>>& cmds) {
  for (const auto& c : cmds)
    if (auto r = run_tool(c); !r) return r;
  return {};
}

Result<void> wait_own_netns(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  auto mine = netns_id_of("/proc/self/ns/net");
  if (!mine) return std::unexpected(mine.error());
  for (int i = 0; i < 150; ++i) {
    auto theirs = netns_id_of(path);
    if (!theirs) return fail("worker " + std::to_string(pid) + " exited");
    if (!(*theirs == *mine)) return {};
    ::usleep(20000);
  }
  return fail("worker " + std::to_string(pid) + " did not enter its own network namespace");
}

Result<void> run_in(pid_t pid, const std::vector<std::vector<std::string>>& cmds) {
  auto guard = NetnsGuard::enter("/proc/" + std::to_string(pid) + "/ns/net");
  if (!guard) return std::unexpected(guard.error());
  return run_all(cmds);
}

Result<void> wire_veth(pid_t pid, const VethLink& l) {
  const std::string spid = std::to_string(pid);
  if (auto r = run_all(
          {{"ip", "link", "add", l.host_if, "type", "veth", "peer", "name", "eth0", "netns", spid},
           {"ip", "addr", "add", l.host_addr, "dev", l.host_if},
           {"ip", "link", "set", l.host_if, "up"}});
      !r)
    return r;
  std::vector<std::vector<std::string>> peer = {{"ip", "link", "set", "lo", "up"},
                                                {"ip", "addr", "add", l.peer_addr, "dev", "eth0"},
                                                {"ip", "link", "set", "eth0", "up"}};
  if (!l.peer_gateway.empty())
    peer.push_back({"ip", "route", "add", "default", "via", l.peer_gateway});
  return run_in(pid, peer);
}

}  // namespace cd
