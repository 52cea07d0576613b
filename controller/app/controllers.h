// The controllers the binary runs, and how a reconciler plugs in. This is the
// one place where concrete types meet (STYLE.md), with wiring.h.
//
//   ControllerSpec spec{
//       .name = "imagerelease",
//       .type = ImageReleaseType(),
//       .make_reconciler = [](ControllerDeps& deps) {
//         return std::make_unique<release::Reconciler>(deps.client, deps.store, deps.events,
//                                                      deps.clock);
//       }};
//
// Guarantees to a reconciler: `store` is synced before its first Reconcile;
// `informers` holds the stores of every controller's primary type (for lookups
// across kinds, e.g. a pin reading releases); `events` never blocks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controller/common/clock.h"
#include "controller/kube/client.h"
#include "controller/kube/controller.h"
#include "controller/kube/events.h"
#include "controller/kube/watcher.h"

namespace vmrelease::app {

kube::ResourceType ImageReleaseType();    // imagereleases.vmrelease.io/v1alpha1
kube::ResourceType EnvironmentPinType();  // environmentpins.vmrelease.io/v1alpha1

class Wiring;

struct ControllerDeps {
  kube::KubeClient& client;
  const kube::Store& store;                                 // the controller's own resource
  const std::map<std::string, kube::Informer*>& informers;  // by ResourceType::Name()
  kube::EventRecorder& events;
  Clock& clock;
  std::string controller_name;
  kube::ResourceType type;
  Wiring* wiring = nullptr;  // Azure clients, backends, task runner (wiring.h)
};

struct ControllerSpec {
  std::string name;  // controller label in logs and metrics, e.g. "imagerelease"
  kube::ResourceType type;
  std::function<std::unique_ptr<kube::Reconciler>(ControllerDeps&)> make_reconciler;
  // Optional: extra wiring once every informer exists, e.g. enqueue pins when a
  // release changes: informers.at("imagereleases.vmrelease.io")->store().AddHandler(...).
  std::function<void(kube::Controller&, const std::map<std::string, kube::Informer*>&)> wire;
};

// The imagerelease controller (release::Reconciler) and the environmentpin
// controller (pin::Reconciler), with the store indexes and cross-kind wake-ups
// they need.
std::vector<ControllerSpec> DefaultControllers();

}  // namespace vmrelease::app
