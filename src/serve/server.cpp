// The HTTP server of `conndoctor serve` on cpp-httplib 0.11 (see server.h).
#include "serve/server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <mutex>

#include "render/exposition.h"
#include "render/report.h"
#include "serve/bounded_task_queue.h"
#include "serve/trace_metrics.h"
#include "snapshot/net_types.h"
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

// httplib 0.11 as Debian compiles it listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG is
// baked into libcpp-httplib.so): 50 clients connecting at once would see SYNs dropped and
// retried a second later. listen() on a socket that already listens only updates its
// sk_max_ack_backlog (__inet_listen_sk(), net/ipv4/af_inet.c), so the backlog is raised after
// bind through the protected listening socket.
template <class Base>
class TunedServer : public Base {
 public:
  using Base::Base;
  int listen_fd() const { return int(this->svr_sock_); }
};

constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

struct MetricsServer::Impl {
  ServeOptions opt;
  ScrapeCoordinator& coordinator;
  std::unique_ptr<httplib::Server> http;
  int listen_fd = -1;
  std::mutex stop_mu;
  bool stop_requested = false;
  bool run_finished = false;
  bool accept_loop_ran = false;  // httplib closes the listening socket when its loop ends

  Impl(const ServeOptions& o, ScrapeCoordinator& c) : opt(o), coordinator(c) {}

  TraceMetrics trace_metrics;  // which series serve --trace admitted (cardinality cap)

  void routes();
  void metrics(httplib::Response& res);
  void report(httplib::Response& res);
};

void MetricsServer::Impl::metrics(httplib::Response& res) {
  auto served = coordinator.get();
  if (!served) {
    res.status = 503;
    res.set_content("conndoctor: " + served.error().message + "\n", "text/plain");
    return;
  }
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
  res.set_content(out.str(), kMetricsType);
}

void MetricsServer::Impl::report(httplib::Response& res) {
  auto served = coordinator.get();
  if (!served || !served->result->diagnosis) {
    res.status = 503;
    std::string why = !served ? served.error().message : served->result->error;
    res.set_content("conndoctor: " + why + "\n", "text/plain");
    return;
  }
  const Diagnosis& d = *served->result->diagnosis;
  auto doc = report_json(d.snapshot, d.analysis);
  if (opt.report_host) doc["host"] = opt.report_host();
  // Process names are not guaranteed UTF-8: replace bad bytes rather than fail the request.
  res.set_content(doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n",
                  "application/json");
}

void MetricsServer::Impl::routes() {
  httplib::Server& s = *http;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Read-only endpoints: anything but GET and HEAD is refused before it reaches a handler.
    if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      res.set_content("conndoctor: only GET and HEAD\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    // /healthz stays open so that liveness probes need no secret; it tells nothing.
    if (opt.auth && req.path != "/healthz" &&
        !authorized(*opt.auth, req.get_header_value("Authorization"))) {
      res.status = 401;
      res.set_header("WWW-Authenticate", auth_challenge(*opt.auth));
      res.set_content("conndoctor: unauthorized\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { metrics(res); });
  s.Get("/report", [this](const httplib::Request&, httplib::Response& res) { report(res); });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("conndoctor serve: /metrics (Prometheus), /report (JSON), /healthz\n",
                    "text/plain");
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty() && res.status == 404)
      res.set_content("conndoctor: not found; try /metrics, /report or /healthz\n", "text/plain");
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content("conndoctor: internal error\n", "text/plain");
  });
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  if (!impl_) return;
  stop();
  // A server that never ran its accept loop still owns the bound socket.
  if (!impl_->accept_loop_ran && impl_->listen_fd >= 0) ::close(impl_->listen_fd);
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::create(const ServeOptions& opt,
                                                             ScrapeCoordinator& coordinator) {
  auto impl = std::make_unique<Impl>(opt, coordinator);
  bool tls = !opt.tls_cert.empty();
  if (auto ok = check_tls_files(opt.tls_cert, opt.tls_key); !ok) return std::unexpected(ok.error());
  if (tls) {
    auto s = std::make_unique<TunedServer<httplib::SSLServer>>(opt.tls_cert.c_str(),
                                                               opt.tls_key.c_str());
    if (!s->is_valid())
      return fail("cannot load the TLS certificate " + opt.tls_cert + " or key " + opt.tls_key +
                  " (PEM expected, key matching the certificate)");
    impl->http = std::move(s);
  } else {
    impl->http = std::make_unique<TunedServer<httplib::Server>>();
  }
  httplib::Server& s = *impl->http;
  std::size_t threads = opt.threads, queued = opt.max_queued;
  s.new_task_queue = [threads, queued] { return new BoundedTaskQueue(threads, queued); };
  s.set_read_timeout(opt.read_timeout_s, 0);
  s.set_write_timeout(opt.write_timeout_s, 0);
  s.set_keep_alive_timeout(opt.keep_alive_timeout_s);
  s.set_keep_alive_max_count(std::size_t(opt.keep_alive_max));
  s.set_payload_max_length(opt.max_payload);
  s.set_address_family(opt.listen.host.find(':') != std::string::npos ? AF_INET6 : AF_INET);
  // httplib's default sets SO_REUSEPORT, which lets a second exporter bind the same port and
  // silently take half the scrapes. SO_REUSEADDR alone still allows a quick restart.
  // TCP_DEFER_ACCEPT: a client that connects and sends nothing is not handed to a worker (the
  // kernel completes the accept only when data arrives or the period ends), so a flood of
  // empty connections does not occupy the pool.
  int defer_s = opt.read_timeout_s;
  s.set_socket_options([defer_s](int sock) {
    int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(sock, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
  });
  // httplib writes the headers and the body separately; with Nagle on, the body waits for the
  // client's delayed ACK of the headers (~40 ms on Linux) on every kept-alive request.
  s.set_tcp_nodelay(true);
  impl->routes();

  errno = 0;
  int port = opt.listen.port;
  bool bound = port ? s.bind_to_port(opt.listen.host, port)
                    : (port = s.bind_to_any_port(opt.listen.host)) > 0;
  if (!bound) {
    int e = errno;
    return e ? fail_errno("cannot listen on " + opt.listen.to_string(), e)
             : fail("cannot listen on " + opt.listen.to_string());
  }
  int fd = tls ? static_cast<TunedServer<httplib::SSLServer>&>(s).listen_fd()
               : static_cast<TunedServer<httplib::Server>&>(s).listen_fd();
  if (::listen(fd, opt.listen_backlog) != 0)
    return fail_errno("cannot set the listen backlog on " + opt.listen.to_string());
  impl->listen_fd = fd;

  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(impl)));
  server->port_ = uint16_t(port);
  server->tls_ = tls;
  return server;
}

bool MetricsServer::run() {
  {
    std::lock_guard lk(impl_->stop_mu);
    if (impl_->stop_requested) {
      impl_->run_finished = true;
      return true;
    }
    impl_->accept_loop_ran = true;
  }
  bool ok = impl_->http->listen_after_bind();
  std::lock_guard lk(impl_->stop_mu);
  impl_->run_finished = true;
  return ok || impl_->stop_requested;
}

void MetricsServer::stop() {
  std::lock_guard lk(impl_->stop_mu);
  if (impl_->stop_requested) return;
  impl_->stop_requested = true;
  // httplib's own stop() does nothing until its accept loop has set is_running_, so a signal
  // that arrives just before run() would be lost. shutdown() on the listening socket works at
  // any time after bind: accept() fails at once (inet_csk_listen_stop()), the loop ends, and
  // the worker pool finishes the connections it holds. Once run() has returned, httplib has
  // closed the socket and its number may belong to someone else: leave it alone.
  if (!impl_->run_finished && impl_->listen_fd >= 0) ::shutdown(impl_->listen_fd, SHUT_RDWR);
}

}  // namespace cd
