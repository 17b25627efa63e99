// cdtool-httpload: a bounded HTTP load generator for `conndoctor serve` on loopback. N client
// threads GET one path over keep-alive (or a new connection per request) until a deadline and
// count every response. It can also hold idle connections that send half a request and then
// nothing (slow clients), and counts how many the server drops. Prints one key=value line.
//
//   cdtool-httpload --port 9877 [--path /metrics] [--clients 50] [--seconds 10]
//                   [--new-connection] [--idle N] [--header "Name: value"]
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "util/unique_fd.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int port = 9877;
  std::string path = "/metrics";
  int clients = 50;
  double seconds = 10;
  bool new_connection = false;
  int idle = 0;
  std::string header_name, header_value;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "cdtool-httpload: %s\nusage: cdtool-httpload --port P [--path /metrics] "
               "[--clients N] [--seconds S] [--new-connection] [--idle N] [--header 'K: V']\n",
               why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--new-connection") {
      a.new_connection = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value");
    std::string v = argv[++i];
    if (k == "--port")
      a.port = std::atoi(v.c_str());
    else if (k == "--path")
      a.path = v;
    else if (k == "--clients")
      a.clients = std::atoi(v.c_str());
    else if (k == "--seconds")
      a.seconds = std::atof(v.c_str());
    else if (k == "--idle")
      a.idle = std::atoi(v.c_str());
    else if (k == "--header") {
      auto colon = v.find(':');
      if (colon == std::string::npos) usage("--header 'Name: value'");
      a.header_name = v.substr(0, colon);
      a.header_value = v.substr(v.find_first_not_of(' ', colon + 1));
    } else
      usage(("unknown option " + k).c_str());
  }
  // Bounded by design: loopback only, at most 200 clients and 10 minutes.
  if (a.port <= 0 || a.port > 65535) usage("--port 1..65535");
  if (a.clients < 1 || a.clients > 200) usage("--clients 1..200");
  if (a.idle < 0 || a.idle > 500) usage("--idle 0..500");
  if (a.seconds <= 0 || a.seconds > 600) usage("--seconds 0..600");
  return a;
}

// A client that connects, sends half a request line and then nothing; true when the server
// closed the connection before the deadline.
bool slow_client(int port, Clock::time_point deadline) {
  cd::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return false;
  ::send(fd.get(), "GET /metr", 9, MSG_NOSIGNAL);
  timeval tv{0, 200'000};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[512];
  while (Clock::now() < deadline) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  auto start = Clock::now();
  auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
  std::atomic<long> ok{0}, bad_status{0}, errors{0}, idle_dropped{0};
  std::mutex mu;
  std::vector<double> latencies_ms;

  std::vector<std::thread> threads;
  for (int i = 0; i < a.idle; ++i)
    threads.emplace_back([&] {
      if (slow_client(a.port, deadline)) ++idle_dropped;
    });
  for (int c = 0; c < a.clients; ++c)
    threads.emplace_back([&] {
      std::vector<double> mine;
      httplib::Client cli("127.0.0.1", a.port);
      cli.set_keep_alive(!a.new_connection);
      cli.set_connection_timeout(10);
      cli.set_read_timeout(30);  // a slow answer is slow, not lost
      httplib::Headers headers;
      if (!a.header_name.empty()) headers.emplace(a.header_name, a.header_value);
      while (Clock::now() < deadline) {
        auto t0 = Clock::now();
        auto res = cli.Get(a.path, headers);
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!res) {
          ++errors;
        } else if (res->status != 200 || res->body.empty()) {
          ++bad_status;
        } else {
          ++ok;
          mine.push_back(ms);
        }
      }
      std::lock_guard lk(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    return latencies_ms[std::min(latencies_ms.size() - 1, std::size_t(p * latencies_ms.size()))];
  };
  std::printf(
      "clients=%d seconds=%.1f requests=%ld ok=%ld bad_status=%ld errors=%ld rps=%.0f "
      "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f idle=%d idle_dropped=%ld\n",
      a.clients, elapsed, ok + bad_status + errors, ok.load(), bad_status.load(), errors.load(),
      double(ok) / elapsed, pct(0.50), pct(0.99), latencies_ms.empty() ? 0.0 : latencies_ms.back(),
      a.idle, idle_dropped.load());
  return errors == 0 && bad_status == 0 ? 0 : 1;
}
