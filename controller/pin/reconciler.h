// The EnvironmentPin reconciler: keeps each pin resolved to a Released version of
// its image (docs/api.md, "How a pin resolves"), gates promotions on other
// environments, records history and changes, exports the resolution to a
// ConfigMap, and costs nothing once a pin has settled.
//
//   pin::Reconciler reconciler({.client = client, .pins = pin_store, .releases = release_store,
//                               .clock = clock, .type = pin_type, .metrics = &product,
//                               .publish_event = [&](kube::Event e) { recorder.Publish(e); }});
//   kube::Controller controller({.name = "environmentpin", ...}, reconciler);
//   pin::WireWatches(controller, pin_store, release_store);   // releases and sibling pins wake it
//
// Reading top to bottom (Flux style), Reconcile():
//   1. fetch from the store; gone → forget its metrics, done; a store that has
//      not caught up with our own last status write → requeue shortly;
//   2. unparsable → Stalled/InvalidSpec; deleting → done (the ConfigMap it owns
//      goes with it through its ownerReference: no finalizer needed);
//   3. the steps, on a working copy of status:
//      Select  — what the spec asks for among the releases of the image and the
//                promotion gates (resolve.h: Resolve); owns Ready, Stalled;
//      Move    — history, resolved, changes when the resolution changes; owns
//                status.history/resolved/changes/behindBy/latestVersion;
//      Export  — the ConfigMap, compared before it is written; owns Ready
//                (reason ExportFailed) when it cannot be written;
//   4. one exit: Resolved and Ready summarised with observedGeneration, status
//      patched only if it changed (merge patch with a resourceVersion
//      precondition), then the Events (Normal on a move, Warning on a block) and
//      the metrics.
// A gate that opens later requeues the pin for that moment (RequeueAfter);
// everything else is event driven: the pin's own changes, any ImageRelease of its
// image in its namespace, and the other pins of its image (WireWatches).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "controller/kube/client.h"
#include "controller/kube/controller.h"
#include "controller/kube/events.h"
#include "controller/kube/own_writes.h"
#include "controller/kube/store.h"
#include "controller/pin/metrics.h"
#include "controller/pin/resolve.h"

namespace vmrelease::pin {

// Index of the release and pin stores: "<namespace>/<spec.image>" (the same
// values as release::kImageIndex, so one index serves both reconcilers).
inline constexpr char kImageIndex[] = "image";
std::vector<std::string> ImageIndex(const kube::Json& obj);

struct ReconcilerOptions {
  kube::KubeClient& client;
  const kube::Store& pins;
  const kube::Store& releases;
  Clock& clock;
  kube::ResourceType type;  // environmentpins.vmrelease.io/v1alpha1
  PinMetrics* metrics = nullptr;
  std::function<void(kube::Event)> publish_event;  // null: Events are dropped
};

class Reconciler final : public kube::Reconciler {
 public:
  explicit Reconciler(ReconcilerOptions options);
  kube::ReconcileResult Reconcile(const kube::ObjectRef& ref) override;

 private:
  kube::ReconcileResult StallRaw(const kube::Json& obj, const std::string& message);
  std::vector<kube::ObjectPtr> OfImage(const kube::Store& store, const std::string& ns,
                                       const std::string& image) const;

  ReconcilerOptions o_;
  PinMetrics& metrics_;
  kube::OwnWrites own_writes_;  // never act on a cache older than our own last write
};

// Wakes the pin controller for what a pin's resolution depends on: every
// ImageRelease of its image in its namespace (added, changed, deleted) and the
// other pins of its image (their resolution decides promotion gates and
// duplicates). Adds kImageIndex to both stores; call before the informers start.
void WireWatches(kube::Controller& controller, kube::Store& pins, kube::Store& releases);

}  // namespace vmrelease::pin
