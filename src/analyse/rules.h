// The rule table: one rule per resource, each in its own rule_<resource>.cpp. A rule reads
// the snapshot (and the derived port analysis) and appends findings; it never reads the system.
#pragma once

#include <string_view>
#include <vector>

#include "analyse/finding.h"
#include "analyse/port_pool.h"
#include "snapshot/snapshot.h"

namespace cd {

struct RuleInput {
  const Snapshot& snap;
  const PortAnalysis& ports;
};

using RuleFn = void (*)(const RuleInput& in, std::vector<Finding>& out);

struct Rule {
  std::string_view name;
  std::string_view description;
  RuleFn fn;
};

const std::vector<Rule>& all_rules();

// Declared here, defined in rule_<name>.cpp.
void rule_ephemeral_ports(const RuleInput& in, std::vector<Finding>& out);
void rule_time_wait(const RuleInput& in, std::vector<Finding>& out);
void rule_file_descriptors(const RuleInput& in, std::vector<Finding>& out);
void rule_close_wait(const RuleInput& in, std::vector<Finding>& out);
void rule_accept_queue(const RuleInput& in, std::vector<Finding>& out);
void rule_conntrack(const RuleInput& in, std::vector<Finding>& out);
void rule_orphans(const RuleInput& in, std::vector<Finding>& out);
void rule_tcp_memory(const RuleInput& in, std::vector<Finding>& out);
void rule_tcp_memory_cgroup(const RuleInput& in, std::vector<Finding>& out);
void rule_config(const RuleInput& in, std::vector<Finding>& out);
void rule_snat_ports(const RuleInput& in, std::vector<Finding>& out);
void rule_conntrack_table(const RuleInput& in, std::vector<Finding>& out);
void rule_conntrack_dns(const RuleInput& in, std::vector<Finding>& out);
void rule_unanswered_connects(const RuleInput& in, std::vector<Finding>& out);
// Part of rule_accept_queue (rule_accept_queue_unix.cpp): the AF_UNIX listeners.
void accept_queue_unix(const RuleInput& in, std::vector<Finding>& out);

}  // namespace cd
