// cdtool-httpload: a bounded HTTP load generator for `conndoctor serve` on loopback. N client
// threads GET one path over keep-alive (or a new connection per request) until a deadline and
// count every response. It can also hold idle connections that send half a request and then
// nothing (slow clients), and counts how many the server drops; and trickling clients that send
// one byte of a never-ending header every --trickle-ms (below any per-read timeout), reconnect
// when the server drops them, and record how long the server let each one hold its connection.
// Prints one key=value line.
//
//   cdtool-httpload --port 9877 [--path /metrics] [--clients 50] [--seconds 10]
//                   [--new-connection] [--idle N] [--trickle N] [--trickle-ms 1000]
//                   [--timeout 30] [--header "Name: value"]
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
#include <string_view>
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
  int trickle = 0;
  int trickle_ms = 1000;
  int timeout_s = 30;  // a scrape not answered by then is lost (Prometheus' default is 10 s)
  std::string header_name, header_value;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "cdtool-httpload: %s\nusage: cdtool-httpload --port P [--path /metrics] "
               "[--clients N] [--seconds S] [--new-connection] [--idle N] [--trickle N] "
               "[--trickle-ms MS] [--timeout S] [--header 'K: V']\n",
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
    else if (k == "--trickle")
      a.trickle = std::atoi(v.c_str());
    else if (k == "--trickle-ms")
      a.trickle_ms = std::atoi(v.c_str());
    else if (k == "--timeout")
      a.timeout_s = std::atoi(v.c_str());
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
  if (a.trickle < 0 || a.trickle > 500) usage("--trickle 0..500");
  if (a.trickle_ms < 10 || a.trickle_ms > 60000) usage("--trickle-ms 10..60000");
  if (a.timeout_s < 1 || a.timeout_s > 120) usage("--timeout 1..120");
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

// What the trickling clients saw: connections the server ended, answers it gave (a 503 from a
// connection cap), and the longest time one connection was held before the server ended it.
struct TrickleStats {
  std::atomic<long> connections{0}, dropped{0}, answered_503{0}, refused{0};
  std::atomic<long> max_held_ms{0};
};

// Connects, then sends a request whose header never ends, one byte every `every`, until the
// server ends the connection (then reconnects) or the deadline passes.
void trickle_client(int port, std::chrono::milliseconds every, Clock::time_point deadline,
                    TrickleStats& st) {
  while (Clock::now() < deadline) {
    cd::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(uint16_t(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ++st.refused;
      std::this_thread::sleep_for(every);
      continue;
    }
    ++st.connections;
    auto opened = Clock::now();
    const std::string head = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ";
    bool ended = ::send(fd.get(), head.data(), head.size(), MSG_NOSIGNAL) < 0;
    timeval tv{0, 20'000};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto next = Clock::now() + every;
    char buf[512];
    while (!ended && Clock::now() < deadline) {
      ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n > 0) {
        if (std::string_view(buf, std::size_t(n)).starts_with("HTTP/1.1 503")) ++st.answered_503;
        continue;  // read until the server closes
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        ended = true;
        break;
      }
      if (Clock::now() >= next) {
        if (::send(fd.get(), "x", 1, MSG_NOSIGNAL) < 0) ended = true;
        next += every;
      }
    }
    if (ended) {
      ++st.dropped;
      long held = long(std::chrono::duration<double, std::milli>(Clock::now() - opened).count());
      long prev = st.max_held_ms.load();
      while (held > prev && !st.max_held_ms.compare_exchange_weak(prev, held)) {
      }
    }
  }
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
  TrickleStats trickle;
  for (int i = 0; i < a.idle; ++i)
    threads.emplace_back([&] {
      if (slow_client(a.port, deadline)) ++idle_dropped;
    });
  for (int i = 0; i < a.trickle; ++i)
    threads.emplace_back([&] {
      trickle_client(a.port, std::chrono::milliseconds(a.trickle_ms), deadline, trickle);
    });
  // The trickling clients connect first: the scrapers then arrive at a server they occupy.
  if (a.trickle > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
  for (int c = 0; c < a.clients; ++c)
    threads.emplace_back([&] {
      std::vector<double> mine;
      httplib::Client cli("127.0.0.1", a.port);
      cli.set_keep_alive(!a.new_connection);
      cli.set_connection_timeout(a.timeout_s);
      cli.set_read_timeout(a.timeout_s);  // a slow answer is slow, not lost
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
      "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f idle=%d idle_dropped=%ld trickle=%d "
      "trickle_connections=%ld trickle_dropped=%ld trickle_503=%ld trickle_refused=%ld "
      "trickle_max_held_ms=%ld\n",
      a.clients, elapsed, ok + bad_status + errors, ok.load(), bad_status.load(), errors.load(),
      double(ok) / elapsed, pct(0.50), pct(0.99), latencies_ms.empty() ? 0.0 : latencies_ms.back(),
      a.idle, idle_dropped.load(), a.trickle, trickle.connections.load(), trickle.dropped.load(),
      trickle.answered_503.load(), trickle.refused.load(), trickle.max_held_ms.load());
  return errors == 0 && bad_status == 0 ? 0 : 1;
}
