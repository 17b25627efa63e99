// The HTTP server of `conndoctor serve` on libmicrohttpd 0.9.75 (see server.h).
#include "serve/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#include "render/exposition.h"
#include "render/report.h"
#include "serve/bounded_task_queue.h"
#include "serve/connection_deadlines.h"
#include "serve/trace_metrics.h"
#include "snapshot/net_types.h"
#include "util/file.h"
#include "util/unique_fd.h"

namespace cd {

bool ListenAddress::is_loopback() const {
  auto ip = IpAddr::parse(host);
  return ip && ip->is_loopback();
}

std::string ListenAddress::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// The text as an error message may quote it: control characters would break the one line.
static std::string quotable(std::string_view text) {
  std::string out(text.substr(0, 80));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  const std::string what = "--listen '" + quotable(text) + "'";
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(what + ": expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(what + ": expected ADDR:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return fail(what + ": an IPv6 address goes in brackets, [ADDR]:PORT");
  }
  if (host.empty())
    return fail(what + ": the address is required (0.0.0.0 or [::] for every interface)");
  auto ip = IpAddr::parse(host);
  if (!ip) return fail(what + ": '" + quotable(host) + "' is not an IP address");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return fail(what + ": the port must be a number 0-65535");
  return ListenAddress{std::string(host), uint16_t(value)};
}

Result<void> check_tls_files(const std::string& cert, const std::string& key) {
  if (cert.empty() != key.empty()) return fail("TLS needs both --tls-cert and --tls-key");
  if (cert.empty()) return {};
  for (const std::string& f : {cert, key}) {
    UniqueFd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("TLS file " + f);
  }
  struct stat st {};
  if (::stat(key.c_str(), &st) != 0) return fail_errno("TLS key " + key);
  if (st.st_mode & S_IROTH)
    return fail("TLS key " + key + " is readable by every user: chmod 600 it");
  return {};
}

namespace {

constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextType = "text/plain; charset=utf-8";
// Past max_connections, a connection is answered 503 as soon as its request arrives (with
// TCP_DEFER_ACCEPT it usually has when accepted), and closed if it has not within this.
constexpr double kOverCapDeadlineS = 1.0;
// Request line and headers (and the response header) live in this per-connection pool.
constexpr std::size_t kConnectionMemory = 16 * 1024;
// The endpoints take no body; one larger than this closes the connection.
constexpr std::size_t kMaxBody = 4096;

double mono_now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// What the answer to one request is; built on a worker or on the loop thread.
struct Answer {
  unsigned status = 200;
  std::string body;
  std::string content_type = kTextType;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // Connection: close
};

Answer text(unsigned status, std::string body) {
  return Answer{.status = status, .body = std::move(body)};
}

// One HTTP request (MHD's con_cls). Shared with the worker that answers it: the worker fills
// `answer` and resumes the connection; the loop thread then queues it.
struct Request {
  enum class State { kNew, kWorking, kReady, kQueued };
  State state = State::kNew;
  Answer answer;
  std::size_t body_bytes = 0;  // of a body nobody asked for, dropped
};
using RequestRef = std::shared_ptr<Request>;

// One TCP connection (MHD's socket_context).
struct Conn {
  ConnectionDeadlines::Id id = 0;
  bool over_cap = false;
};

}  // namespace

struct MetricsServer::Impl {
  ServeOptions opt;
  ScrapeCoordinator& coordinator;
  TraceMetrics trace_metrics;  // which series serve --trace admitted (cardinality cap)
  std::string tls_cert_pem, tls_key_pem;

  UniqueFd listen_fd;
  UniqueFd wake_fd;  // eventfd: stop() and resumed requests wake the loop
  MHD_Daemon* daemon = nullptr;
  std::unique_ptr<BoundedTaskQueue> pool;

  // The event loop's own state: touched by MHD callbacks, which all run inside MHD_run() on
  // the loop thread, and by the loop between two MHD_run() calls. No lock.
  ConnectionDeadlines deadlines;
  std::size_t open = 0;
  bool stopping = false;  // stop() seen: a connection whose response is done closes

  mutable std::mutex mu;  // stop/run handshake and the counters
  bool stop_requested = false;
  bool running = false;
  Counters counts;

  Impl(const ServeOptions& o, ScrapeCoordinator& c) : opt(o), coordinator(c) {}
  ~Impl() { shutdown_daemon(); }

  void shutdown_daemon() {
    if (pool) pool->shutdown();
    if (daemon) {
      // Quiesced first, so that MHD hands the listening socket back instead of closing it:
      // listen_fd closes it exactly once.
      MHD_quiesce_daemon(daemon);
      MHD_stop_daemon(daemon);
      daemon = nullptr;
    }
    if (!tls_key_pem.empty()) explicit_bzero(tls_key_pem.data(), tls_key_pem.size());
  }
  void wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_fd.get(), &one, sizeof one);
  }
  void count(uint64_t Counters::*field) {
    std::lock_guard lk(mu);
    ++(counts.*field);
  }

  Answer metrics();
  Answer report();
  Answer route(MHD_Connection* c, const std::string& url, bool* needs_worker);
  MHD_Result queue(MHD_Connection* c, Request& req);
  MHD_Result on_request(MHD_Connection* c, const char* url, const char* method,
                        std::size_t* upload_size, void** con_cls);
  void on_connection(MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode);
  void on_completed(MHD_Connection* c, void** con_cls);
  bool loop();
};

Answer MetricsServer::Impl::metrics() {
  auto served = coordinator.get();
  if (!served) return text(503, "conndoctor: " + served.error().message + "\n");
  coordinator.count_scrape(served->shared);
  const CollectionResult& r = *served->result;
  Exposition out;
  write_exporter_metrics(out, coordinator.stats(&r));
  if (r.diagnosis)
    write_diagnosis_metrics(out, r.diagnosis->snapshot, r.diagnosis->analysis, opt.metrics);
  if (opt.trace) {
    auto t = opt.trace();
    out.add(kTraceUpFamily, int64_t(t ? 1 : 0));
    if (t) trace_metrics.write(out, *t);
  }
  return Answer{.body = out.str(), .content_type = kMetricsType};
}

Answer MetricsServer::Impl::report() {
  auto served = coordinator.get();
  if (!served || !served->result->diagnosis) {
    std::string why = !served ? served.error().message : served->result->error;
    return text(503, "conndoctor: " + why + "\n");
  }
  const Diagnosis& d = *served->result->diagnosis;
  auto doc = report_json(d.snapshot, d.analysis);
  if (opt.report_host) doc["host"] = opt.report_host();
  // Process names are not guaranteed UTF-8: replace bad bytes rather than fail the request.
  return Answer{
      .body = doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n",
      .content_type = "application/json"};
}

// The answer to a request whose headers have arrived, or *needs_worker for /metrics and
// /report (a collection may take seconds: never on the loop thread).
Answer MetricsServer::Impl::route(MHD_Connection* c, const std::string& url, bool* needs_worker) {
  *needs_worker = false;
  // /healthz stays open so that liveness probes need no secret; it tells nothing.
  if (opt.auth && url != "/healthz") {
    const char* h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!authorized(*opt.auth, h ? h : "")) {
      Answer a = text(401, "conndoctor: unauthorized\n");
      a.headers.emplace_back("WWW-Authenticate", auth_challenge(*opt.auth));
      return a;
    }
  }
  if (url == "/metrics" || url == "/report") {
    *needs_worker = true;
    return {};
  }
  if (url == "/healthz") return text(200, "ok\n");
  if (url == "/")
    return text(200, "conndoctor serve: /metrics (Prometheus), /report (JSON), /healthz\n");
  return text(404, "conndoctor: not found; try /metrics, /report or /healthz\n");
}

MHD_Result MetricsServer::Impl::queue(MHD_Connection* c, Request& req) {
  Answer& a = req.answer;
  MHD_Response* r =
      MHD_create_response_from_buffer(a.body.size(), a.body.data(), MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", a.content_type.c_str());
  for (const auto& [k, v] : a.headers) MHD_add_response_header(r, k.c_str(), v.c_str());
  if (a.close) MHD_add_response_header(r, "Connection", "close");
  MHD_Result ok = MHD_queue_response(c, a.status, r);
  MHD_destroy_response(r);
  req.state = Request::State::kQueued;
  std::string().swap(a.body);
  // From now on the client has write_timeout_s to take the whole response.
  auto* conn = static_cast<Conn*>(
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT)->socket_context);
  if (conn)
    deadlines.set(conn->id, ConnectionDeadlines::Phase::kSending,
                  mono_now_s() + opt.write_timeout_s);
  return ok;
}

MHD_Result MetricsServer::Impl::on_request(MHD_Connection* c, const char* url, const char* method,
                                           std::size_t* upload_size, void** con_cls) {
  auto* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  auto* conn = info ? static_cast<Conn*>(info->socket_context) : nullptr;
  auto* holder = static_cast<RequestRef*>(*con_cls);
  if (!holder) {
    // The request line and headers are in. MHD closes a connection whose response is queued
    // now, before the request is complete (libmicrohttpd 0.9.75): right for these two only.
    holder = new RequestRef(std::make_shared<Request>());
    *con_cls = holder;
    Request& req = **holder;
    if (conn && conn->over_cap) {
      req.answer = text(503, "conndoctor: too many connections (limit " +
                                 std::to_string(opt.max_connections) + "); retry later\n");
      req.answer.headers.emplace_back("Retry-After", "1");
      req.answer.close = true;
      return queue(c, req);
    }
    // Read-only endpoints: anything but GET and HEAD is refused, its body unread.
    std::string_view m = method ? method : "";
    if (m != "GET" && m != "HEAD") {
      req.answer = text(405, "conndoctor: only GET and HEAD\n");
      req.answer.headers.emplace_back("Allow", "GET, HEAD");
      req.answer.close = true;
      return queue(c, req);
    }
    return MHD_YES;  // a body, if any, is still the client's to send (under its deadline)
  }
  Request& req = **holder;
  if (*upload_size) {  // a body nobody asked for: read and dropped, up to kMaxBody
    req.body_bytes += *upload_size;
    *upload_size = 0;
    return req.body_bytes > kMaxBody ? MHD_NO : MHD_YES;  // MHD_NO closes the connection
  }
  if (req.state == Request::State::kReady) return queue(c, req);
  if (req.state != Request::State::kNew) return MHD_YES;

  // The whole request is in: the server's turn, no deadline while it works.
  if (conn)
    deadlines.set(conn->id, ConnectionDeadlines::Phase::kHandling, ConnectionDeadlines::kNone);
  bool needs_worker = false;
  req.answer = route(c, url ? url : "", &needs_worker);
  if (!needs_worker) return queue(c, req);
  std::string path = url;
  RequestRef ref = *holder;
  req.state = Request::State::kWorking;
  bool queued = pool->try_enqueue([this, c, ref, path] {
    try {
      ref->answer = path == "/metrics" ? metrics() : report();
    } catch (...) {
      ref->answer = text(500, "conndoctor: internal error\n");
    }
    ref->state = Request::State::kReady;
    // MHD calls on_request again, on the loop thread, at its next MHD_run(). In external
    // loop mode MHD does not wake the loop for that itself: this eventfd does.
    MHD_resume_connection(c);
    wake();
  });
  if (!queued) {
    count(&Counters::busy);
    req.answer = text(503, "conndoctor: busy (" + std::to_string(opt.max_queued) +
                               " requests wait for a worker); retry later\n");
    req.answer.headers.emplace_back("Retry-After", "1");
    return queue(c, req);
  }
  MHD_suspend_connection(c);
  return MHD_YES;
}

void MetricsServer::Impl::on_connection(MHD_Connection* c, void** socket_context,
                                        MHD_ConnectionNotificationCode code) {
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    int fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD)->connect_fd;
    auto* conn = new Conn;
    ++open;
    conn->over_cap = open > opt.max_connections;
    double now = mono_now_s();
    conn->id = deadlines.add(
        fd, now + (conn->over_cap ? std::min(kOverCapDeadlineS, double(opt.read_timeout_s))
                                  : double(opt.read_timeout_s)));
    *socket_context = conn;
    std::lock_guard lk(mu);
    ++counts.connections;
    if (conn->over_cap) ++counts.over_cap;
    return;
  }
  auto* conn = static_cast<Conn*>(*socket_context);
  if (!conn) return;
  deadlines.remove(conn->id);
  --open;
  delete conn;
  *socket_context = nullptr;
}

void MetricsServer::Impl::on_completed(MHD_Connection* c, void** con_cls) {
  delete static_cast<RequestRef*>(*con_cls);
  *con_cls = nullptr;
  // Kept alive: the next request has keep_alive_timeout_s to arrive, whole. (A closing
  // connection is removed by its CLOSED notification right after.)
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  auto* conn = info ? static_cast<Conn*>(info->socket_context) : nullptr;
  if (conn)
    deadlines.set(conn->id, ConnectionDeadlines::Phase::kReceiving,
                  mono_now_s() + (stopping ? 0.0 : double(opt.keep_alive_timeout_s)));
}

// The event loop: MHD's epoll set and the stop eventfd in one epoll, woken at the earliest of
// MHD's own timeouts and the connections' deadlines.
bool MetricsServer::Impl::loop() {
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!info || !ep) return false;
  for (int fd : {info->epoll_fd, wake_fd.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  }
  // After a burst of connections (per-connection pools, responses built on the workers) the
  // freed memory stays in malloc's arenas; once the server has been idle for a second it is
  // handed back, so that RSS returns to its idle value (docs/benchmarks.md, serve).
  constexpr double kTrimAfterIdleS = 1.0;
  bool trim_pending = false;
  double idle_since = 0;
  for (;;) {
    double now = mono_now_s();
    if (open > 0) {
      trim_pending = true;
      idle_since = now;
    } else if (trim_pending && now - idle_since >= kTrimAfterIdleS) {
      malloc_trim(0);
      trim_pending = false;
    }
    if (!stopping) {
      std::lock_guard lk(mu);
      stopping = stop_requested;
      if (stopping) {
        MHD_quiesce_daemon(daemon);  // accept no more; the socket stays ours (listen_fd)
        deadlines.expire_receiving(now);
      }
    }
    // shutdown() wakes MHD's epoll on that socket: it reads EOF and closes the connection
    // (its CLOSED notification removes the deadline). The socket is still MHD's and open:
    // it is closed only after that notification, so this number cannot be someone else's.
    for (int fd : deadlines.take_expired(now)) {
      ::shutdown(fd, SHUT_RDWR);
      count(&Counters::deadline);
    }
    if (stopping && open == 0) return true;

    int timeout_ms = -1;
    MHD_UNSIGNED_LONG_LONG mhd_ms = 0;
    if (MHD_get_timeout(daemon, &mhd_ms) == MHD_YES)
      timeout_ms = int(std::min<MHD_UNSIGNED_LONG_LONG>(mhd_ms, 60'000));
    double next = deadlines.next_deadline_s();
    if (trim_pending && open == 0) next = std::min(next, idle_since + kTrimAfterIdleS);
    if (std::isfinite(next)) {
      int ms = int(std::ceil(std::max(0.0, next - now) * 1000));
      timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
    }
    epoll_event evs[4];
    int n = ::epoll_wait(ep.get(), evs, 4, timeout_ms);
    if (n < 0 && errno != EINTR) return false;
    for (int i = 0; i < n; ++i)
      if (evs[i].data.fd == wake_fd.get()) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wake_fd.get(), &v, sizeof v);
      }
    if (MHD_run(daemon) != MHD_YES) return false;
  }
}

namespace {

// The listening socket, made here rather than by MHD so that what is set on it is exactly
// this: SO_REUSEADDR for a quick restart, never SO_REUSEPORT (a second exporter would bind
// the same port and silently take half the scrapes); TCP_DEFER_ACCEPT, so that a connection
// that sends nothing is never accepted (it holds no fd and no connection slot); the backlog.
Result<UniqueFd> listen_socket(const ServeOptions& opt, uint16_t* bound_port) {
  const std::string where = "cannot listen on " + opt.listen.to_string();
  bool v6 = opt.listen.host.find(':') != std::string::npos;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(opt.listen.port);
    if (::inet_pton(AF_INET6, opt.listen.host.c_str(), &a->sin6_addr) != 1) return fail(where);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(opt.listen.port);
    if (::inet_pton(AF_INET, opt.listen.host.c_str(), &a->sin_addr) != 1) return fail(where);
    len = sizeof *a;
  }
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fail_errno(where);
  int one = 1, defer_s = opt.read_timeout_s;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail_errno(where);
  if (::listen(fd.get(), opt.listen_backlog) != 0) return fail_errno(where);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return fail_errno(where);
  *bound_port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

// MHD stops accepting at its own limit (connections then wait in the kernel's accept queue);
// the connections between max_connections and it are the ones answered 503.
std::size_t hard_connection_limit(std::size_t max_connections) {
  return max_connections + std::max<std::size_t>(16, max_connections / 8);
}

// Every connection is an fd: make sure the soft RLIMIT_NOFILE holds them all, raising it up
// to the hard limit when needed (this process only).
Result<void> ensure_fd_limit(std::size_t max_connections) {
  rlim_t need = rlim_t(hard_connection_limit(max_connections) + 64);
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return fail_errno("getrlimit(RLIMIT_NOFILE)");
  if (rl.rlim_cur >= need) return {};
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
    return fail("--max-connections " + std::to_string(max_connections) + " needs " +
                std::to_string(need) + " fds; RLIMIT_NOFILE allows " + std::to_string(rl.rlim_max));
  rl.rlim_cur = need;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return fail_errno("setrlimit(RLIMIT_NOFILE)");
  return {};
}

}  // namespace

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() = default;

MetricsServer::Counters MetricsServer::counters() const {
  std::lock_guard lk(impl_->mu);
  return impl_->counts;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::create(const ServeOptions& opt,
                                                             ScrapeCoordinator& coordinator) {
  auto impl = std::make_unique<Impl>(opt, coordinator);
  bool tls = !opt.tls_cert.empty();
  if (auto ok = check_tls_files(opt.tls_cert, opt.tls_key); !ok) return std::unexpected(ok.error());
  if (tls) {
    auto cert = read_file(opt.tls_cert, 1 << 20);
    if (!cert) return std::unexpected(cert.error());
    auto key = read_file(opt.tls_key, 1 << 20);
    if (!key) return std::unexpected(key.error());
    impl->tls_cert_pem = std::move(*cert);
    impl->tls_key_pem = std::move(*key);
  }
  if (auto ok = ensure_fd_limit(opt.max_connections); !ok) return std::unexpected(ok.error());
  uint16_t port = 0;
  auto fd = listen_socket(opt, &port);
  if (!fd) return std::unexpected(fd.error());
  impl->listen_fd = std::move(*fd);
  impl->wake_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!impl->wake_fd) return fail_errno("eventfd");

  Impl* self = impl.get();
  auto on_request = [](void* cls, MHD_Connection* c, const char* url, const char* method,
                       const char*, const char*, std::size_t* upload_size,
                       void** con_cls) -> MHD_Result {
    return static_cast<Impl*>(cls)->on_request(c, url, method, upload_size, con_cls);
  };
  auto on_completed = [](void* cls, MHD_Connection* c, void** con_cls, MHD_RequestTerminationCode) {
    static_cast<Impl*>(cls)->on_completed(c, con_cls);
  };
  auto on_connection = [](void* cls, MHD_Connection* c, void** socket_context,
                          MHD_ConnectionNotificationCode code) {
    static_cast<Impl*>(cls)->on_connection(c, socket_context, code);
  };
  // External event loop (ours, in run()) on epoll; MHD creates no thread. Suspend/resume:
  // workers answer /metrics and /report while the loop serves everyone else.
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  if (tls) flags |= MHD_USE_TLS;
  if (opt.listen.host.find(':') != std::string::npos) flags |= MHD_USE_IPv6;
  unsigned idle_s =
      unsigned(std::max({opt.read_timeout_s, opt.write_timeout_s, opt.keep_alive_timeout_s}));
  std::vector<MHD_OptionItem> ops = {
      {MHD_OPTION_LISTEN_SOCKET, impl->listen_fd.get(), nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, intptr_t(hard_connection_limit(opt.max_connections)), nullptr},
      // MHD's own timeout restarts with every byte: a backstop here, the deadlines decide.
      {MHD_OPTION_CONNECTION_TIMEOUT, intptr_t(idle_s), nullptr},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, intptr_t(kConnectionMemory), nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(+on_completed), self},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(+on_connection), self},
  };
  if (tls) {
    ops.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, impl->tls_cert_pem.data()});
    ops.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, impl->tls_key_pem.data()});
  }
  ops.push_back({MHD_OPTION_END, 0, nullptr});
  impl->daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, +on_request, self, MHD_OPTION_ARRAY,
                                  ops.data(), MHD_OPTION_END);
  if (!impl->daemon) {
    if (tls)
      return fail("cannot load the TLS certificate " + opt.tls_cert + " or key " + opt.tls_key +
                  " (PEM expected, key matching the certificate)");
    return fail("cannot start the HTTP server on " + opt.listen.to_string());
  }
  impl->pool = std::make_unique<BoundedTaskQueue>(opt.threads, opt.max_queued);

  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(impl)));
  server->port_ = port;
  server->tls_ = tls;
  return server;
}

bool MetricsServer::run() {
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->stop_requested || impl_->running) return true;
    impl_->running = true;
  }
  bool ok = impl_->loop();
  // Every connection is closed (or the loop failed): the workers have nothing left to resume.
  impl_->shutdown_daemon();
  return ok;
}

void MetricsServer::stop() {
  std::lock_guard lk(impl_->mu);
  if (impl_->stop_requested) return;
  impl_->stop_requested = true;
  impl_->wake();
}

}  // namespace cd
