// Reads the sysctls of the namespace (net.*) and host (fs.*) from <proc root>/sys.
#include "collect/sysctls.h"

#include <array>
#include <charconv>
#include <cstring>
#include <string_view>

#include "collect/proc_paths.h"
#include "collect/proc_text.h"

namespace cd {

namespace {

using IntField = std::optional<int64_t> Sysctls::*;

// When a file may legitimately be absent (ENOENT).
enum class Presence {
  kAlways,
  kNewerKernels,  // silently unknown on older kernels
  // Host-wide net sysctls registered only in the initial netns's table (ipv4_table, not
  // ipv4_net_table, in net/ipv4/sysctl_net_ipv4.c): absent inside any other namespace.
  kInitNetnsOnly,
};

struct IntSysctl {
  std::string_view rel;
  IntField field;
  Presence presence = Presence::kAlways;
};

// The single table of plain integer sysctls; the special formats follow it.
constexpr std::array<IntSysctl, 11> kIntSysctls = {{
    {"sys/net/ipv4/tcp_tw_reuse", &Sysctls::tcp_tw_reuse},
    // tcp_tw_reuse_delay appeared in 6.14 (before it the delay was a fixed 1 s).
    {"sys/net/ipv4/tcp_tw_reuse_delay", &Sysctls::tcp_tw_reuse_delay_ms, Presence::kNewerKernels},
    {"sys/net/ipv4/tcp_timestamps", &Sysctls::tcp_timestamps},
    {"sys/net/ipv4/tcp_max_tw_buckets", &Sysctls::tcp_max_tw_buckets},
    {"sys/net/ipv4/tcp_fin_timeout", &Sysctls::tcp_fin_timeout},
    {"sys/net/core/somaxconn", &Sysctls::somaxconn},
    {"sys/net/ipv4/tcp_max_syn_backlog", &Sysctls::tcp_max_syn_backlog},
    {"sys/net/ipv4/tcp_max_orphans", &Sysctls::tcp_max_orphans, Presence::kInitNetnsOnly},
    {"sys/net/ipv4/tcp_syncookies", &Sysctls::tcp_syncookies},
    {"sys/fs/file-max", &Sysctls::file_max},
    {"sys/fs/nr_open", &Sysctls::nr_open},
}};

constexpr std::string_view kPortRange = "sys/net/ipv4/ip_local_port_range";
constexpr std::string_view kReservedPorts = "sys/net/ipv4/ip_local_reserved_ports";
constexpr std::string_view kTcpMem = "sys/net/ipv4/tcp_mem";

// Conntrack sysctls read when nf_conntrack is loaded (count is per netns, max is global).
constexpr std::array<std::pair<std::string_view, IntField>, 3> kConntrackSysctls = {{
    {proc_paths::kConntrackCount, &Sysctls::nf_conntrack_count},
    {"sys/net/netfilter/nf_conntrack_max", &Sysctls::nf_conntrack_max},
    {"sys/net/netfilter/nf_conntrack_buckets", &Sysctls::nf_conntrack_buckets},
}};

constexpr std::string_view kConntrackPrefix = "nf_conntrack_";

// Reads a file and parses it (libstdc++ 12 has no std::expected::and_then yet).
template <typename Parse>
auto read_parsed(const ProcFs& proc, std::string_view rel, Parse&& parse)
    -> decltype(parse(std::string{})) {
  auto text = proc.read(rel);
  if (!text) return std::unexpected(text.error());
  return parse(*text);
}

// "sys/net/ipv4/tcp_tw_reuse" -> "net.ipv4.tcp_tw_reuse", the name sysctl(8) uses.
std::string sysctl_name(std::string_view rel) {
  if (rel.starts_with("sys/")) rel.remove_prefix(4);
  std::string s(rel);
  for (char& c : s)
    if (c == '/') c = '.';
  return s;
}

// "net.ipv4.tcp_tw_reuse: Permission denied" for a failed read, or the parse error itself
// (which already names the file).
std::string why(std::string_view rel, const Error& e, Presence presence = Presence::kAlways) {
  if (e.err == ENOENT && presence == Presence::kInitNetnsOnly)
    return sysctl_name(rel) +
           ": not visible in this network namespace (host-wide, shown only in the initial one)";
  if (e.err != 0) return sysctl_name(rel) + ": " + std::strerror(e.err);
  return e.message;
}

bool is_conntrack_timeout(std::string_view name) {
  return name.starts_with(kConntrackPrefix) &&
         name.find("timeout", kConntrackPrefix.size()) != std::string_view::npos;
}

std::vector<std::string> conntrack_timeout_names(const ProcFs& proc) {
  std::vector<std::string> out;
  auto names = proc.list(proc_paths::kNetfilterDir);
  if (!names) return out;
  for (auto& n : *names)
    if (is_conntrack_timeout(n)) out.push_back(std::move(n));
  return out;
}

}  // namespace

Result<std::array<int64_t, 3>> parse_tcp_mem(std::string_view text) {
  std::array<int64_t, 3> v{};
  std::size_t i = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (; i < 3; ++i) {
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    auto [q, ec] = std::from_chars(p, end, v[i]);
    if (ec != std::errc()) break;
    p = q;
  }
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n')) ++p;
  if (i != 3 || p != end)
    return fail("net.ipv4.tcp_mem: expected 3 page counts (min pressure max)");
  return v;
}

Result<Sysctls> read_sysctls(const ProcFs& proc, std::vector<std::string>& missing) {
  Sysctls s;
  // A file that cannot be read is named in `missing`; one that reads but does not parse
  // (err == 0: the parser's own message) is bad input, as everywhere in the collector.
  auto unknown = [&](std::string_view rel, const Error& e,
                     Presence presence = Presence::kAlways) -> std::optional<Error> {
    if (e.err == 0) return e;
    missing.push_back(why(rel, e, presence));
    return std::nullopt;
  };
  for (const IntSysctl& t : kIntSysctls) {
    auto v = proc.read_int(t.rel);
    if (v)
      s.*t.field = *v;
    else if (!(t.presence == Presence::kNewerKernels && v.error().err == ENOENT))
      if (auto bad = unknown(t.rel, v.error(), t.presence)) return std::unexpected(*bad);
  }

  auto range =
      read_parsed(proc, kPortRange, [](const std::string& text) { return parse_port_range(text); });
  if (range)
    s.ip_local_port_range = *range;
  else if (auto bad = unknown(kPortRange, range.error()))
    return std::unexpected(*bad);

  auto reserved = read_parsed(proc, kReservedPorts,
                              [](const std::string& text) { return parse_port_list(text); });
  if (reserved)
    s.ip_local_reserved_ports = std::move(*reserved);
  else if (auto bad = unknown(kReservedPorts, reserved.error()))
    return std::unexpected(*bad);

  auto mem =
      read_parsed(proc, kTcpMem, [](const std::string& text) { return parse_tcp_mem(text); });
  if (mem)
    s.tcp_mem = *mem;
  else if (auto bad = unknown(kTcpMem, mem.error(), Presence::kInitNetnsOnly))
    return std::unexpected(*bad);

  // nf_conntrack_count exists only while the module is loaded (in this netns's sysctl table).
  if (!proc.exists(proc_paths::kConntrackCount)) {
    missing.push_back("conntrack: nf_conntrack not loaded (no " +
                      proc.path(proc_paths::kConntrackCount) + ")");
    return s;
  }
  for (const auto& [rel, field] : kConntrackSysctls) {
    auto v = proc.read_int(rel);
    if (v)
      s.*field = *v;
    else if (auto bad = unknown(rel, v.error()))
      return std::unexpected(*bad);
  }
  for (const std::string& name : conntrack_timeout_names(proc)) {
    std::string rel = std::string(proc_paths::kNetfilterDir) + "/" + name;
    auto v = proc.read_int(rel);
    if (v)
      s.conntrack_timeouts[name.substr(kConntrackPrefix.size())] = *v;
    else if (auto bad = unknown(rel, v.error()))
      return std::unexpected(*bad);
  }
  return s;
}

std::vector<std::string> sysctl_files(const ProcFs& proc) {
  std::vector<std::string> out;
  for (const IntSysctl& t : kIntSysctls) out.emplace_back(t.rel);
  out.emplace_back(kPortRange);
  out.emplace_back(kReservedPorts);
  out.emplace_back(kTcpMem);
  for (const auto& c : kConntrackSysctls) out.emplace_back(c.first);
  for (const std::string& name : conntrack_timeout_names(proc))
    out.push_back(std::string(proc_paths::kNetfilterDir) + "/" + name);
  return out;
}

}  // namespace cd
