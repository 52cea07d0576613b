#include "controller/app/controllers.h"

#include "controller/api/environment_pin.h"
#include "controller/api/image_release.h"
#include "controller/common/log.h"

namespace vmrelease::app {

kube::ResourceType ImageReleaseType() {
  return {api::kGroup, api::kGroupVersion, api::kImageReleasePlural, api::kImageReleaseKind, true};
}

kube::ResourceType EnvironmentPinType() {
  return {api::kGroup, api::kGroupVersion, api::kEnvironmentPinPlural, api::kEnvironmentPinKind,
          true};
}

kube::ReconcileResult ObservingReconciler::Reconcile(const kube::ObjectRef& ref) {
  kube::ObjectPtr obj = store_.Get(ref);
  if (!obj) {
    log::Info("app.reconciler", "object is gone; reconcilers are not wired yet",
              {{"controller", controller_},
               {"kind", type_.kind},
               {"namespace", ref.ns},
               {"name", ref.name}});
    return kube::Action::AwaitChange();
  }
  log::Info("app.reconciler", "observed object; reconcilers are not wired yet",
            {{"controller", controller_},
             {"kind", type_.kind},
             {"namespace", ref.ns},
             {"name", ref.name},
             {"generation", kube::Generation(*obj)},
             {"resourceVersion", kube::ResourceVersion(*obj)},
             {"deleting", kube::IsDeleting(*obj)}});
  return kube::Action::AwaitChange();
}

std::vector<ControllerSpec> DefaultControllers() {
  auto observe = [](ControllerDeps& deps) -> std::unique_ptr<kube::Reconciler> {
    return std::make_unique<ObservingReconciler>(deps.controller_name, deps.type, deps.store);
  };
  return {
      ControllerSpec{
          .name = "imagerelease", .type = ImageReleaseType(), .make_reconciler = observe},
      ControllerSpec{
          .name = "environmentpin", .type = EnvironmentPinType(), .make_reconciler = observe},
  };
}

}  // namespace vmrelease::app
