// Finalizer helpers and kube-rs's finalizer() flow: "apply" while the object
// lives, "cleanup" once it is being deleted, with our finalizer holding the
// object until cleanup succeeded.
//
//   ReconcileResult Reconcile(const ObjectRef& ref) override {
//     ObjectPtr obj = store_.Get(ref);
//     if (!obj) return Action::AwaitChange();
//     return Finalize(client_, kReleases, "vmrelease.io/cleanup", *obj,
//         [&](const Json& o) { return Apply(o); },       // normal reconcile
//         [&](const Json& o) { return Cleanup(o); });    // delete Azure artifacts
//   }
//
// Flow (Finalize):
//   not deleting, finalizer missing → add it (JSON patch guarded by a `test` of
//       metadata.resourceVersion), AwaitChange: the update brings the next reconcile,
//       so no external work happens before the finalizer is in place;
//   not deleting, finalizer present → apply(obj);
//   deleting, finalizer present     → cleanup(obj); on success remove the finalizer
//       (JSON patch guarded by `test`s of resourceVersion and of the entry itself);
//   deleting, finalizer missing     → nothing to do (AwaitChange).
// Errors: a patch that loses a race fails with IsInvalid()/IsConflict() (the test
// op failed) and comes back as a transient error; the next reconcile sees the
// fresh object.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "controller/kube/action.h"
#include "controller/kube/client.h"

namespace vmrelease::kube {

bool HasFinalizer(const Json& obj, std::string_view finalizer);

// The JSON patches used below (exposed for tests and for callers that batch).
Json AddFinalizerPatch(const Json& obj, const std::string& finalizer);
Json RemoveFinalizerPatch(const Json& obj, const std::string& finalizer);

// Adds `finalizer` unless present; returns the updated object.
StatusOr<Json> AddFinalizer(KubeClient& client, const ResourceType& type, const Json& obj,
                            const std::string& finalizer);
// Removes `finalizer` if present; returns the updated object (or the server's
// answer when that removal let the object go).
StatusOr<Json> RemoveFinalizer(KubeClient& client, const ResourceType& type, const Json& obj,
                               const std::string& finalizer);

using FinalizerStep = std::function<ReconcileResult(const Json& obj)>;
ReconcileResult Finalize(KubeClient& client, const ResourceType& type, const std::string& finalizer,
                         const Json& obj, const FinalizerStep& apply, const FinalizerStep& cleanup);

}  // namespace vmrelease::kube
