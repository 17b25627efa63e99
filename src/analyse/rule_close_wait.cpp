// Rule close_wait: CLOSE_WAIT piling up means the application read EOF and never called
// close(); per process when attribution ran, else per local endpoint.
#include <fmt/format.h>

#include "analyse/evidence.h"
#include "analyse/remediation.h"
#include "analyse/rules.h"
#include "util/format.h"
#include "util/i18n.h"

namespace cd {

namespace {

constexpr uint64_t kWarn = 50;
constexpr uint64_t kCrit = 500;
constexpr std::size_t kMaxFindings = 5;
constexpr const char* kCause = N_("the application never calls close() after the peer closed");

std::optional<Severity> level(uint64_t n) {
  if (n >= kCrit) return Severity::kCritical;
  if (n >= kWarn) return Severity::kWarning;
  return std::nullopt;
}

Finding base(Severity sev) {
  Finding f;
  f.resource = Resource::kCloseWait;
  f.severity = sev;
  f.layer = Layer::kApplication;
  return f;
}

void per_process(const Reading& r, std::vector<Finding>& found) {
  for (const ProcessInfo& p : r.processes) {
    if (!p.sockets) continue;
    auto sev = level(p.sockets->close_wait);
    if (!sev) continue;
    Finding f = base(*sev);
    f.id = "close_wait.process";
    f.title = _f("{0}: {1} sockets in CLOSE_WAIT: {2}", process_title(p),
                 with_commas(p.sockets->close_wait), _(kCause));
    Evidence& ev = f.evidence;
    ev["pid"] = p.pid;
    ev["comm"] = p.comm;
    put_identity(ev, &p);
    ev["close_wait"] = p.sockets->close_wait;
    ev["open_fds"] = or_null(p.open_fds);
    ev["fd_soft_limit"] = or_null(p.fd_soft_limit);
    Evidence listening = Evidence::array();
    for (const Endpoint& e : p.sockets->listening) listening.push_back(e.to_string());
    ev["listening"] = std::move(listening);
    f.remediation = {step_close_after_peer_close(p.pid)};
    found.push_back(std::move(f));
  }
}

// Without attribution: the kernel still tells where the CLOSE_WAIT sockets are.
void per_group(const Reading& r, std::vector<Finding>& found) {
  for (const CloseWaitGroup& g : r.sockets.close_wait) {
    auto sev = level(g.count);
    if (!sev) continue;
    Finding f = base(*sev);
    f.id = "close_wait.endpoint";
    Evidence& ev = f.evidence;
    if (g.server_side) {
      f.title = _f("{0} sockets in CLOSE_WAIT on the service {1}: {2}", with_commas(g.count),
                   g.local.to_string(), _(kCause));
      ev["destination"] = g.local.to_string();
    } else {
      f.title = _f("{0} client sockets from {1} in CLOSE_WAIT: {2}", with_commas(g.count),
                   g.local.addr.to_string(), _(kCause));
      ev["local_address"] = g.local.addr.to_string();
    }
    ev["server_side"] = g.server_side;
    ev["close_wait"] = g.count;
    Evidence peers = Evidence::array();
    for (const Endpoint& e : g.sample_peers) peers.push_back(e.to_string());
    ev["sample_peers"] = std::move(peers);
    ev["pid"] = nullptr;
    ev["comm"] = nullptr;
    put_identity(ev, nullptr);
    f.remediation = {step_close_after_peer_close(std::nullopt)};
    found.push_back(std::move(f));
  }
}

}  // namespace

void rule_close_wait(const RuleInput& in, std::vector<Finding>& out) {
  const Reading& r = in.snap.now();
  std::vector<Finding> found;
  per_process(r, found);
  // Attribution may be off or blind to the holder (another user's process without root):
  // then the endpoints are the best evidence there is.
  if (found.empty()) per_group(r, found);
  std::stable_sort(found.begin(), found.end(), [](const Finding& a, const Finding& b) {
    return a.evidence["close_wait"].get<uint64_t>() > b.evidence["close_wait"].get<uint64_t>();
  });
  append_capped(found, out, kMaxFindings, "close_wait");
}

}  // namespace cd
