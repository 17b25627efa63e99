// cdtool-portfill: a real ephemeral-port exhaustion towards one destination, held live for the
// serve end-to-end test. Listens on the target, connects to it until connect() fails with
// EADDRNOTAVAIL (bounded by --max), closes the first --close-first connections client side
// first (client TIME_WAIT), keeps the rest ESTABLISHED, then holds everything until SIGTERM or
// --hold seconds. Run it inside a network namespace with a narrow ip_local_port_range.
//
//   cdtool-portfill --target 127.0.0.1:8080 [--close-first N] [--max N] [--hold S]
//                   [--ready-file PATH]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "util/unique_fd.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "cdtool-portfill: %s\nusage: cdtool-portfill --target IPv4:PORT [--close-first N] "
               "[--max N] [--hold SECONDS] [--ready-file PATH]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, ready_file;
  long close_first = 0, max_conns = 1000, hold_s = 120;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage("missing value");
    std::string v = argv[++i];
    if (a == "--target")
      target = v;
    else if (a == "--close-first")
      close_first = std::atol(v.c_str());
    else if (a == "--max")
      max_conns = std::atol(v.c_str());
    else if (a == "--hold")
      hold_s = std::atol(v.c_str());
    else if (a == "--ready-file")
      ready_file = v;
    else
      usage(("unknown option " + a).c_str());
  }
  // Bounded: an exhaustion of a test-sized range, never a flood.
  if (max_conns < 1 || max_conns > 5000) usage("--max must be 1..5000");
  if (hold_s < 0 || hold_s > 600) usage("--hold must be 0..600");
  std::size_t colon = target.rfind(':');
  if (colon == std::string::npos) usage("--target IPv4:PORT is required");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(std::atoi(target.c_str() + colon + 1)));
  if (inet_pton(AF_INET, target.substr(0, colon).c_str(), &sa.sin_addr) != 1)
    usage("--target must be an IPv4 address and port");

  struct sigaction act {};
  act.sa_handler = on_signal;
  sigaction(SIGTERM, &act, nullptr);
  sigaction(SIGINT, &act, nullptr);

  cd::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(listener.get(), 4096) != 0) {
    std::fprintf(stderr, "cdtool-portfill: cannot listen on %s: %s\n", target.c_str(),
                 std::strerror(errno));
    return 1;
  }

  std::vector<cd::UniqueFd> held;
  long made = 0, closed = 0;
  int last_errno = 0;
  while (made < max_conns && !g_stop) {
    cd::UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!c) {
      last_errno = errno;
      break;
    }
    if (::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      last_errno = errno;
      break;
    }
    cd::UniqueFd s(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ++made;
    if (closed < close_first) {
      // The client sends the first FIN, so the TIME_WAIT (and its port) lands on the client
      // side, as with an HTTP client that closes after each request.
      c.reset();
      timespec pause{0, 2'000'000};
      nanosleep(&pause, nullptr);
      s.reset();
      ++closed;
    } else {
      held.push_back(std::move(c));
      held.push_back(std::move(s));
    }
  }
  std::printf("portfill: %ld connections to %s (%ld closed client-side first, %ld held); ", made,
              target.c_str(), closed, made - closed);
  if (last_errno)
    std::printf("connect #%ld failed: %s\n", made + 1, std::strerror(last_errno));
  else
    std::printf("no connect failed\n");
  std::fflush(stdout);
  if (!ready_file.empty())
    std::ofstream(ready_file) << (last_errno == EADDRNOTAVAIL ? "exhausted\n" : "not-exhausted\n");

  for (long waited_ms = 0; !g_stop && waited_ms < hold_s * 1000; waited_ms += 100) {
    timespec tick{0, 100'000'000};
    nanosleep(&tick, nullptr);
  }
  return last_errno == EADDRNOTAVAIL ? 0 : 1;
}
