// Helpers the rules share to write evidence and titles the same way: unknown numbers as null,
// rates that need two readings, process lookup (numbers for people: util/format.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "analyse/finding.h"
#include "snapshot/snapshot.h"

namespace cd {

// An optional number as JSON: the value, or null when unknown (never 0).
template <typename T>
Evidence or_null(const std::optional<T>& v) {
  return v ? Evidence(*v) : Evidence(nullptr);
}

// Rounded for evidence (ratios to 4 decimals, rates to 2); NaN and infinities become null.
Evidence rounded(double v, int decimals);
Evidence rounded(const std::optional<double>& v, int decimals);

// Puts a per-second rate under `key`; when it is unknown, null plus a "rate_note" saying why
// ("rate unknown (one reading)"), so that a reader never mistakes it for 0.
void put_rate(Evidence& ev, std::string_view key, const Snapshot& snap,
              const std::optional<double>& rate);

// Puts "pid" and "comm" of a process (null when unknown), then its container identity.
void put_process(Evidence& ev, const Reading& r, std::optional<int32_t> pid);

// Puts "pod", "pod_namespace", "container" (the name; the short id where the runtime's state
// could not be read) and "container_id": all null when `p` is unknown or not in a container.
void put_identity(Evidence& ev, const ProcessInfo* p);

// "pid 123 (java)", and " in shop/checkout-7f9c (container app)" for a process in a container.
std::string process_title(const ProcessInfo& p);

// The process behind a destination tuple: "pid"/"comm" of the process holding most of its live
// sockets, with "owner_inferred", "confidence" and "owner_share_of_live_sockets" (TIME_WAIT
// belongs to no process); all null when unknown.
void put_tuple_owner(Evidence& ev, const Reading& r, const TupleKey& key);
// The process that holds most live sockets of the tuple, if attribution saw one.
std::optional<int32_t> tuple_owner_pid(const Reading& r, const TupleKey& key);
// runtime, runtime_version, runtime_detected_by: how a plan chose its first setting (null when
// no runtime was recognised).
void put_runtime(Evidence& ev, const RuntimeInfo* rt);

const ProcessInfo* find_process(const Reading& r, int32_t pid);

// The process owning a listening socket, from the attribution (nullopt when unknown).
std::optional<int32_t> listener_pid(const Reading& r, const Listener& l);
std::optional<int32_t> listener_pid(const Reading& r, const UnixListener& l);

// a / b, or nullopt when either is unknown or b <= 0.
std::optional<double> ratio(const std::optional<int64_t>& a, const std::optional<int64_t>& b);

// Keeps the `n` most severe findings of one kind (stable: rule order within a severity) and
// appends them; how many were left out (if any) goes into the first kept finding's evidence as
// "others_<what>", so that a busy host does not flood the report.
void append_capped(std::vector<Finding>& kept, std::vector<Finding>& out, std::size_t n,
                   std::string_view what);

}  // namespace cd
