// Parsers for the text files of procfs. All parse by field name, never by column position,
// and return an Error naming the file and what is wrong on malformed input. Fuzzed (fuzz/).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/snapshot.h"
#include "util/error.h"

namespace cd {

// /proc/net/snmp, /proc/net/netstat: pairs of "Section: names..." / "Section: values..."
// lines, into "Section.Name" -> value. `source` names the file in errors.
Result<std::map<std::string, int64_t>> parse_snmp_pairs(std::string_view text,
                                                        std::string_view source);

// /proc/net/sockstat (and sockstat6 lines are ignored).
Result<SockStat> parse_sockstat(std::string_view text);

// /proc/sys/fs/file-nr: "allocated unused max".
Result<FileNr> parse_file_nr(std::string_view text);

// /proc/net/stat/nf_conntrack: header line of names, one line of hex values per CPU; summed
// per name. "entries" is a global gauge repeated on each line: taken once, not summed.
Result<std::map<std::string, int64_t>> parse_conntrack_stat(std::string_view text);

// /proc/PID/limits: the "Max open files" soft and hard limit (nullopt = unlimited).
struct NofileLimit {
  std::optional<uint64_t> soft;
  std::optional<uint64_t> hard;
};
Result<NofileLimit> parse_limits_nofile(std::string_view text);

// A /proc/PID/fd link target: "socket:[12345]" -> 12345; anything else (files, pipes, anon
// inodes, a malformed number) -> 0, which is never a socket inode.
uint32_t parse_socket_link(std::string_view link);

// "32768\t60999" -> range; "8080,9000-9010" -> ranges (reserved ports).
Result<PortRange> parse_port_range(std::string_view text);
Result<std::vector<PortRange>> parse_port_list(std::string_view text);

}  // namespace cd
