// Opens the sources the options name, then collect -> analyse.
#include "diagnose/diagnose.h"

#include <memory>

#include "collect/conntrack_source.h"
#include "collect/sock_source.h"

namespace cd {

static Result<std::unique_ptr<SockSource>> open_sockets(const DiagnoseOptions& opt) {
  if (!opt.sock_diag_dump.empty()) return open_recorded_sock_source(opt.sock_diag_dump);
  auto live = open_netlink_sock_source();
  if (!live) return std::unexpected(live.error());
  if (opt.record_dump.empty()) return live;
  return open_recording_sock_source(std::move(*live), opt.record_dump);
}

bool replays(const DiagnoseOptions& opt) {
  return opt.proc_root != "/proc" || !opt.sock_diag_dump.empty();
}

// Live ctnetlink only when the rest is live too: a recorded /proc or socket dump describes
// another moment (or machine) than this host's conntrack table.
static Result<std::unique_ptr<ConntrackSource>> open_conntrack(const DiagnoseOptions& opt) {
  if (!opt.conntrack_dump.empty()) {
    auto t = open_recorded_transport(opt.conntrack_dump);
    if (!t) return std::unexpected(t.error());
    return make_conntrack_source(std::move(*t));
  }
  if (replays(opt)) {
    if (!opt.record_conntrack_dump.empty())
      return fail(
          "--record-conntrack-dump records this host's live conntrack table; with a recorded "
          "/proc or socket dump there is none to record");
    return std::unique_ptr<ConntrackSource>();
  }
  auto t = open_netlink_transport();
  if (!t) return std::unexpected(t.error());
  if (!opt.record_conntrack_dump.empty()) {
    t = open_recording_transport(std::move(*t), opt.record_conntrack_dump);
    if (!t) return std::unexpected(t.error());
  }
  return make_conntrack_source(std::move(*t));
}

std::unique_ptr<FdTableSource> open_fd_tables(const DiagnoseOptions& opt) {
  if (replays(opt) || !opt.collect.attribution) return nullptr;
  return open_bpf_fd_table_source();
}

Result<Diagnosis> diagnose(const DiagnoseOptions& opt, Clock& clock) {
  auto fd_tables = open_fd_tables(opt);
  return diagnose(opt, clock, fd_tables.get());
}

Result<Diagnosis> diagnose(const DiagnoseOptions& opt, Clock& clock, FdTableSource* fd_tables) {
  auto sockets = open_sockets(opt);
  if (!sockets) return std::unexpected(sockets.error());
  auto conntrack = open_conntrack(opt);
  if (!conntrack) return std::unexpected(conntrack.error());
  ProcFs proc(opt.proc_root);
  Sources src{proc, **sockets, clock, conntrack->get(), fd_tables};
  // A recording is one reading: reading it twice would report every rate as a measured 0.
  CollectOptions collect = opt.collect;
  if (replays(opt)) collect.interval_s = 0;
  auto snap = collect_snapshot(src, collect);
  if (!snap) return std::unexpected(snap.error());
  Diagnosis d{std::move(*snap), {}};
  d.analysis = analyse(d.snapshot);
  return d;
}

}  // namespace cd
