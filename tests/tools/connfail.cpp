// Load for the trace end-to-end test of connect failures: "cd-connfail" connects N times to one
// IPv4 destination, blocking (each connect() waits for its outcome) or non-blocking (all
// started at once, outcomes read with poll() and SO_ERROR), and prints how each attempt ended
// ("ECONNREFUSED 5", "ok 0", ...): the ground truth the traced counts are compared with.
//   cdtool-connfail --to 198.18.0.2:80 --count 5 [--nonblock] [--max-seconds S]
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

const char* name_of(int e) {
  switch (e) {
    case 0:
      return "ok";
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case EHOSTUNREACH:
      return "EHOSTUNREACH";
    case ENETUNREACH:
      return "ENETUNREACH";
    case EADDRNOTAVAIL:
      return "EADDRNOTAVAIL";
    case EINPROGRESS:
      return "EINPROGRESS";  // still pending at --max-seconds
    default:
      return strerrorname_np(e) ? strerrorname_np(e) : "other";
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string to;
  int count = 1;
  bool nonblock = false;
  double max_seconds = 60;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--to" && i + 1 < argc)
      to = argv[++i];
    else if (a == "--count" && i + 1 < argc)
      count = std::atoi(argv[++i]);
    else if (a == "--nonblock")
      nonblock = true;
    else if (a == "--max-seconds" && i + 1 < argc)
      max_seconds = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "usage: cdtool-connfail --to IP:PORT --count N [--nonblock]\n");
      return 2;
    }
  }
  auto colon = to.rfind(':');
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, to.substr(0, colon).c_str(), &sin.sin_addr) != 1 || count < 1 ||
      count > 1000) {
    std::fprintf(stderr, "cdtool-connfail: bad --to or --count\n");
    return 2;
  }
  sin.sin_port = htons(uint16_t(std::atoi(to.c_str() + colon + 1)));
  prctl(PR_SET_NAME, "cd-connfail", 0, 0, 0);

  std::map<std::string, int> outcome;
  std::vector<int> pending;
  for (int i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
      ++outcome[name_of(errno)];
      continue;
    }
    if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0) {
      ++outcome["ok"];
      close(fd);
    } else if (errno == EINPROGRESS && nonblock) {
      pending.push_back(fd);
    } else {
      ++outcome[name_of(errno)];
      close(fd);
    }
  }
  // Non-blocking: wait (bounded) for each outcome; read it with SO_ERROR, never connect() again.
  const int deadline_ms = int(max_seconds * 1000);
  int waited = 0;
  while (!pending.empty() && waited < deadline_ms) {
    std::vector<pollfd> p;
    for (int fd : pending) p.push_back({fd, POLLOUT, 0});
    poll(p.data(), p.size(), 100);
    waited += 100;
    std::vector<int> still;
    for (const auto& x : p) {
      if (x.revents == 0) {
        still.push_back(x.fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(x.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      ++outcome[name_of(err)];
      close(x.fd);
    }
    pending = still;
  }
  outcome["EINPROGRESS"] += int(pending.size());
  for (int fd : pending) close(fd);
  std::printf("pid %d\n", int(getpid()));
  for (const auto& [k, v] : outcome)
    if (v) std::printf("%s %d\n", k.c_str(), v);
  return 0;
}
