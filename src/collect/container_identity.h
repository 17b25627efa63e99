// Container and pod identity, read-only and without any runtime API: the container id from
// /proc/PID/cgroup (cgroup v1 and v2, the systemd and cgroupfs drivers' kubepods layouts,
// containerd, CRI-O, docker, podman), then the runtime's own state on disk: the OCI bundle's
// config.json, whose annotations containerd's CRI plugin and CRI-O write (docs/kubernetes.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collect/proc_fs.h"
#include "snapshot/container_identity.h"
#include "util/error.h"

namespace cd {

// What a /proc/PID/cgroup file says about the container a process runs in.
struct CgroupContainer {
  std::string runtime;  // "containerd", "cri-o", "docker", "podman"; "" when the path is a bare id
  std::string id;       // 64 hex digits
  std::string pod_uid;  // the kubepods pod<uid> component, with dashes ("" outside Kubernetes)
};

// The container of the first line whose path names one; nullopt outside containers. Pure.
std::optional<CgroupContainer> parse_cgroup_container(std::string_view cgroup_file);

// What an OCI bundle's config.json says: the Kubernetes annotations and RLIMIT_NOFILE. Fails
// (bad input) when the text is not a JSON object. Pure.
Result<ContainerIdentity> parse_oci_config(std::string_view config_json);

// Where the runtimes keep their bundles, one directory per container id below each
// (<root>/<id>/config.json, or <root>/<id>/userdata/config.json for containers/storage).
std::vector<std::string> default_runtime_roots();

// Resolves processes to containers, reading each container's config.json once.
class IdentityResolver {
 public:
  // `roots` empty: default_runtime_roots().
  IdentityResolver(const ProcFs& proc, std::vector<std::string> roots);

  // The container `pid` runs in (nullopt: none, or its cgroup file could not be read).
  std::optional<ContainerIdentity> of_pid(int32_t pid);
  // The container with this id (its state read once and remembered).
  ContainerIdentity of_container(const CgroupContainer& c);

  // One line for `missing` when some containers' state could not be read ("" if none).
  std::string missing_summary() const;
  const std::vector<std::string>& roots() const { return roots_; }

 private:
  struct Entry {
    ContainerIdentity id;
    std::string error;  // why the state could not be read ("" when read)
  };
  Entry& lookup(const CgroupContainer& c);

  const ProcFs& proc_;
  std::vector<std::string> roots_;
  std::map<std::string, Entry> by_id_;
  uint32_t unresolved_processes_ = 0;
  std::string first_error_;
};

}  // namespace cd
