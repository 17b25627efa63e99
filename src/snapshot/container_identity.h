// Who a process belongs to on a container host: the container it runs in (from its cgroup)
// and, where the runtime's state on disk could be read, the container's name and its pod.
// Plain data: collect/container_identity reads it, the rules and renderers show it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cd {

struct ContainerIdentity {
  std::string runtime;       // from the cgroup: "containerd", "cri-o", "docker", "podman", ""
  std::string container_id;  // 64 hex digits, from the cgroup path
  std::string pod_uid;       // from the kubepods cgroup path ("" outside Kubernetes)
  // From the OCI bundle's config.json annotations (unset when it could not be read).
  bool state_read = false;
  std::optional<std::string> pod;            // the pod (sandbox) name
  std::optional<std::string> pod_namespace;  // its Kubernetes namespace
  std::optional<std::string> container;      // the container name (CRI-O's sandbox: "POD")
  bool sandbox = false;                      // the pod's sandbox (pause) container
  std::string state_path;                    // the config.json read
  // process.rlimits RLIMIT_NOFILE of the OCI spec the runtime wrote (unset: the spec sets
  // none, and the container inherited the limit of the runtime process that started it).
  std::optional<uint64_t> spec_nofile_soft;
  std::optional<uint64_t> spec_nofile_hard;

  // The container name for people: its name, or its short id when the state is unknown.
  std::string container_name() const;
  // "shop/checkout-7f9c (container app)", "shop/checkout-7f9c (pod sandbox)",
  // "container 0123456789ab (containerd)" when only the id is known.
  std::string label() const;
  std::string short_id() const { return container_id.substr(0, 12); }
};

}  // namespace cd
