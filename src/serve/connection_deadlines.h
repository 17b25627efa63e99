// The deadlines of the exporter's open connections, kept by the HTTP event loop (one thread,
// no lock). A deadline bounds a whole phase, however the client spaces its bytes: receiving a
// request (line, headers, TLS handshake), or sending a response. While the server itself works
// on a request there is none. take_expired() hands back the sockets whose deadline passed; the
// loop shuts them down, and the HTTP library then closes them.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace cd {

class ConnectionDeadlines {
 public:
  using Id = uint64_t;
  enum class Phase { kReceiving, kHandling, kSending };
  static constexpr double kNone = std::numeric_limits<double>::infinity();

  Id add(int fd, double deadline_s);  // a new connection, receiving its first request
  void set(Id id, Phase phase, double deadline_s);
  void remove(Id id);  // the connection closed

  // The sockets whose deadline is <= now_s; each is handed back once (its deadline is cleared).
  std::vector<int> take_expired(double now_s);
  // Every connection still receiving a request (or idle between two) expires now: on stop,
  // those are closed, and requests being handled or sent are finished.
  void expire_receiving(double now_s);
  double next_deadline_s() const;  // kNone when there is none
  std::size_t size() const { return conns_.size(); }

 private:
  struct Conn {
    int fd;
    Phase phase;
    double deadline_s;
  };
  void reschedule(Id id, Conn& c, double deadline_s);

  Id next_id_ = 1;
  std::map<Id, Conn> conns_;
  std::set<std::pair<double, Id>> by_deadline_;  // finite deadlines only
};

}  // namespace cd
