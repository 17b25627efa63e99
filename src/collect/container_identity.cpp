// Container identity from /proc/PID/cgroup and the runtime's state on disk (see the header).
#include "collect/container_identity.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "util/file.h"

namespace cd {

namespace {

constexpr std::size_t kIdLength = 64;
constexpr std::size_t kMaxConfigBytes = 4u << 20;  // config.json is ~10-50 KiB

bool is_hex_id(std::string_view s) {
  return s.size() == kIdLength && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool strip_suffix(std::string_view& s, std::string_view suffix) {
  if (!s.ends_with(suffix)) return false;
  s.remove_suffix(suffix.size());
  return true;
}

// One path component: "cri-containerd-ID.scope", "crio-ID.scope", "crio-ID",
// "docker-ID.scope", "libpod-ID.scope", or the bare ID (the cgroupfs drivers of containerd
// and docker). conmon's own "crio-conmon-ID" / "libpod-conmon-ID" are not the container.
std::optional<std::pair<std::string_view, std::string_view>> container_component(
    std::string_view c) {
  strip_suffix(c, ".scope");
  static constexpr std::pair<std::string_view, std::string_view> kPrefixes[] = {
      {"cri-containerd-", "containerd"},
      {"crio-", "cri-o"},
      {"docker-", "docker"},
      {"libpod-", "podman"},
  };
  for (const auto& [prefix, runtime] : kPrefixes) {
    if (c.starts_with(prefix) && is_hex_id(c.substr(prefix.size())))
      return std::pair{runtime, c.substr(prefix.size())};
  }
  if (is_hex_id(c)) return std::pair{std::string_view{}, c};
  return std::nullopt;
}

// "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid_with_underscores>.slice" (systemd).
std::string pod_uid_of(std::string_view c) {
  std::string_view uid;
  if (strip_suffix(c, ".slice")) {
    auto at = c.rfind("-pod");
    if (at == std::string_view::npos || !c.starts_with("kubepods")) return {};
    uid = c.substr(at + 4);
  } else if (c.starts_with("pod")) {
    uid = c.substr(3);
  }
  if (uid.size() < 32 || uid.size() > 36) return {};
  std::string out(uid);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

std::optional<std::string> annotation(const nlohmann::json& a, const char* key) {
  auto it = a.find(key);
  if (it == a.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

std::optional<CgroupContainer> parse_cgroup_container(std::string_view text) {
  for (std::string_view line : split(text, '\n')) {
    // "hierarchy-ID:controller-list:path"; the path may itself hold ':'.
    auto a = line.find(':');
    if (a == std::string_view::npos) continue;
    auto b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    std::vector<std::string_view> parts = split(line.substr(b + 1), '/');
    // The deepest component that names a container: CRI-O and crun may nest the process one
    // level below its scope ("crio-ID.scope/container").
    for (std::size_t i = parts.size(); i-- > 0;) {
      auto found = container_component(parts[i]);
      if (!found) continue;
      CgroupContainer c{std::string(found->first), std::string(found->second), {}};
      if (c.runtime.empty() && i > 0 && parts[i - 1] == "docker") c.runtime = "docker";
      for (std::size_t j = 0; j < i && c.pod_uid.empty(); ++j) c.pod_uid = pod_uid_of(parts[j]);
      return c;
    }
  }
  return std::nullopt;
}

Result<ContainerIdentity> parse_oci_config(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fail("config.json: not a JSON object");
  ContainerIdentity id;
  id.state_read = true;
  if (auto a = j.find("annotations"); a != j.end() && a->is_object()) {
    // containerd's CRI plugin.
    if (auto type = annotation(*a, "io.kubernetes.cri.container-type")) {
      id.sandbox = *type == "sandbox";
      id.pod = annotation(*a, "io.kubernetes.cri.sandbox-name");
      id.pod_namespace = annotation(*a, "io.kubernetes.cri.sandbox-namespace");
      if (!id.sandbox) id.container = annotation(*a, "io.kubernetes.cri.container-name");
    } else if (auto ctype = annotation(*a, "io.kubernetes.cri-o.ContainerType")) {
      // CRI-O (its sandbox's container name is "POD").
      id.sandbox = *ctype == "sandbox";
      id.pod = annotation(*a, "io.kubernetes.pod.name");
      id.pod_namespace = annotation(*a, "io.kubernetes.pod.namespace");
      id.container = annotation(*a, "io.kubernetes.container.name");
    }
  }
  if (auto p = j.find("process"); p != j.end() && p->is_object()) {
    if (auto r = p->find("rlimits"); r != p->end() && r->is_array()) {
      for (const auto& l : *r) {
        if (!l.is_object()) continue;
        auto type = l.find("type");  // not value(): it throws on a non-string "type"
        if (type == l.end() || !type->is_string() || *type != "RLIMIT_NOFILE") continue;
        if (auto s = l.find("soft"); s != l.end() && s->is_number_unsigned())
          id.spec_nofile_soft = s->get<uint64_t>();
        if (auto h = l.find("hard"); h != l.end() && h->is_number_unsigned())
          id.spec_nofile_hard = h->get<uint64_t>();
      }
    }
  }
  return id;
}

std::vector<std::string> default_runtime_roots() {
  return {
      "/run/containerd/io.containerd.runtime.v2.task/k8s.io",      // containerd's CRI plugin
      "/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io",  // k3s, rke2
      "/run/containerd/io.containerd.runtime.v2.task/moby",        // docker on containerd
      "/run/containers/storage/overlay-containers",                // CRI-O, podman (runroot)
      "/var/lib/containers/storage/overlay-containers",            // podman (graphroot)
  };
}

IdentityResolver::IdentityResolver(const ProcFs& proc, std::vector<std::string> roots)
    : proc_(proc), roots_(roots.empty() ? default_runtime_roots() : std::move(roots)) {}

IdentityResolver::Entry& IdentityResolver::lookup(const CgroupContainer& c) {
  auto [it, fresh] = by_id_.try_emplace(c.id);
  Entry& e = it->second;
  if (!fresh) return e;
  e.id.runtime = c.runtime;
  e.id.container_id = c.id;
  e.id.pod_uid = c.pod_uid;
  std::string denied;
  for (const std::string& root : roots_) {
    for (const char* leaf : {"/config.json", "/userdata/config.json"}) {
      const std::string path = root + "/" + c.id + leaf;
      auto text = read_file(path, kMaxConfigBytes);
      if (!text) {
        if (text.error().err != ENOENT && text.error().err != ENOTDIR && denied.empty())
          denied = text.error().message;
        continue;
      }
      auto parsed = parse_oci_config(*text);
      if (!parsed) {
        e.error = path + ": " + parsed.error().message;
        return e;
      }
      parsed->runtime = c.runtime;
      parsed->container_id = c.id;
      parsed->pod_uid = c.pod_uid;
      parsed->state_path = path;
      e.id = std::move(*parsed);
      e.error.clear();
      return e;
    }
  }
  e.error = !denied.empty() ? denied : "no config.json for it under the runtime roots";
  return e;
}

ContainerIdentity IdentityResolver::of_container(const CgroupContainer& c) {
  return lookup(c).id;
}

std::optional<ContainerIdentity> IdentityResolver::of_pid(int32_t pid) {
  auto text = proc_.read(std::to_string(pid) + "/cgroup");
  if (!text) return std::nullopt;
  auto c = parse_cgroup_container(*text);
  if (!c) return std::nullopt;
  Entry& e = lookup(*c);
  if (!e.error.empty()) {
    ++unresolved_processes_;
    if (first_error_.empty()) first_error_ = "container " + e.id.short_id() + ": " + e.error;
  }
  return e.id;
}

std::string IdentityResolver::missing_summary() const {
  if (unresolved_processes_ == 0) return {};
  std::string roots;
  for (const std::string& r : roots_) roots += (roots.empty() ? "" : ", ") + r;
  return "pod and container names of " + std::to_string(unresolved_processes_) +
         (unresolved_processes_ == 1 ? " process" : " processes") +
         " in containers unknown, container ids only (" + first_error_ +
         "; runtime roots: " + roots + "; --runtime-root names others)";
}

}  // namespace cd
