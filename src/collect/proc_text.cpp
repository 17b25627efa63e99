// Parsers for procfs text files: by field name, with an Error naming the file on bad input.
#include "collect/proc_text.h"

#include <charconv>
#include <limits>

namespace cd {

namespace {

// Splits at any run of spaces/tabs; no allocation beyond the vector.
void split_fields(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
}

// Calls fn(line, line_number) for every line that is not blank.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  int number = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) fn(line, number);
  }
}

std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string q = "'";
  for (char c : s.substr(0, kMax)) q += c == '\t' ? ' ' : (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > kMax) q += "...";
  return q + "'";
}

// Kernel counters are printed as unsigned long (snmp_seq_show_mib / netstat_seq_show) but a
// few fields are signed (Tcp MaxConn is -1). Values of 2^63 and above wrap to negative, which
// a rate treats as a counter reset rather than failing the whole file.
std::optional<int64_t> to_int(std::string_view s, int base = 10) {
  if (s.empty()) return std::nullopt;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (s.front() == '-') {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(b, e, v, base);
    if (ec != std::errc() || p != e) return std::nullopt;
    return v;
  }
  uint64_t u = 0;
  auto [p, ec] = std::from_chars(b, e, u, base);
  if (ec != std::errc() || p != e) return std::nullopt;
  return static_cast<int64_t>(u);
}

std::optional<uint16_t> to_port(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v > 65535) return std::nullopt;
  return uint16_t(v);
}

std::string_view trim(std::string_view s) {
  std::size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return {};
  std::size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

}  // namespace

Result<std::map<std::string, int64_t>> parse_snmp_pairs(std::string_view text,
                                                        std::string_view source) {
  std::map<std::string, int64_t> out;
  std::vector<std::string_view> header;
  std::vector<std::string_view> values;
  std::string_view pending_section;  // section whose header line awaits its value line
  std::optional<Error> error;
  const std::string src(source);

  for_each_line(text, [&](std::string_view line, int number) {
    if (error) return;
    std::size_t colon = line.find(':');
    std::string_view section =
        colon == std::string_view::npos ? std::string_view{} : line.substr(0, colon);
    if (section.empty() || section.find_first_of(" \t") != std::string_view::npos) {
      error = Error::msg(src + ": line " + std::to_string(number) + " has no 'Section:' prefix");
      return;
    }
    std::string_view rest = line.substr(colon + 1);
    if (pending_section.empty()) {
      split_fields(rest, header);
      if (header.empty()) {
        error = Error::msg(src + ": '" + std::string(section) + ":' header line has no names");
        return;
      }
      pending_section = section;
      return;
    }
    if (section != pending_section) {
      error = Error::msg(src + ": '" + std::string(pending_section) +
                         ":' header line is followed by '" + std::string(section) +
                         ":', not its value line");
      return;
    }
    split_fields(rest, values);
    if (values.size() != header.size()) {
      error = Error::msg(src + ": '" + std::string(section) + ":' value line has " +
                         std::to_string(values.size()) + " fields, header has " +
                         std::to_string(header.size()));
      return;
    }
    std::string key(section);
    key += '.';
    const std::size_t prefix = key.size();
    for (std::size_t i = 0; i < header.size(); ++i) {
      auto v = to_int(values[i]);
      if (!v) {
        error = Error::msg(src + ": '" + std::string(section) + ":' field " + quote(header[i]) +
                           " has a non-numeric value " + quote(values[i]));
        return;
      }
      key.resize(prefix);
      key += header[i];
      // A section may appear more than once (netstat repeats none today, but the format
      // allows it): a later value of the same name wins.
      out.insert_or_assign(key, *v);
    }
    pending_section = {};
  });

  if (error) return std::unexpected(*error);
  if (!pending_section.empty())
    return fail(src + ": '" + std::string(pending_section) + ":' header line has no value line");
  if (out.empty()) return fail(src + ": no 'Section:' header and value lines");
  return out;
}

Result<SockStat> parse_sockstat(std::string_view text) {
  static constexpr std::string_view kSrc = "/proc/net/sockstat";
  SockStat st;
  bool tcp_seen = false;
  std::vector<std::string_view> f;
  std::optional<Error> error;

  for_each_line(text, [&](std::string_view line, int number) {
    if (error) return;
    split_fields(line, f);
    if (f.empty() || f[0].empty() || f[0].back() != ':') {
      error = Error::msg(std::string(kSrc) + ": line " + std::to_string(number) +
                         " has no 'LABEL:' prefix");
      return;
    }
    std::string_view label = f[0].substr(0, f[0].size() - 1);
    if ((f.size() - 1) % 2 != 0) {
      error = Error::msg(std::string(kSrc) + ": '" + std::string(label) +
                         ":' line has an odd number of name/value fields");
      return;
    }
    // sockstat6 lines (TCP6:, UDP6:) and protocols we do not use are ignored by label.
    for (std::size_t i = 1; i + 1 < f.size(); i += 2) {
      auto v = to_int(f[i + 1]);
      if (!v) {
        error = Error::msg(std::string(kSrc) + ": '" + std::string(label) + ":' field " +
                           quote(f[i]) + " has a non-numeric value " + quote(f[i + 1]));
        return;
      }
      std::string_view name = f[i];
      if (label == "sockets") {
        if (name == "used") st.sockets_used = v;
      } else if (label == "TCP") {
        if (name == "inuse")
          st.tcp_inuse = v;
        else if (name == "orphan")
          st.tcp_orphan = v;
        else if (name == "tw")
          st.tcp_tw = v;
        else if (name == "alloc")
          st.tcp_alloc = v;
        else if (name == "mem")
          st.tcp_mem_pages = v;
      } else if (label == "UDP") {
        if (name == "inuse")
          st.udp_inuse = v;
        else if (name == "mem")
          st.udp_mem_pages = v;
      }
    }
    if (label == "TCP") tcp_seen = true;
  });

  if (error) return std::unexpected(*error);
  if (!tcp_seen) return fail(std::string(kSrc) + ": no 'TCP:' line");
  return st;
}

Result<FileNr> parse_file_nr(std::string_view text) {
  std::vector<std::string_view> f;
  split_fields(trim(text), f);
  if (f.size() != 3)
    return fail("/proc/sys/fs/file-nr: expected 3 fields (allocated unused max), found " +
                std::to_string(f.size()));
  FileNr nr;
  nr.allocated = to_int(f[0]);
  auto unused = to_int(f[1]);
  nr.max = to_int(f[2]);
  if (!nr.allocated || !unused || !nr.max)
    return fail("/proc/sys/fs/file-nr: non-numeric field in " + quote(trim(text)));
  return nr;
}

Result<std::map<std::string, int64_t>> parse_conntrack_stat(std::string_view text) {
  static constexpr std::string_view kSrc = "/proc/net/stat/nf_conntrack";
  std::vector<std::string> names;
  std::vector<uint64_t> sums;
  std::vector<std::string_view> f;
  std::size_t entries_col = std::string_view::npos;
  std::size_t cpu_lines = 0;
  std::optional<Error> error;

  for_each_line(text, [&](std::string_view line, int number) {
    if (error) return;
    split_fields(line, f);
    if (names.empty()) {
      for (std::string_view n : f) {
        for (char c : n) {
          bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_';
          if (!ok) {
            error = Error::msg(std::string(kSrc) + ": header name " + quote(n) +
                               " is not an identifier");
            return;
          }
        }
        if (n == "entries") entries_col = names.size();
        names.emplace_back(n);
      }
      sums.assign(names.size(), 0);
      return;
    }
    if (f.size() != names.size()) {
      error = Error::msg(std::string(kSrc) + ": line " + std::to_string(number) + " has " +
                         std::to_string(f.size()) + " fields, header has " +
                         std::to_string(names.size()));
      return;
    }
    for (std::size_t i = 0; i < f.size(); ++i) {
      auto v = to_int(f[i], 16);
      if (!v || *v < 0) {
        error = Error::msg(std::string(kSrc) + ": line " + std::to_string(number) + " field " +
                           quote(names[i]) + " is not hex: " + quote(f[i]));
        return;
      }
      // "entries" is the table's count, printed again on every CPU line
      // (ct_cpu_seq_show() prints nf_conntrack_count() each time): a gauge, not a per-CPU sum.
      if (i == entries_col)
        sums[i] = std::max<uint64_t>(sums[i], uint64_t(*v));
      else
        sums[i] += uint64_t(*v);  // unsigned: cannot overflow into UB on hostile input
    }
    ++cpu_lines;
  });

  if (error) return std::unexpected(*error);
  if (names.empty()) return fail(std::string(kSrc) + ": empty (no header line)");
  if (cpu_lines == 0) return fail(std::string(kSrc) + ": header but no per-CPU lines");
  std::map<std::string, int64_t> out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    uint64_t v = std::min<uint64_t>(sums[i], uint64_t(std::numeric_limits<int64_t>::max()));
    out.insert_or_assign(names[i], int64_t(v));
  }
  return out;
}

Result<NofileLimit> parse_limits_nofile(std::string_view text) {
  static constexpr std::string_view kSrc = "/proc/PID/limits";
  static constexpr std::string_view kName = "Max open files";
  std::optional<std::string_view> line;
  for_each_line(text, [&](std::string_view l, int) {
    if (!line && l.starts_with(kName)) line = l;
  });
  if (!line) return fail(std::string(kSrc) + ": no 'Max open files' line");

  std::vector<std::string_view> f;
  split_fields(line->substr(kName.size()), f);
  if (f.size() < 2)
    return fail(std::string(kSrc) + ": 'Max open files' line has " + std::to_string(f.size()) +
                " values, expected soft and hard");
  // "unlimited" is RLIM_INFINITY (proc_pid_limits() prints the word, not the number).
  auto limit = [](std::string_view s, std::optional<uint64_t>& out) {
    if (s == "unlimited") return true;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return false;
    out = v;
    return true;
  };
  NofileLimit lim;
  if (!limit(f[0], lim.soft) || !limit(f[1], lim.hard))
    return fail(std::string(kSrc) + ": 'Max open files' limits " + quote(f[0]) + " " + quote(f[1]) +
                " are not numbers");
  return lim;
}

Result<PortRange> parse_port_range(std::string_view text) {
  static constexpr std::string_view kSrc = "net.ipv4.ip_local_port_range";
  std::vector<std::string_view> f;
  split_fields(trim(text), f);
  if (f.size() != 2)
    return fail(std::string(kSrc) + ": expected 2 ports, found " + std::to_string(f.size()) +
                " fields in " + quote(trim(text)));
  auto lo = to_port(f[0]);
  auto hi = to_port(f[1]);
  if (!lo || !hi) return fail(std::string(kSrc) + ": not a port number in " + quote(trim(text)));
  if (*lo > *hi)
    return fail(std::string(kSrc) + ": low port above high port in " + quote(trim(text)));
  return PortRange{*lo, *hi};
}

uint32_t parse_socket_link(std::string_view link) {
  static constexpr std::string_view kPrefix = "socket:[";
  if (link.size() < kPrefix.size() + 2 || !link.starts_with(kPrefix) || link.back() != ']')
    return 0;
  uint32_t inode = 0;
  const char* first = link.data() + kPrefix.size();
  const char* last = link.data() + link.size() - 1;
  auto [p, ec] = std::from_chars(first, last, inode);
  return ec == std::errc() && p == last ? inode : 0;
}

Result<std::vector<PortRange>> parse_port_list(std::string_view text) {
  static constexpr std::string_view kSrc = "net.ipv4.ip_local_reserved_ports";
  std::vector<PortRange> out;
  std::string_view s = trim(text);
  // proc_do_large_bitmap() prints "a,b-c,...", and an empty line when nothing is reserved.
  while (!s.empty()) {
    std::size_t comma = s.find(',');
    std::string_view item = trim(s.substr(0, comma));
    s.remove_prefix(comma == std::string_view::npos ? s.size() : comma + 1);
    std::size_t dash = item.find('-');
    auto lo = to_port(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : to_port(item.substr(dash + 1));
    if (!lo || !hi) return fail(std::string(kSrc) + ": bad port or range " + quote(item));
    if (*lo > *hi) return fail(std::string(kSrc) + ": range " + quote(item) + " runs backwards");
    out.push_back(PortRange{*lo, *hi});
  }
  return out;
}

}  // namespace cd
