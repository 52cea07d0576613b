#include "controller/cli/world.h"

#include <algorithm>
#include <tuple>

#include "controller/api/meta.h"

namespace vmrelease::cli {

kube::ResourceType ReleaseType() {
  return {api::kGroup, api::kGroupVersion, api::kImageReleasePlural, api::kImageReleaseKind, true};
}

kube::ResourceType PinType() {
  return {api::kGroup, api::kGroupVersion, api::kEnvironmentPinPlural, api::kEnvironmentPinKind,
          true};
}

StatusOr<World> LoadWorld(kube::KubeClient& client, const std::string& ns) {
  World w;
  ASSIGN_OR_RETURN(kube::ObjectList pins, kube::ListAll(client, PinType(), {.ns = ns}));
  ASSIGN_OR_RETURN(kube::ObjectList releases, kube::ListAll(client, ReleaseType(), {.ns = ns}));
  // (The server filters by namespace already; a client that does not must not mix them.)
  auto elsewhere = [&](const kube::Json& obj) { return !ns.empty() && kube::Namespace(obj) != ns; };
  std::erase_if(releases.items, elsewhere);
  for (const kube::Json& obj : pins.items) {
    if (elsewhere(obj)) continue;
    auto p = api::ParseEnvironmentPin(obj);
    if (p.ok()) w.pins.push_back(std::move(*p));
  }
  std::sort(w.pins.begin(), w.pins.end(), [](const auto& a, const auto& b) {
    return std::tie(a.metadata.ns, a.spec.image, a.spec.environment, a.metadata.name) <
           std::tie(b.metadata.ns, b.spec.image, b.spec.environment, b.metadata.name);
  });
  w.releases = std::move(releases.items);
  return w;
}

std::vector<pin::ReleaseView> World::Views(const std::string& ns, const std::string& image) const {
  std::vector<pin::ReleaseView> out;
  for (const kube::Json& r : releases) {
    if (kube::Namespace(r) != ns) continue;
    auto v = pin::ViewOfRelease(r);
    if (v && v->image == image) out.push_back(std::move(*v));
  }
  return out;
}

std::vector<const api::EnvironmentPin*> World::PinsOf(const std::string& ns, const std::string& env,
                                                      const std::string& image) const {
  std::vector<const api::EnvironmentPin*> out;
  for (const api::EnvironmentPin& p : pins) {
    if (p.metadata.ns == ns && p.spec.environment == env &&
        (image.empty() || p.spec.image == image))
      out.push_back(&p);
  }
  return out;
}

std::vector<api::EnvironmentPin> World::Others(const api::EnvironmentPin& pin) const {
  std::vector<api::EnvironmentPin> out;
  for (const api::EnvironmentPin& p : pins) {
    if (p.metadata.ns == pin.metadata.ns && p.spec.image == pin.spec.image &&
        p.metadata.name != pin.metadata.name)
      out.push_back(p);
  }
  return out;
}

const kube::Json* World::Release(const std::string& ns, const std::string& name) const {
  for (const kube::Json& r : releases) {
    if (kube::Namespace(r) == ns && kube::Name(r) == name) return &r;
  }
  return nullptr;
}

std::string ResolvedVersion(const api::EnvironmentPin& pin) {
  if (pin.status && pin.status->resolved && pin.status->resolved->version)
    return *pin.status->resolved->version;
  return "";
}

const api::Condition* ReadyCondition(const api::EnvironmentPin& pin) {
  if (!pin.status) return nullptr;
  return api::FindCondition(pin.status->conditions, api::kConditionReady);
}

}  // namespace vmrelease::cli
