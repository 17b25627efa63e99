// Whole-phase deadlines of the exporter's connections (see connection_deadlines.h).
#include "serve/connection_deadlines.h"

#include <cmath>

namespace cd {

ConnectionDeadlines::Id ConnectionDeadlines::add(int fd, double deadline_s) {
  Id id = next_id_++;
  Conn& c = conns_[id] = Conn{fd, Phase::kReceiving, kNone};
  reschedule(id, c, deadline_s);
  return id;
}

void ConnectionDeadlines::reschedule(Id id, Conn& c, double deadline_s) {
  if (std::isfinite(c.deadline_s)) by_deadline_.erase({c.deadline_s, id});
  c.deadline_s = deadline_s;
  if (std::isfinite(deadline_s)) by_deadline_.insert({deadline_s, id});
}

void ConnectionDeadlines::set(Id id, Phase phase, double deadline_s) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  it->second.phase = phase;
  reschedule(id, it->second, deadline_s);
}

void ConnectionDeadlines::remove(Id id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  reschedule(id, it->second, kNone);
  conns_.erase(it);
}

std::vector<int> ConnectionDeadlines::take_expired(double now_s) {
  std::vector<int> fds;
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now_s) {
    Id id = by_deadline_.begin()->second;
    Conn& c = conns_.at(id);
    fds.push_back(c.fd);
    reschedule(id, c, kNone);
  }
  return fds;
}

void ConnectionDeadlines::expire_receiving(double now_s) {
  for (auto& [id, c] : conns_)
    if (c.phase == Phase::kReceiving) reschedule(id, c, now_s);
}

double ConnectionDeadlines::next_deadline_s() const {
  return by_deadline_.empty() ? kNone : by_deadline_.begin()->first;
}

}  // namespace cd
