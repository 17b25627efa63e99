// The per-namespace summary of `check --all-netns`, as text and JSON. Reads only the results.
#include "render/netns_summary.h"

#include <fmt/format.h>

#include <algorithm>

#include "render/report.h"
#include "util/i18n.h"
#include "util/text_style.h"

namespace cd {

namespace {

std::string verdict(const NetnsResult& r) {
  if (!r.diagnosis) return _f("could not diagnose: {0}", r.error);
  return r.diagnosis->analysis.summary;
}

std::string label(const NetnsResult& r) {
  std::string out = r.ns.label();
  if (r.ns.current) out += _(" (current)");
  if (r.ns.pod) out += " " + r.ns.pod->label();
  return out;
}

nlohmann::ordered_json str_or_null(const std::optional<std::string>& v) {
  return v && !v->empty() ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

nlohmann::ordered_json netns_summary_json(const std::vector<NetnsResult>& results,
                                          const std::vector<std::string>& missing) {
  using json = nlohmann::ordered_json;
  json doc;
  doc["schema"] = kNetnsSummarySchema;
  const Status overall = overall_status(results);
  doc["status"] = std::string(to_string(overall));
  std::size_t bad = 0;
  for (const NetnsResult& r : results) bad += status_of(r) != Status::kOk;
  doc["summary"] = fmt::format("{} network namespaces, {} not ok", results.size(), bad);
  json list = json::array();
  for (const NetnsResult& r : results) {
    json n;
    n["netns"] = r.ns.label();
    n["inode"] = r.ns.inode;
    n["name"] = r.ns.name.empty() ? json(nullptr) : json(r.ns.name);
    n["pid"] = r.ns.pid > 0 ? json(r.ns.pid) : json(nullptr);
    n["comm"] = r.ns.pid > 0 ? json(r.ns.comm) : json(nullptr);
    n["current"] = r.ns.current;
    // The pod whose sandbox holds the namespace (null outside containers).
    const ContainerIdentity* c = r.ns.pod ? &*r.ns.pod : nullptr;
    n["pod"] = c ? str_or_null(c->pod) : json(nullptr);
    n["pod_namespace"] = c ? str_or_null(c->pod_namespace) : json(nullptr);
    n["container"] = c ? json(c->container_name()) : json(nullptr);
    n["container_id"] = c ? json(c->container_id) : json(nullptr);
    n["status"] = std::string(to_string(status_of(r)));
    n["summary"] = verdict(r);
    n["report"] =
        r.diagnosis ? report_json(r.diagnosis->snapshot, r.diagnosis->analysis) : json(nullptr);
    n["error"] = r.diagnosis ? json(nullptr) : json(r.error);
    list.push_back(std::move(n));
  }
  doc["namespaces"] = std::move(list);
  doc["missing"] = missing;
  return doc;
}

std::string netns_summary_text(const std::vector<NetnsResult>& results, bool color,
                               const std::vector<std::string>& missing) {
  const Status overall = overall_status(results);
  std::size_t bad = 0;
  for (const NetnsResult& r : results) bad += status_of(r) != Status::kOk;
  std::string out = paint(fmt::format("{}: {} network namespaces, {} not ok", to_string(overall),
                                      results.size(), bad),
                          tone_of(overall), color) +
                    "\n";
  std::size_t width = 9;
  for (const NetnsResult& r : results) width = std::max(width, label(r).size());
  width = std::min<std::size_t>(width, 72);
  out += fmt::format("{:<9} {:<{}} {}\n", "STATUS", "NAMESPACE", width, "VERDICT");
  for (const NetnsResult& r : results) {
    const Status s = status_of(r);
    const std::string st = fmt::format("{:<9}", to_string(s));
    out += paint(st, tone_of(s), color) + " " + fmt::format("{:<{}}", label(r), width) + " " +
           verdict(r) + "\n";
  }
  if (!missing.empty()) {
    out += "\n" + paint("missing:", Tone::kBold, color) + "\n";
    for (const std::string& m : missing) out += "  - " + m + "\n";
  }
  return out;
}

}  // namespace cd
