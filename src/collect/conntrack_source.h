// Where conntrack figures come from: ctnetlink (the table, streamed; per-CPU stats) and the
// nf_tables ruleset (SNAT port ranges), over a live NETLINK_NETFILTER socket or a recorded
// transcript of one (the fake used by tests and by `check --conntrack-dump`).
//
// Two layers: a NetfilterTransport answers a query with raw netlink messages (live, replayed,
// or recorded while live); ConntrackSource decodes them into entries, stats and NAT rules.
// Tests fake either layer. Collectors never print; entries are never kept in memory here.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "snapshot/conntrack_table.h"
#include "snapshot/net_types.h"
#include "util/error.h"

namespace cd {

// enum tcp_conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h).
enum class CtTcpState : uint8_t {
  kNone = 0,
  kSynSent,
  kSynRecv,
  kEstablished,
  kFinWait,
  kCloseWait,
  kLastAck,
  kTimeWait,
  kClose,
  kSynSent2,
};
inline constexpr int kCtTcpStates = 10;
std::string_view ct_tcp_state_name(uint8_t state);  // "ESTABLISHED", ...; "UNKNOWN"

// One decoded conntrack entry (struct nf_conn as ctnetlink dumps it).
struct CtEntry {
  uint8_t family = 0;                // AF_INET / AF_INET6
  uint8_t protocol = 0;              // IPPROTO_*
  std::optional<uint8_t> tcp_state;  // CtTcpState, TCP only
  Endpoint orig_src;                 // original direction: who started it, and to whom
  Endpoint orig_dst;
  Endpoint reply_src;  // reply direction: after NAT, reply_dst is the NAT IP and port
  Endpoint reply_dst;
  uint32_t status = 0;                // IPS_* bits
  std::optional<uint32_t> timeout_s;  // seconds left before the entry expires

  bool source_nat() const;  // IPS_SRC_NAT, or the reply goes to another address than the source
};

class ConntrackSink {
 public:
  virtual ~ConntrackSink() = default;
  virtual void on_entry(const CtEntry& e) = 0;
};

// The questions a transport answers. The value is the request's nlmsg_type
// (subsystem << 8 | message), as it appears in transcripts.
enum class NfQuery : uint16_t {
  kTable = 0x0101,        // NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET + NLM_F_DUMP
  kCpuStats = 0x0104,     // IPCTNL_MSG_CT_GET_STATS_CPU + NLM_F_DUMP, one message per CPU
  kGlobalStats = 0x0105,  // IPCTNL_MSG_CT_GET_STATS: entries and max of the namespace
  kNatRules = 0x0a07,     // NFNL_SUBSYS_NFTABLES, NFT_MSG_GETRULE + NLM_F_DUMP
};

// Called once per reply message (terminators excluded), with the whole message.
using NlMessageFn = std::function<Result<void>(std::span<const uint8_t> message)>;

struct QueryResult {
  bool interrupted = false;  // NLM_F_DUMP_INTR seen: the table changed while it was dumped
};

class NetfilterTransport {
 public:
  virtual ~NetfilterTransport() = default;
  // Sends the query and passes every reply message to `on_msg` until the dump ends. A kernel
  // refusal (NLMSG_ERROR) is an Error whose `err` is the errno (EPERM without CAP_NET_ADMIN);
  // an error returned by `on_msg` stops the query and is returned.
  virtual Result<QueryResult> query(NfQuery q, const NlMessageFn& on_msg) = 0;
};

// NETLINK_NETFILTER over libmnl in the caller's network namespace (the socket stays in the
// namespace it was opened in).
Result<std::unique_ptr<NetfilterTransport>> open_netlink_transport();

// Replays a transcript written by the recording transport (format: conntrack_source.cpp and
// docs/recorded-dumps.md). The n-th query of a kind replays the n-th recorded answer to it
// (the last one once they run out); a query never recorded answers nothing.
Result<std::unique_ptr<NetfilterTransport>> open_recorded_transport(const std::string& path);
Result<std::unique_ptr<NetfilterTransport>> recorded_transport_from_bytes(
    std::vector<uint8_t> bytes, std::string name);

// Passes a transport through and appends the transcript of every query to `path`.
Result<std::unique_ptr<NetfilterTransport>> open_recording_transport(
    std::unique_ptr<NetfilterTransport> inner, const std::string& path);

// Per-CPU statistics summed, by /proc/net/stat/nf_conntrack's column names ("found",
// "insert_failed", "drop", "early_drop", "icmp_error", "clashres", "chainlength", ...), so that
// rules read the same keys whichever way the figures came.
struct CtCpuStats {
  std::map<std::string, int64_t> sums;
  int cpus = 0;
};

struct CtGlobalStats {
  std::optional<int64_t> entries;  // nf_conntrack_count of the namespace
  std::optional<int64_t> max;      // nf_conntrack_max (global)
};

class ConntrackSource {
 public:
  virtual ~ConntrackSource() = default;
  // Streams every entry of the namespace's table to the sink.
  virtual Result<QueryResult> dump(ConntrackSink& sink) = 0;
  virtual Result<CtCpuStats> cpu_stats() = 0;
  virtual Result<CtGlobalStats> global_stats() = 0;
  // Source-NAT rules of the namespace's nf_tables ruleset (nft and iptables-nft).
  virtual Result<std::vector<NatRule>> nat_rules() = 0;
};

// The decoding source over any transport.
std::unique_ptr<ConntrackSource> make_conntrack_source(std::unique_ptr<NetfilterTransport> t);
// Live: make_conntrack_source(open_netlink_transport()).
Result<std::unique_ptr<ConntrackSource>> open_netlink_conntrack_source();

}  // namespace cd
