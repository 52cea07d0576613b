#include "controller/app/controllers.h"

#include "controller/api/environment_pin.h"
#include "controller/api/image_release.h"
#include "controller/app/wiring.h"
#include "controller/common/log.h"
#include "controller/pin/reconciler.h"
#include "controller/release/reconciler.h"

namespace vmrelease::app {

kube::ResourceType ImageReleaseType() {
  return {api::kGroup, api::kGroupVersion, api::kImageReleasePlural, api::kImageReleaseKind, true};
}

kube::ResourceType EnvironmentPinType() {
  return {api::kGroup, api::kGroupVersion, api::kEnvironmentPinPlural, api::kEnvironmentPinKind,
          true};
}

std::vector<ControllerSpec> DefaultControllers() {
  auto releases = [](ControllerDeps& deps) -> std::unique_ptr<kube::Reconciler> {
    const kube::Store* pins = nullptr;
    if (auto it = deps.informers.find(EnvironmentPinType().Name()); it != deps.informers.end())
      pins = &it->second->store();
    kube::EventRecorder* events = &deps.events;
    return std::make_unique<release::Reconciler>(release::ReconcilerOptions{
        .client = deps.client,
        .releases = deps.store,
        .pins = pins,
        .env = deps.wiring->env(),
        .backends = deps.wiring->backends(),
        .type = deps.type,
        .publish_event = [events](kube::Event e) { events->Publish(std::move(e)); }});
  };
  ControllerSpec release_spec{
      .name = "imagerelease", .type = ImageReleaseType(), .make_reconciler = releases};
  release_spec.wire = [](kube::Controller& controller,
                         const std::map<std::string, kube::Informer*>& informers) {
    kube::Store& store = informers.at(ImageReleaseType().Name())->store();
    store.AddIndex(release::kImageIndex, release::ReleaseImageIndex);
    // A release that comes or goes can decide another's DuplicateVersion: wake
    // the other releases of the same image and version (only those: waking every
    // release of the image made each new release cost a sweep over all of them,
    // and a burst of new releases wait behind thousands of needless reconciles).
    auto siblings = [&store, &controller](const kube::ObjectPtr& o) {
      auto version = [](const kube::Json& r) {
        const kube::Json* v = kube::Find(r, {"spec", "version"});
        return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
      };
      const std::string own = version(*o);
      for (const std::string& key : release::ReleaseImageIndex(*o)) {
        for (const kube::ObjectPtr& other : store.ByIndex(release::kImageIndex, key)) {
          if (kube::Name(*other) != kube::Name(*o) && version(*other) == own)
            controller.Enqueue(kube::ObjectRef::FromObject(*other));
        }
      }
    };
    store.AddHandler({.on_add = siblings, .on_delete = siblings});
    // A pin that moves away may let a release's deletion finish.
    if (auto it = informers.find(EnvironmentPinType().Name()); it != informers.end()) {
      auto resolved = [&controller](const kube::ObjectPtr& pin) {
        if (!pin) return;
        const kube::Json* rel = kube::Find(*pin, {"status", "resolved", "release"});
        if (rel && rel->is_string())
          controller.Enqueue({kube::Namespace(*pin), rel->get<std::string>()});
      };
      it->second->store().AddHandler(
          {.on_add = resolved,
           .on_update =
               [resolved](const kube::ObjectPtr& a, const kube::ObjectPtr& b) {
                 resolved(a);
                 resolved(b);
               },
           .on_delete = resolved});
    }
  };
  auto pins = [](ControllerDeps& deps) -> std::unique_ptr<kube::Reconciler> {
    const kube::Store& releases = deps.informers.at(ImageReleaseType().Name())->store();
    kube::EventRecorder* events = &deps.events;
    return std::make_unique<pin::Reconciler>(pin::ReconcilerOptions{
        .client = deps.client,
        .pins = deps.store,
        .releases = releases,
        .clock = deps.clock,
        .type = deps.type,
        .metrics = deps.wiring ? &deps.wiring->product_metrics() : nullptr,
        .publish_event = [events](kube::Event e) { events->Publish(std::move(e)); }});
  };
  ControllerSpec pin_spec{
      .name = "environmentpin", .type = EnvironmentPinType(), .make_reconciler = pins};
  // A pin depends on the releases of its image and on the other pins of its image.
  pin_spec.wire = [](kube::Controller& controller,
                     const std::map<std::string, kube::Informer*>& informers) {
    pin::WireWatches(controller, informers.at(EnvironmentPinType().Name())->store(),
                     informers.at(ImageReleaseType().Name())->store());
  };
  return {std::move(release_spec), std::move(pin_spec)};
}

}  // namespace vmrelease::app
