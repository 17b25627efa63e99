// The HTTP side of `conndoctor serve`: /metrics (Prometheus text), /report (the check --json
// document), /healthz, on cpp-httplib with a bounded worker pool, timeouts for slow clients,
// a request size limit, GET/HEAD only, optional auth and TLS. Collections go through a
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
  std::size_t threads = 8;         // workers answering requests
  std::size_t max_queued = 64;     // accepted connections waiting for a worker
  int listen_backlog = 128;        // kernel accept queue beyond that
  int read_timeout_s = 3;          // a client that sends nothing for this long is dropped
  int write_timeout_s = 5;         // a client that reads nothing for this long is dropped
  int keep_alive_timeout_s = 5;    // an idle kept-alive connection holds a worker this long
  int keep_alive_max = 20;         // requests per connection
  std::size_t max_payload = 4096;  // request bodies (none expected: read-only endpoints)
  std::optional<AuthConfig> auth;  // /metrics and /report need it; /healthz never does
  std::string tls_cert, tls_key;   // both or neither
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
  // Serves until stop(); returns false when the accept loop failed.
  bool run();
  // Stops accepting, lets the workers finish the connections they hold, returns at once.
  // Safe from any thread, more than once.
  void stop();

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  bool tls_ = false;
};

}  // namespace cd
