// The subcommand table and the helpers subcommands share. Each subcommand lives in
// cmd_<name>.cpp: it adds its options to a CLI::App and returns the handler main runs.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "analyse/diagnosis.h"
#include "collect/collector.h"
#include "diagnose/diagnose.h"
#include "history/store.h"
#include "render/trace_report.h"
#include "trace/tracer.h"
#include "util/unique_fd.h"

namespace cd {

enum ExitCode { kExitOk = 0, kExitWarning = 1, kExitCritical = 2, kExitUnknown = 3 };
enum class ColorMode { kAuto, kAlways, kNever };

using Handler = std::function<int()>;

struct Command {
  std::string_view name;
  std::string_view description;
  Handler (*setup)(CLI::App& app);
};

const std::vector<Command>& commands();

Handler setup_check(CLI::App& app);
Handler setup_explain(CLI::App& app);
Handler setup_record(CLI::App& app);
Handler setup_lab(CLI::App& app);
Handler setup_rules(CLI::App& app);
Handler setup_serve(CLI::App& app);
Handler setup_trace(CLI::App& app);
Handler setup_watch(CLI::App& app);
Handler setup_history(CLI::App& app);
Handler setup_top(CLI::App& app);

// Shared by the handlers (cli/output.cpp).
int error_exit(const std::string& message);  // "conndoctor: message" on stderr; returns 3
int emit(const std::string& output);         // whole document to stdout; 0, or 3 on failure
bool use_color(ColorMode mode);              // auto: a terminal, no NO_COLOR, TERM != dumb
void add_color_option(CLI::App& app, ColorMode& mode);
void add_fd_scan_option(CLI::App& app, FdScan& scan);  // --fd-scan auto|bpf|procfs
// --netns-scan auto|one-pass|per-namespace (check --all-netns).
void add_netns_scan_option(CLI::App& app, NetnsScan& scan);
// --runtime-root DIR (repeatable, or a comma-separated list): container runtime state
// directories to find pods in, instead of the default ones (docs/kubernetes.md).
void add_runtime_root_option(CLI::App& app, std::vector<std::string>& roots);
// A number of seconds from `lo` to `hi`; "nan", "inf" and words are refused by name.
CLI::Validator seconds_between(double lo, double hi);
nlohmann::ordered_json host_json();  // hostname, kernel, generated_at, version
int exit_code_for(Status s);         // ok 0, warning 1, critical 2, unknown 3

// The one render step of `check` and `lab run`: the report as JSON (conndoctor/report/v1, then
// the members of `extra` in order, then "host") or as text (`preface`, the report, then
// `postscript`), written whole; returns the exit status of the analysis (or 3 when stdout fails).
struct ReportStyle {
  bool json = false;
  ColorMode color = ColorMode::kAuto;
  bool verbose = false;
};
int print_diagnosis(const Diagnosis& d, const ReportStyle& style,
                    const nlohmann::ordered_json& extra = nlohmann::ordered_json::object(),
                    const std::string& preface = {}, const std::string& postscript = {});

// The flight recorder (cmd_watch.cpp): what `watch` and `serve --history` store of a diagnosis
// (the report as `check --json` prints it, and its text without colour).
Sample history_sample(const Snapshot& snap, const Analysis& a);
// With --trace (watch, serve): each sample also stores what the tracer counted since the
// previous sample, merged into a copy of the diagnosis as `check --trace` merges it (the report's
// "trace" member and the findings' traced evidence). Without a tracer (it could not start:
// `error`), each sample says so in `missing`. Safe to call from any one thread at a time.
class TracedSampler {
 public:
  TracedSampler(std::shared_ptr<const Tracer> tracer, std::string error, uint32_t netns);
  Sample sample(const Snapshot& snap, const Analysis& a);

 private:
  static double monotonic_seconds();
  std::mutex mu_;
  std::shared_ptr<const Tracer> tracer_;
  std::string error_;
  TraceScope scope_;
  TraceResult last_;  // the maps at the previous sample
  double last_s_ = 0;
};
// --netns NAME|PID for a process that outlives the namespace's name (watch, top): opened once,
// before anything is written, and held for the process's life (the namespace outlives its name
// and its processes); the label names it in reports.
struct NetnsTarget {
  UniqueFd fd;
  std::string label;
};
Result<NetnsTarget> open_netns_target(const std::string& target);
// --history PATH --retention D --max-size S for watch and serve; validated by open_recorder.
struct RecorderArgs {
  std::string path;
  std::string retention = "7d";
  std::string max_size = "256MiB";
};
void add_recorder_options(CLI::App& app, RecorderArgs& r, bool required);
Result<std::unique_ptr<HistoryWriter>> open_recorder(const RecorderArgs& r);
// Records one diagnosis; logs one stderr line when recording starts failing and one when it
// works again (a full disk must not flood the log nor stop the daemon).
class SampleLog {
 public:
  void record(HistoryWriter& w, const Snapshot& snap, const Analysis& a, const char* who);
  void record(HistoryWriter& w, const Sample& sample, const char* who);
  uint64_t written = 0;

 private:
  bool failing_ = false;
};

}  // namespace cd
