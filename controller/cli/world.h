// What the commands read: the EnvironmentPins and ImageReleases of a namespace (or
// of all), listed once, with the lookups the commands share.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/api/environment_pin.h"
#include "controller/common/status.h"
#include "controller/kube/client.h"
#include "controller/pin/resolve.h"

namespace vmrelease::cli {

kube::ResourceType ReleaseType();
kube::ResourceType PinType();

struct World {
  std::vector<api::EnvironmentPin> pins;  // those that parse; by namespace, image, environment
  std::vector<kube::Json> releases;       // by namespace, image, version

  // The releases of `image` in `ns` as the pin resolver sees them.
  std::vector<pin::ReleaseView> Views(const std::string& ns, const std::string& image) const;
  // The pins of `environment` in `ns` (of `image` when not empty).
  std::vector<const api::EnvironmentPin*> PinsOf(const std::string& ns, const std::string& env,
                                                 const std::string& image) const;
  // The other pins of the same image in the same namespace.
  std::vector<api::EnvironmentPin> Others(const api::EnvironmentPin& pin) const;
  // The release object `name` in `ns`, or nullptr.
  const kube::Json* Release(const std::string& ns, const std::string& name) const;
};

// Lists pins and releases of `ns` (empty: all namespaces).
StatusOr<World> LoadWorld(kube::KubeClient& client, const std::string& ns);

// status.resolved.version, or "".
std::string ResolvedVersion(const api::EnvironmentPin& pin);
// The Ready condition, or nullptr.
const api::Condition* ReadyCondition(const api::EnvironmentPin& pin);

}  // namespace vmrelease::cli
