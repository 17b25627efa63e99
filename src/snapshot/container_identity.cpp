// How a container and its pod are named for people.
#include "snapshot/container_identity.h"

namespace cd {

std::string ContainerIdentity::container_name() const {
  if (container && !container->empty()) return *container;
  return short_id();
}

std::string ContainerIdentity::label() const {
  if (pod && !pod->empty()) {
    std::string out = pod_namespace && !pod_namespace->empty() ? *pod_namespace + "/" + *pod : *pod;
    if (sandbox) return out + " (pod sandbox)";
    return out + " (container " + container_name() + ")";
  }
  if (container && !container->empty()) return "container " + *container;
  std::string out = "container " + short_id();
  if (!runtime.empty()) out += " (" + runtime + ")";
  return out;
}

}  // namespace cd
