// Opens the sources the options name, then collect -> analyse.
#include "diagnose/diagnose.h"

#include <memory>

#include "collect/sock_source.h"

namespace cd {

static Result<std::unique_ptr<SockSource>> open_sockets(const DiagnoseOptions& opt) {
  if (!opt.sock_diag_dump.empty()) return open_recorded_sock_source(opt.sock_diag_dump);
  auto live = open_netlink_sock_source();
  if (!live) return std::unexpected(live.error());
  if (opt.record_dump.empty()) return live;
  return open_recording_sock_source(std::move(*live), opt.record_dump);
}

Result<Diagnosis> diagnose(const DiagnoseOptions& opt, Clock& clock) {
  auto sockets = open_sockets(opt);
  if (!sockets) return std::unexpected(sockets.error());
  ProcFs proc(opt.proc_root);
  Sources src{proc, **sockets, clock};
  auto snap = collect_snapshot(src, opt.collect);
  if (!snap) return std::unexpected(snap.error());
  Diagnosis d{std::move(*snap), {}};
  d.analysis = analyse(d.snapshot);
  return d;
}

}  // namespace cd
