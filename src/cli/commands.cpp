// The table of subcommands, in the order `conndoctor --help` lists them.
#include "cli/commands.h"

namespace cd {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"check", "diagnose this host's (or a namespace's) connection resources", setup_check},
      {"explain", "map an error message or errno to the resource and what to check", setup_explain},
      {"lab", "reproduce an exhaustion for real in a throwaway network namespace", setup_lab},
      {"record", "save this host's state (sockets and /proc figures) for offline analysis",
       setup_record},
      {"rules", "list the diagnosis rules", setup_rules},
      {"serve", "export the diagnosis to Prometheus (/metrics) and as JSON (/report)", setup_serve},
  };
  return table;
}

void add_color_option(CLI::App& app, ColorMode& mode) {
  static const std::map<std::string, ColorMode> names = {
      {"auto", ColorMode::kAuto}, {"always", ColorMode::kAlways}, {"never", ColorMode::kNever}};
  app.add_option("--color", mode, "colour: auto (a terminal without NO_COLOR), always, never")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case));
}

void add_fd_scan_option(CLI::App& app, FdScan& scan) {
  static const std::map<std::string, FdScan> names = {
      {"auto", FdScan::kAuto}, {"bpf", FdScan::kBpf}, {"procfs", FdScan::kProcfs}};
  app.add_option("--fd-scan", scan,
                 "how attribution reads every process's fds: auto (BPF from 5000 sockets, when "
                 "permitted), bpf (task_file iterator), procfs (/proc/PID/fd links)")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case));
}

}  // namespace cd
