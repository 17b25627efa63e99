// The rule table: name, one-line description (marked for the catalogue, translated where it is
// shown), function; `conndoctor rules` lists it and analyse() runs it in this order (which is
// also the order of equally severe findings).
#include "analyse/rules.h"

#include "util/i18n.h"

namespace cd {

const std::vector<Rule>& all_rules() {
  static const std::vector<Rule> kRules = {
      {"ephemeral_ports",
       N_("ports per destination tuple (range - reserved - bound) and the host-wide pool: "
          "utilisation, churn, forecast"),
       rule_ephemeral_ports},
      // Right after the port pools: a tuple full of unanswered connects is left out of those and
      // reported here, with the path and the destination as the cause.
      {"unanswered_connects",
       N_("SYN_SENT piling up per destination with no SYN-ACK: TCPSynRetrans, TCPAbortOnTimeout"),
       rule_unanswered_connects},
      {"time_wait", N_("TIME_WAIT vs tcp_max_tw_buckets, overflows, server-side TIME_WAIT"),
       rule_time_wait},
      {"file_descriptors", N_("each process vs its own soft RLIMIT_NOFILE; the system vs file-max"),
       rule_file_descriptors},
      {"close_wait", N_("CLOSE_WAIT piling up in a process: it never calls close()"),
       rule_close_wait},
      {"accept_queue",
       N_("TCP and unix listeners at their accept-queue limit, ListenOverflows/ListenDrops"),
       rule_accept_queue},
      // Before conntrack: an exhausted SNAT pool is the specific cause of the insert_failed
      // drops that rule reports, so its verdict should lead among equally severe findings.
      {"snat_ports",
       N_("SNAT ports per (NAT IP, destination, port, protocol) vs the NAT rule's port range"),
       rule_snat_ports},
      {"conntrack", N_("conntrack count vs max; drop, early_drop, insert_failed rates"),
       rule_conntrack},
      {"conntrack_table",
       N_("what fills conntrack: closed and idle entries, a hot destination, unevictable ASSURED "
          "entries, long hash chains"),
       rule_conntrack_table},
      {"conntrack_dns",
       N_("DNS through conntrack: insert_failed while UDP/53 flows are tracked (the 5 s lookup "
          "delay), UDP/53 entries never answered, per resolver"),
       rule_conntrack_dns},
      {"orphans", N_("orphaned sockets vs tcp_max_orphans, TCPAbortOnMemory"), rule_orphans},
      {"tcp_memory", N_("TCP buffer pages vs tcp_mem, TCPMemoryPressures"), rule_tcp_memory},
      {"tcp_memory_cgroup",
       N_("socket memory of each memory cgroup vs its own limit: v1 memory.kmem.tcp.*, v2 "
          "memory.stat sock vs memory.max, failed charges between the readings"),
       rule_tcp_memory_cgroup},
      {"config",
       N_("service ports inside the ephemeral range, tcp_max_tw_buckets cut down, SYN retries "
          "next to tcp_tw_reuse"),
       rule_config},
  };
  return kRules;
}

}  // namespace cd
