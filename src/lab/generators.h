// The bodies of the lab's worker processes: servers and clients that drive the kernel into
// one exhaustion each. Every loop is bounded by a count and by the worker's deadline.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lab/load.h"
#include "snapshot/net_types.h"
#include "util/i18n.h"

namespace cd {

using WorkerFn = std::function<int(WorkerLink&)>;

struct ServerConfig {
  enum class Mode {
    kCloseAfterPeer,     // reads until the client's FIN, then closes: the client closes first
    kCloseFirst,         // writes one line and closes at once: the server closes first
    kNeverClose,         // accepts, never closes: CLOSE_WAIT piles up after the peer's FIN
    kNeverAccept,        // listens and never calls accept(): the accept queue fills
    kAcceptUntilEmfile,  // accepts and holds every connection until accept() fails with EMFILE
  };
  Mode mode = Mode::kCloseAfterPeer;
  Endpoint listen;
  int backlog = 4096;
  uint32_t ready_after = 0;   // kNeverClose: ready once this many peers have closed
  uint32_t max_conns = 4000;  // connections held at most (kNeverClose, kAcceptUntilEmfile)
  double ready_timeout_s = 8;
};
WorkerFn server_worker(ServerConfig cfg);

struct ClientConfig {
  enum class Close {
    kClientFirst,  // close() right after connect(): the client sends the first FIN
    kServerFirst,  // read until the server's FIN, then close()
    kHold,         // keep every connection open until the lab stops the run
  };
  std::vector<Endpoint> destinations;  // round-robin
  Close close = Close::kClientFirst;
  uint32_t burst = 0;     // the first `burst` connects as fast as possible
  double rate_per_s = 0;  // then this pace; 0: stop connecting after the burst
  uint32_t max_attempts = 20000;
  uint32_t ready_after_successes = 0;  // ready once this many connects succeeded (0: never)
  bool ready_on_eaddrnotavail = false;
  double ready_timeout_s = 6;         // ready anyway after this long, saying what was missed
  std::vector<std::string> counters;  // e.g. "TcpExt.TWRecycled": report how much they rose
};
WorkerFn client_worker(ClientConfig cfg);

// Non-blocking connects at a steady pace towards a listener whose accept queue is full: their
// SYNs are dropped (ListenOverflows), so they stay in SYN_SENT.
struct SynConfig {
  Endpoint destination;
  double rate_per_s = 20;
  uint32_t max_sockets = 300;
  double stuck_after_s = 1.2;  // a connect unanswered this long counts as dropped
  uint32_t ready_stuck = 3;
  double ready_timeout_s = 6;
  std::string why = N_("the listener drops their SYNs");  // said in the ready line (_())
};
WorkerFn syn_worker(SynConfig cfg);

// A fixed number of connects that fail on purpose, each counted by the worker itself (the
// ground truth `trace` is checked against): ready once every one has its outcome, so that no
// connect is still in flight when the diagnosis and the trace read the counts.
// - non-blocking (blocking = false): the outcome comes from SO_ERROR once the socket is
//   writable; syn_count sets TCP_SYNCNT on each socket (SYN retries of this socket only: with
//   1, an unanswered connect gives up with ETIMEDOUT after 1 + 2 s), no sysctl is touched;
// - blocking: connect() returns the outcome itself (bounded by SO_SNDTIMEO 5 s).
struct ConnectFailConfig {
  Endpoint destination;
  uint32_t count = 100;
  double rate_per_s = 50;
  bool blocking = false;
  int syn_count = 0;  // TCP_SYNCNT; 0: the namespace's tcp_syn_retries
  double ready_timeout_s = 15;
  std::string why;  // said in the ready line (_()), marked with N_()
};
WorkerFn connect_fail_worker(ConnectFailConfig cfg);

// A process that leaks file descriptors at a steady pace (opens /dev/null and never closes it),
// as a forgotten close() in a request path does: ready once it holds `ready_at` fds, then keeps
// leaking until `stop_at` (kept below its soft limit, so the failure is the forecast's, not yet
// EMFILE).
struct FdLeakConfig {
  double rate_per_s = 200;
  uint32_t ready_at = 1100;
  uint32_t stop_at = 1900;
  double ready_timeout_s = 10;
};
WorkerFn fd_leak_worker(FdLeakConfig cfg);

// bind()s `count` TCP sockets to addr:0 and holds them without connecting (a bind-before-
// connect client stuck between the two calls, or one that leaks bound sockets).
WorkerFn bind_hold_worker(Endpoint addr, uint32_t count);

// A bind-before-connect client (nginx proxy_bind, HAProxy `source`, curl --interface): each
// connection bind()s a socket to source:0, then connects it to the next destination (round
// robin) and holds it, until bind() fails with EADDRINUSE; then `extra_failures` more binds,
// each counted (the ground truth the diagnosis and the trace are checked against), and one
// plain connect() without bind() to `plain_destination`, which must still succeed.
struct BindConnectConfig {
  Endpoint source;                     // port ignored: bind(source, 0)
  std::vector<Endpoint> destinations;  // round robin
  Endpoint plain_destination;
  uint32_t max_binds = 3000;
  uint32_t extra_failures = 19;  // after the first EADDRINUSE
  double ready_timeout_s = 10;
};
WorkerFn bind_connect_worker(BindConnectConfig cfg);

// unix-backlog: a server on the abstract unix stream socket @name with a small listen()
// backlog that never accepts, and a client that connects without blocking until connect()
// fails with EAGAIN (at most max_attempts connects; after the first EAGAIN it retries 10 times
// a second, holding every connection it made).
struct UnixBacklogConfig {
  std::string name;  // abstract name, without the leading NUL
  int backlog = 16;
  uint32_t max_attempts = 400;
  double ready_timeout_s = 6;
};
WorkerFn unix_backlog_server_worker(UnixBacklogConfig cfg);
WorkerFn unix_backlog_client_worker(UnixBacklogConfig cfg);

// Connects to `service`, then tries to listen on the local port that connect() picked: shows
// why a service port inside ip_local_port_range must be reserved.
WorkerFn port_steal_worker(Endpoint service);

}  // namespace cd
