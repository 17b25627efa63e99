// The table of subcommands, in the order `conndoctor --help` lists them.
#include "cli/commands.h"
#include "util/i18n.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <cctype>
#include <utility>

namespace cd {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"check", N_("diagnose this host's (or a namespace's) connection resources"), setup_check},
      {"explain", N_("map an error message or errno to the resource and what to check"),
       setup_explain},
      {"lab", N_("reproduce an exhaustion for real in a throwaway network namespace"), setup_lab},
      {"record", N_("save this host's state (sockets and /proc figures) for offline analysis"),
       setup_record},
      {"rules", N_("list the diagnosis rules"), setup_rules},
      {"serve", N_("export the diagnosis to Prometheus (/metrics) and as JSON (/report)"),
       setup_serve},
      {"trace",
       N_("count failed connects, EMFILE, churn and drops in the kernel, with who and where"),
       setup_trace},
      {"watch",
       N_("record a diagnosis every few seconds into a history database (flight recorder)"),
       setup_watch},
      {"history", N_("the incidents a history database recorded, a past report, an HTML report"),
       setup_history},
      {"top",
       N_("a live view in the terminal: verdict, hottest tuples, fd limits, queues, failures"),
       setup_top},
  };
  return table;
}

namespace {

// An option whose value is one of a few words: "--fd-scan: 'nope' is not one of auto, bpf,
// procfs" on a bad one (CLI11's own transformer message lists the enum's numbers too).
template <typename E>
void add_choice_option(CLI::App& app, const std::string& name, E& out,
                       std::vector<std::pair<std::string, E>> choices,
                       const std::string& description) {
  std::string names;
  for (const auto& [word, value] : choices) names += (names.empty() ? "" : ", ") + word;
  app.add_option_function<std::string>(
         name,
         [&out, choices](const std::string& v) {
           for (const auto& [word, value] : choices)
             if (word == v) out = value;
         },
         description)
      ->transform(CLI::Validator(
          [choices, names](std::string& v) -> std::string {
            for (auto& c : v) c = char(std::tolower(static_cast<unsigned char>(c)));
            for (const auto& [word, value] : choices)
              if (word == v) return {};
            return "'" + v + "' is not one of " + names;
          },
          "WORD"));
}

}  // namespace

void add_color_option(CLI::App& app, ColorMode& mode) {
  add_choice_option(
      app, "--color", mode,
      {{"auto", ColorMode::kAuto}, {"always", ColorMode::kAlways}, {"never", ColorMode::kNever}},
      _("colour: auto (a terminal without NO_COLOR), always, never"));
}

CLI::Validator seconds_between(double lo, double hi) {
  const std::string range = fmt::format("from {} to {}", lo, hi);
  return CLI::Validator(
      [lo, hi, range](std::string& v) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double d = std::strtod(v.c_str(), &end);
        if (v.empty() || end != v.c_str() + v.size() || errno == ERANGE || !std::isfinite(d) ||
            d < lo || d > hi)
          return "'" + v + "' is not a number of seconds " + range;
        return {};
      },
      "SECONDS");
}

void add_fd_scan_option(CLI::App& app, FdScan& scan) {
  add_choice_option(
      app, "--fd-scan", scan,
      {{"auto", FdScan::kAuto}, {"bpf", FdScan::kBpf}, {"procfs", FdScan::kProcfs}},
      _("how attribution reads every process's fds: auto (BPF from 5000 TCP sockets "
        "in sockstat, when permitted), bpf (task_file iterator), procfs (/proc/PID/fd links)"));
}

void add_netns_scan_option(CLI::App& app, NetnsScan& scan) {
  add_choice_option(
      app, "--netns-scan", scan,
      {{"auto", NetnsScan::kAuto},
       {"one-pass", NetnsScan::kOnePass},
       {"per-namespace", NetnsScan::kPerNamespace}},
      _("how --all-netns reads the sockets: auto (one-pass from 3 namespaces on, where BPF can "
        "run), one-pass (one BPF walk of the TCP hashes every namespace shares), per-namespace "
        "(one sock_diag dump each)"));
}

void add_runtime_root_option(CLI::App& app, std::vector<std::string>& roots) {
  app.add_option("--runtime-root", roots,
                 _("container runtime state directory holding <container-id>/config.json or "
                   "<container-id>/userdata/config.json (repeatable or comma-separated); replaces "
                   "the defaults (containerd, k3s, CRI-O, podman)"))
      ->delimiter(',')
      ->check(CLI::ExistingDirectory);
}

}  // namespace cd
