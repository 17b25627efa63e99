// `conndoctor serve` on loopback with a fake collection injected: concurrent scrapes share one
// collection, collections are rate-limited and paired across scrapes for rates, auth, read-only
// methods, slow clients, bad configurations refused with one line, and no fd or thread leaks.
#include <gtest/gtest.h>

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "no_skip.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fake_clock.h"
#include "serve/auth.h"
#include "serve/bounded_task_queue.h"
#include "serve/connection_deadlines.h"
#include "serve/scrape_coordinator.h"
#include "serve/server.h"
#include "util/clock.h"

namespace cd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::size_t count_entries(const char* dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

// A temporary directory for credential and certificate files, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/cd-serve-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text, mode_t mode) {
    fs::path p = path / name;
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p.string();
  }
};

// The fake pipeline: counts collections, takes its time, stamps readings with the fake clock,
// and records the interval each analysis saw.
struct FakePipeline {
  FakeClock clock;
  std::atomic<int> collections{0};
  std::atomic<bool> fail{false};
  std::atomic<bool> throw_{false};
  std::chrono::milliseconds takes{0};
  std::vector<std::optional<double>> intervals;  // written by the collecting thread only
  std::mutex mu;

  ScrapeCoordinator::CollectFn collect() {
    return [this]() -> Result<Snapshot> {
      ++collections;
      std::this_thread::sleep_for(takes);
      if (throw_) throw std::runtime_error("boom");
      if (fail) return fail_errno("sock_diag: cannot open netlink socket", EACCES);
      Snapshot s;
      s.first.taken_at_s = clock.now_s();
      s.first.sysctls.tcp_max_tw_buckets = 4096;
      s.first.counters["TcpExt.ListenOverflows"] = collections.load() * 10;
      s.first.sockets.complete = true;
      s.first.sockets.by_state[int(TcpState::kTimeWait)] = 7;
      return s;
    };
  }
  ScrapeCoordinator::AnalyseFn analyse() {
    return [this](const Snapshot& s) {
      std::lock_guard lk(mu);
      intervals.push_back(s.interval_s());
      Analysis a;
      a.status = Status::kWarning;
      a.summary = "warning: fake";
      Finding f;
      f.id = "time_wait.fake";
      f.resource = Resource::kTimeWait;
      f.severity = Severity::kWarning;
      f.layer = Layer::kApplication;
      f.title = "fake";
      a.findings.push_back(f);
      return a;
    };
  }
};

// A server on 127.0.0.1:<any port> running on its own thread until the fixture ends.
struct Running {
  FakePipeline pipe;
  std::unique_ptr<ScrapeCoordinator> coord;
  std::unique_ptr<MetricsServer> server;
  std::thread loop;

  Result<void> start(ServeOptions opt, double min_interval_s = 1000) {
    opt.listen = ListenAddress{"127.0.0.1", 0};
    coord = std::make_unique<ScrapeCoordinator>(
        pipe.collect(), pipe.analyse(), pipe.clock,
        CoordinatorOptions{.min_interval_s = min_interval_s, .wait_timeout_s = 10});
    auto s = MetricsServer::create(opt, *coord);
    if (!s) return std::unexpected(s.error());
    server = std::move(*s);
    loop = std::thread([this] { server->run(); });
    return {};
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    return c;
  }
  ~Running() {
    if (server) server->stop();
    if (loop.joinable()) loop.join();
  }
};

TEST(ScrapeCoordinator, ConcurrentScrapesShareOneCollection) {
  Running r;
  r.pipe.takes = 300ms;
  ASSERT_TRUE(r.start(ServeOptions{.threads = 8}));
  constexpr int kClients = 16;
  std::vector<std::thread> clients;
  std::vector<int> status(kClients, 0);
  std::vector<std::string> bodies(kClients);
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&, i] {
      auto c = r.client();
      if (auto res = c.Get("/metrics")) {
        status[i] = res->status;
        bodies[i] = res->body;
      }
    });
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(status[i], 200) << i;
    EXPECT_NE(bodies[i].find("conndoctor_tcp_listen_overflows_total 10\n"), std::string::npos);
  }
  EXPECT_EQ(r.pipe.collections.load(), 1);
  // The 16th scrape counts itself: 16 answered, 15 of them shared.
  auto res = r.client().Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("conndoctor_collections_total 1\n"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("conndoctor_scrapes_total 17\n"), std::string::npos);
  EXPECT_NE(res->body.find("conndoctor_scrapes_shared_total 16\n"), std::string::npos);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
}

TEST(ScrapeCoordinator, RateLimitedAndRatesSpanTwoCollections) {
  FakePipeline pipe;
  ScrapeCoordinator coord(pipe.collect(), pipe.analyse(), pipe.clock,
                          CoordinatorOptions{.min_interval_s = 5, .max_rate_window_s = 100});
  auto a = coord.get();
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->shared);
  pipe.clock.sleep_s(4.9);  // younger than the minimum interval: served again
  auto b = coord.get();
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->shared);
  EXPECT_EQ(b->result, a->result);
  EXPECT_EQ(pipe.collections.load(), 1);
  pipe.clock.sleep_s(0.2);
  auto c = coord.get();
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->shared);
  EXPECT_EQ(pipe.collections.load(), 2);
  // The second collection is analysed with the first one's reading: two readings 5.1 s apart,
  // so the counter (10 -> 20) becomes a rate.
  ASSERT_EQ(pipe.intervals.size(), 2u);
  EXPECT_FALSE(pipe.intervals[0].has_value());
  ASSERT_TRUE(pipe.intervals[1].has_value());
  EXPECT_NEAR(*pipe.intervals[1], 5.1, 1e-9);
  const Snapshot& snap = c->result->diagnosis->snapshot;
  ASSERT_TRUE(snap.counter_rate("TcpExt.ListenOverflows"));
  EXPECT_NEAR(*snap.counter_rate("TcpExt.ListenOverflows"), 10 / 5.1, 1e-9);
  // A previous reading older than the rate window is not used.
  pipe.clock.sleep_s(101);
  auto d = coord.get();
  ASSERT_TRUE(d);
  EXPECT_FALSE(pipe.intervals.back().has_value());
}

TEST(ScrapeCoordinator, FailuresAreServedAsDownAndNeverWedge) {
  Running r;
  r.pipe.fail = true;
  ASSERT_TRUE(r.start(ServeOptions{}, /*min_interval_s=*/0));
  auto c = r.client();
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("conndoctor_up 0\n"), std::string::npos);
  EXPECT_NE(m->body.find("conndoctor_scrape_errors_total 1\n"), std::string::npos);
  EXPECT_EQ(m->body.find("conndoctor_tcp_time_wait_limit"), std::string::npos)
      << "a failed collection must not export stale or zero figures";
  auto rep = c.Get("/report");
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->status, 503);
  EXPECT_NE(rep->body.find("cannot open netlink socket"), std::string::npos);
  // A collection that throws is an error too, and the next scrape collects again.
  r.pipe.fail = false;
  r.pipe.throw_ = true;
  m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("conndoctor_up 0\n"), std::string::npos);
  r.pipe.throw_ = false;
  m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("conndoctor_up 1\n"), std::string::npos);
  EXPECT_NE(m->body.find("conndoctor_tcp_time_wait_limit 4096\n"), std::string::npos);
}

TEST(Serve, ReportIsTheCheckJsonAndHealthz) {
  Running r;
  ServeOptions opt;
  opt.report_host = [] { return nlohmann::ordered_json{{"hostname", "test"}}; };
  ASSERT_TRUE(r.start(opt));
  auto c = r.client();
  auto rep = c.Get("/report");
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->status, 200);
  auto doc = nlohmann::json::parse(rep->body);
  EXPECT_EQ(doc["schema"], "conndoctor/report/v1");
  EXPECT_EQ(doc["status"], "warning");
  EXPECT_EQ(doc["findings"][0]["id"], "time_wait.fake");
  EXPECT_EQ(doc["host"]["hostname"], "test");
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "ok\n");
  auto missing = c.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(Serve, OnlyGetAndHead) {
  Running r;
  ASSERT_TRUE(r.start(ServeOptions{}));
  auto c = r.client();
  std::vector<httplib::Result> refused;
  refused.push_back(c.Post("/metrics", "x", "text/plain"));
  refused.push_back(c.Put("/metrics", "x", "text/plain"));
  refused.push_back(c.Delete("/report"));
  refused.push_back(c.Options("/metrics"));
  for (const auto& res : refused) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 405);
    EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  }
  auto head = c.Head("/metrics");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  // A body over the limit is refused whatever the method.
  auto big = c.Post("/metrics", std::string(64 * 1024, 'x'), "text/plain");
  ASSERT_TRUE(big);
  EXPECT_NE(big->status, 200);
  EXPECT_EQ(r.pipe.collections.load(), 1);  // only HEAD collected
}

TEST(Serve, BearerAndBasicAuth) {
  TempDir dir;
  {
    Running r;
    auto auth =
        load_auth_file(dir.write("bearer", "# scrape token\nbearer 0123456789abcdefXYZ\n", 0600));
    ASSERT_TRUE(auth) << auth.error().message;
    ASSERT_TRUE(r.start(ServeOptions{.auth = *auth}));
    auto c = r.client();
    auto none = c.Get("/metrics");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401);
    EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer realm=\"conndoctor\"");
    auto wrong = c.Get("/report", {{"Authorization", "Bearer 0123456789abcdefXYz"}});
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401);
    auto right = c.Get("/metrics", {{"Authorization", "bearer 0123456789abcdefXYZ"}});
    ASSERT_TRUE(right);
    EXPECT_EQ(right->status, 200);
    auto health = c.Get("/healthz");  // probes need no secret
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(r.pipe.collections.load(), 1);  // refused requests never collected
  }
  {
    Running r;
    auto auth = load_auth_file(dir.write("basic", "basic prometheus:s3cret:with:colons\n", 0640));
    ASSERT_TRUE(auth) << auth.error().message;
    ASSERT_TRUE(r.start(ServeOptions{.auth = *auth}));
    auto c = r.client();
    EXPECT_EQ(c.Get("/metrics")->status, 401);
    c.set_basic_auth("prometheus", "wrong");
    EXPECT_EQ(c.Get("/metrics")->status, 401);
    c.set_basic_auth("prometheus", "s3cret:with:colons");
    EXPECT_EQ(c.Get("/metrics")->status, 200);
  }
}

TEST(Serve, BadConfigurationIsRefusedWithOneLine) {
  TempDir dir;
  struct Case {
    std::string file;
    std::string expect;
  };
  std::vector<Case> cases = {
      {(dir.path / "absent").string(), "No such file or directory"},
      {dir.path.string(), "not a regular file"},
      {dir.write("world", "bearer 0123456789abcdef0123\n", 0644),
       "readable or writable by every user"},
      {dir.write("groupw", "bearer 0123456789abcdef0123\n", 0660), "writable by its group"},
      {dir.write("empty", "# nothing\n\n", 0600), "no credential line"},
      {dir.write("short", "bearer short\n", 0600), "token shorter than 16"},
      {dir.write("scheme", "digest a:b\n", 0600), "unknown scheme 'digest'"},
      {dir.write("two", "bearer 0123456789abcdef0123\nbearer 0123456789abcdef0124\n", 0600),
       "line 2: more than one credential line"},
      {dir.write("nopass", "basic prometheus:\n", 0600), "both parts non-empty"},
      {dir.write("big", std::string(5000, '#'), 0600), "larger than 4 KiB"},
  };
  for (const Case& c : cases) {
    auto r = load_auth_file(c.file);
    ASSERT_FALSE(r) << c.file;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(c.file), std::string::npos) << "names the file";
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << "one line";
  }

  for (auto [text, expect] : std::vector<std::pair<std::string, std::string>>{
           {"9877", "expected ADDR:PORT"},
           {":9877", "the address is required"},
           {"localhost:9877", "not an IP address"},
           {"::1:9877", "in brackets"},
           {"[::1]9877", "expected [IPv6]:PORT"},
           {"127.0.0.1:70000", "port must be a number"},
           {"127.0.0.1:x", "port must be a number"}}) {
    auto r = parse_listen_address(text);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().message.find(expect), std::string::npos) << r.error().message;
  }
  auto v6 = parse_listen_address("[::1]:9877");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->is_loopback());
  EXPECT_EQ(v6->to_string(), "[::1]:9877");
  auto any = parse_listen_address("0.0.0.0:9877");
  ASSERT_TRUE(any);
  EXPECT_FALSE(any->is_loopback());

  EXPECT_FALSE(check_tls_files("cert.pem", ""));
  auto garbage_cert = dir.write("cert.pem", "not a certificate\n", 0644);
  auto open_key = dir.write("key-open.pem", "not a key\n", 0644);
  auto key = dir.write("key.pem", "not a key\n", 0600);
  auto tls_open = check_tls_files(garbage_cert, open_key);
  ASSERT_FALSE(tls_open);
  EXPECT_NE(tls_open.error().message.find("readable by every user"), std::string::npos);
  FakePipeline pipe;
  ScrapeCoordinator coord(pipe.collect(), pipe.analyse(), pipe.clock, {});
  ServeOptions opt;
  opt.listen = ListenAddress{"127.0.0.1", 0};
  opt.tls_cert = garbage_cert;
  opt.tls_key = key;
  auto s = MetricsServer::create(opt, coord);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("cannot load the TLS certificate"), std::string::npos);
}

TEST(Serve, PortInUseIsAnErrorNotASharedPort) {
  Running r;
  ASSERT_TRUE(r.start(ServeOptions{}));
  FakePipeline pipe;
  ScrapeCoordinator coord(pipe.collect(), pipe.analyse(), pipe.clock, {});
  ServeOptions opt;
  opt.listen = ListenAddress{"127.0.0.1", r.server->port()};
  auto second = MetricsServer::create(opt, coord);
  ASSERT_FALSE(second) << "a second exporter bound the same port (SO_REUSEPORT?)";
  EXPECT_NE(second.error().message.find("Address already in use"), std::string::npos)
      << second.error().message;
}

TEST(Serve, TlsWhenTheLibrarySupportsIt) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) CD_SKIP() << "no openssl CLI";
  TempDir dir;
  std::string cert = (dir.path / "cert.pem").string(), key = (dir.path / "key.pem").string();
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ::chmod(key.c_str(), 0600);
  Running r;
  ASSERT_TRUE(r.start(ServeOptions{.tls_cert = cert, .tls_key = key}));
  EXPECT_TRUE(r.server->tls());
  httplib::SSLClient c("127.0.0.1", r.server->port());
  c.enable_server_certificate_verification(false);
  c.set_connection_timeout(5);
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("conndoctor_up 1\n"), std::string::npos);
  auto plain = r.client().Get("/healthz");  // plain HTTP to a TLS port gets nothing
  EXPECT_TRUE(!plain || plain->status != 200);
}

TEST(Serve, SlowClientsAreDropped) {
  Running r;
  ASSERT_TRUE(r.start(ServeOptions{.threads = 1, .read_timeout_s = 1}));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(r.server->port());
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_GT(::send(fd, "GET /metr", 9, MSG_NOSIGNAL), 0);  // and then nothing
  // The server must end the connection itself (EOF or reset). The receive timeout only bounds
  // the test: running into it (EAGAIN) means the slow client was never dropped.
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  int err = n < 0 ? errno : 0;
  ::close(fd);
  EXPECT_LE(n, 0) << "the server answered a half request";
  EXPECT_TRUE(n == 0 || err == ECONNRESET)
      << "the slow client was not dropped: " << std::strerror(err);
  // The single worker is free again.
  auto res = r.client().Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// A client connected to 127.0.0.1:port (blocking, 5 s receive timeout), or -1.
int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// True once the server has ended the connection (EOF or reset), without waiting.
bool closed_by_server(int fd) {
  char buf[512];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }
}

TEST(Serve, TricklingClientIsCutAtTheDeadline) {
  // Per-read timeouts never end this client: it sends a byte every 200 ms, well within the
  // 1 s read timeout. The whole-request deadline (1 s) does.
  Running r;
  ASSERT_TRUE(r.start(ServeOptions{.threads = 1, .read_timeout_s = 1}));
  int fd = connect_loopback(r.server->port());
  ASSERT_GE(fd, 0);
  std::string head = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Trickle: ";
  ASSERT_GT(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), 0);
  int sent = 0;
  bool closed = false;
  for (; sent < 40 && !closed; ++sent) {
    std::this_thread::sleep_for(200ms);
    closed = ::send(fd, "x", 1, MSG_NOSIGNAL) < 0 || closed_by_server(fd);
  }
  ::close(fd);
  EXPECT_TRUE(closed) << "still open after " << sent << " trickled bytes (8 s) with a 1 s deadline";
  EXPECT_EQ(r.server->counters().deadline, 1u);
  auto res = r.client().Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(Serve, ConnectionsPastTheCapGet503) {
  Running r;
  ASSERT_TRUE(r.start(ServeOptions{.max_connections = 2, .read_timeout_s = 30}));
  // Two clients hold the two connections the cap allows, each halfway through a request.
  std::vector<int> holders;
  for (int i = 0; i < 2; ++i) {
    int fd = connect_loopback(r.server->port());
    ASSERT_GE(fd, 0);
    ASSERT_GT(::send(fd, "GET /metr", 9, MSG_NOSIGNAL), 0);
    holders.push_back(fd);
  }
  // Wait until the server has accepted both (a /healthz over a third connection would itself
  // be the third): poll its counter.
  for (int i = 0; i < 500 && r.server->counters().connections < 2; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(r.server->counters().connections, 2u);
  auto c = r.client();
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_NE(res->body.find("too many connections (limit 2)"), std::string::npos) << res->body;
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_EQ(r.pipe.collections.load(), 0) << "a refused request collected";
  EXPECT_EQ(r.server->counters().over_cap, 1u);
  for (int fd : holders) ::close(fd);
  // Below the cap again: served.
  bool served = false;
  for (int i = 0; i < 500 && !served; ++i) {
    auto again = r.client().Get("/metrics");
    served = again && again->status == 200;
    if (!served) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(served);
}

TEST(ConnectionDeadlines, WholePhasesNotReads) {
  ConnectionDeadlines d;
  auto a = d.add(10, 3.0);
  auto b = d.add(11, 5.0);
  EXPECT_EQ(d.next_deadline_s(), 3.0);
  EXPECT_TRUE(d.take_expired(2.9).empty());
  // b's request is in: no deadline while the server works, then one for sending.
  d.set(b, ConnectionDeadlines::Phase::kHandling, ConnectionDeadlines::kNone);
  EXPECT_EQ(d.take_expired(3.0), std::vector<int>{10});
  EXPECT_TRUE(d.take_expired(100).empty()) << "handed back once, and b has none";
  EXPECT_EQ(d.next_deadline_s(), ConnectionDeadlines::kNone);
  d.set(b, ConnectionDeadlines::Phase::kSending, 7.0);
  // On stop, connections waiting for a request go now; a response being sent keeps its time.
  auto c = d.add(12, 50.0);
  d.expire_receiving(4.0);
  EXPECT_EQ(d.take_expired(4.0), (std::vector<int>{10, 12}));
  EXPECT_EQ(d.take_expired(7.0), std::vector<int>{11});
  d.remove(a);
  d.remove(b);
  d.remove(c);
  EXPECT_EQ(d.size(), 0u);
}

TEST(Serve, NoFdOrThreadLeaks) {
  std::size_t fds_before = count_entries("/proc/self/fd");
  std::size_t threads_before = count_entries("/proc/self/task");
  {
    Running r;
    ASSERT_TRUE(r.start(ServeOptions{.threads = 3, .max_queued = 12}, /*min_interval_s=*/0));
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int i = 0; i < 12; ++i)
      clients.emplace_back([&, i] {
        auto c = r.client();
        c.set_keep_alive(i % 2 == 0);
        for (int k = 0; k < 10; ++k) {
          auto res = c.Get(k % 3 ? "/metrics" : "/report");
          if (res && res->status == 200) ++ok;
        }
      });
    for (auto& t : clients) t.join();
    EXPECT_EQ(ok.load(), 120) << "responses lost";
    std::this_thread::sleep_for(200ms);
    // Idle: the workers, the accept loop, and nothing else.
    EXPECT_EQ(count_entries("/proc/self/task"), threads_before + 3 + 1);
    r.server->stop();
    r.loop.join();
    r.server.reset();
  }
  EXPECT_EQ(count_entries("/proc/self/task"), threads_before);
  EXPECT_EQ(count_entries("/proc/self/fd"), fds_before);
  // A server created and dropped without running releases its socket too.
  FakePipeline pipe;
  ScrapeCoordinator coord(pipe.collect(), pipe.analyse(), pipe.clock, {});
  ServeOptions opt;
  opt.listen = ListenAddress{"127.0.0.1", 0};
  { auto s = MetricsServer::create(opt, coord); }
  EXPECT_EQ(count_entries("/proc/self/fd"), fds_before);
}

TEST(Serve, StopBeforeRunStillReturns) {
  FakePipeline pipe;
  ScrapeCoordinator coord(pipe.collect(), pipe.analyse(), pipe.clock, {});
  ServeOptions opt;
  opt.listen = ListenAddress{"127.0.0.1", 0};
  auto s = MetricsServer::create(opt, coord);
  ASSERT_TRUE(s);
  (*s)->stop();  // a signal that arrived before the accept loop started
  // run() must return on its own; the wait only bounds the test (a hang is the failure).
  auto done = std::async(std::launch::async, [&] { return (*s)->run(); });
  ASSERT_EQ(done.wait_for(60s), std::future_status::ready) << "run() ignored the earlier stop()";
  EXPECT_TRUE(done.get());
}

TEST(BoundedTaskQueue, RefusesWhenFullAndShutdownDrains) {
  auto q = std::make_unique<BoundedTaskQueue>(1, 2);
  std::atomic<int> ran{0};
  std::atomic<bool> release{false}, holding{false};
  ASSERT_TRUE(q->try_enqueue([&] {
    holding = true;
    while (!release) std::this_thread::sleep_for(1ms);
    ++ran;
  }));
  while (!holding) std::this_thread::sleep_for(1ms);  // the worker holds the first job
  EXPECT_TRUE(q->try_enqueue([&] { ++ran; }));
  EXPECT_TRUE(q->try_enqueue([&] { ++ran; }));
  EXPECT_FALSE(q->try_enqueue([&] { ++ran; })) << "the queue took a third waiting job";
  release = true;
  q->shutdown();
  EXPECT_EQ(ran.load(), 3) << "shutdown dropped queued jobs (each owns a suspended request)";
  EXPECT_FALSE(q->try_enqueue([&] { ++ran; })) << "a job accepted after shutdown never runs";
}

}  // namespace
}  // namespace cd
