// Load for bench/trace_cost.sh: a loopback connection storm, as fast as the machine allows.
// One thread accepts and closes; the main thread connects and closes (SO_LINGER 0: a RST, so
// no TIME_WAIT piles up and the port pool never runs out during a long run). Prints
// "connections N seconds S per_s R". Run it inside a namespace of its own.
//   cdtool-storm [--seconds S] [--port P]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

int main(int argc, char** argv) {
  double seconds = 5;
  int port = 18080;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--port")) port = std::atoi(argv[i + 1]);
  }
  prctl(PR_SET_NAME, "cd-storm", 0, 0, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(uint16_t(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || listen(ls, 4096) != 0) {
    std::perror("cdtool-storm: listen");
    return 1;
  }
  std::atomic<bool> stop{false};
  std::thread server([&] {
    while (!stop.load()) {
      int c = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) close(c);
    }
  });
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  uint64_t n = 0, failed = 0;
  linger lg{1, 0};
  while (clock::now() < end) {
    for (int i = 0; i < 64; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        ++failed;
        continue;
      }
      if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0)
        ++n;
      else
        ++failed;
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(fd);
    }
  }
  const double took = std::chrono::duration<double>(clock::now() - start).count();
  stop = true;
  // Wake the accept() one last time.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  close(fd);
  server.join();
  std::printf("connections %llu failed %llu seconds %.3f per_s %.0f\n", (unsigned long long)n,
              (unsigned long long)failed, took, double(n) / took);
  return 0;
}
