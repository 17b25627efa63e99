// `conndoctor record --out DIR`: save this namespace's sockets and /proc figures so that
// `check` can analyse them elsewhere, later (offline snapshot analysis).
#include <fmt/format.h>

#include <memory>
#include <string>

#include "cli/commands.h"
#include "collect/conntrack_source.h"
#include "collect/proc_fs.h"
#include "collect/record.h"
#include "collect/sock_source.h"
#include "util/i18n.h"

namespace cd {

Handler setup_record(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  app.add_option("-o,--out", *dir, _("directory to write (DIR/proc must not exist yet)"))
      ->required();
  return [dir] {
    auto live = open_netlink_sock_source();
    if (!live) return error_exit(live.error().message);
    // Without NETLINK_NETFILTER (a kernel without nfnetlink) there is no conntrack to record.
    auto conntrack = open_netlink_transport();
    const bool ct = conntrack.has_value();
    ProcFs proc("/proc");
    if (auto r = record_state(proc, **live, ct ? std::move(*conntrack) : nullptr, *dir); !r)
      return error_exit(r.error().message);
    return emit(
        fmt::format("recorded to {0}\nreplay: conndoctor check --interval 0 --proc-root {0}/proc "
                    "--sock-diag-dump {0}/sock_diag.bin{1}\n",
                    *dir, ct ? fmt::format(" --conntrack-dump {}/conntrack.bin", *dir) : ""));
  };
}

}  // namespace cd
