// The HTTP side of `conndoctor serve`: /metrics (Prometheus text), /report (the check --json
// document), /healthz, on libmicrohttpd. One event loop (epoll) holds every connection; a
// bounded worker pool answers the requests that need a collection. Slow and hostile clients
// cannot stall it: a deadline bounds each whole request and each whole response (not each
// read), open connections are capped (503 past the cap), and so are requests waiting for a
// worker (503). GET/HEAD only, optional auth and TLS (GnuTLS). Collections go through a
// ScrapeCoordinator, so no scrape ever starts a second collection.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "render/metrics.h"
#include "serve/auth.h"
#include "serve/scrape_coordinator.h"
#include "snapshot/trace_result.h"
#include "util/error.h"

namespace cd {

struct ListenAddress {
  std::string host;  // an IP literal: "127.0.0.1", "::1", "0.0.0.0", "::"
  uint16_t port = 0;
  bool is_loopback() const;
  std::string to_string() const;  // "127.0.0.1:9877", "[::1]:9877"
};

// "ADDR:PORT" or "[V6ADDR]:PORT" with an IP literal (no names: what is listened on must be
// exactly what was asked for). Listening on every interface needs "0.0.0.0:PORT" or "[::]:PORT".
Result<ListenAddress> parse_listen_address(std::string_view text);

inline constexpr uint16_t kDefaultServePort = 9877;

struct ServeOptions {
  ListenAddress listen{"127.0.0.1", kDefaultServePort};
  std::size_t threads = 8;            // workers answering /metrics and /report
  std::size_t max_queued = 512;       // such requests waiting for a worker; past it: 503
  std::size_t max_connections = 512;  // open connections served; past it: 503, then closed
  int listen_backlog = 128;           // kernel accept queue
  int read_timeout_s = 3;             // a whole request (TLS handshake included) arrives by then
  int write_timeout_s = 5;            // a whole response is taken by the client by then
  int keep_alive_timeout_s = 5;       // a kept-alive connection's next request arrives by then
  std::optional<AuthConfig> auth;     // /metrics and /report need it; /healthz never does
  std::string tls_cert, tls_key;      // both or neither
  MetricsOptions metrics;
  // Added to /report as "host", as `check --json` does (cli/ supplies host_json()).
  std::function<nlohmann::ordered_json()> report_host;
  // serve --trace: the tracer's counts now (cli/ keeps it loaded); empty: not tracing. An
  // error exports conndoctor_trace_up 0 and no trace counters.
  std::function<Result<TraceResult>()> trace;
};

// Checks what can be checked before binding: TLS files both given, readable, key not readable
// by every user. One-line Error.
Result<void> check_tls_files(const std::string& cert, const std::string& key);

class MetricsServer {
 public:
  // Binds the listening socket (so "address in use" is an error here, not later). The
  // coordinator must outlive the server.
  static Result<std::unique_ptr<MetricsServer>> create(const ServeOptions& opt,
                                                       ScrapeCoordinator& coordinator);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const { return port_; }  // the bound port (useful with port 0)
  bool tls() const { return tls_; }
  // Runs the event loop until stop(); returns false when the loop failed.
  bool run();
  // Stops accepting and closes the connections that wait for a request; requests being
  // answered are finished (each bounded by its deadline), then run() returns. Returns at once.
  // Safe from any thread, more than once, before run() too.
  void stop();

  // Counters of the connection limits, for tests and logs.
  struct Counters {
    uint64_t connections = 0;  // accepted
    uint64_t over_cap = 0;     // answered 503 (or closed) past max_connections
    uint64_t busy = 0;         // answered 503: the workers' queue was full
    uint64_t deadline = 0;     // closed by a request or response deadline
  };
  Counters counters() const;

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  bool tls_ = false;
};

}  // namespace cd
