#include "controller/kube/finalizer.h"

#include "controller/common/log.h"

namespace vmrelease::kube {
namespace {

const Json* Finalizers(const Json& obj) {
  const Json* f = Find(obj, {"metadata", "finalizers"});
  return f != nullptr && f->is_array() ? f : nullptr;
}

Json TestResourceVersion(const Json& obj) {
  return {{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", ResourceVersion(obj)}};
}

}  // namespace

bool HasFinalizer(const Json& obj, std::string_view finalizer) {
  const Json* f = Finalizers(obj);
  if (f == nullptr) return false;
  for (const Json& v : *f) {
    if (v.is_string() && v.get_ref<const std::string&>() == finalizer) return true;
  }
  return false;
}

Json AddFinalizerPatch(const Json& obj, const std::string& finalizer) {
  Json ops = Json::array({TestResourceVersion(obj)});
  if (Finalizers(obj) == nullptr || Finalizers(obj)->empty()) {
    ops.push_back(
        {{"op", "add"}, {"path", "/metadata/finalizers"}, {"value", Json::array({finalizer})}});
  } else {
    ops.push_back({{"op", "add"}, {"path", "/metadata/finalizers/-"}, {"value", finalizer}});
  }
  return ops;
}

Json RemoveFinalizerPatch(const Json& obj, const std::string& finalizer) {
  Json ops = Json::array({TestResourceVersion(obj)});
  const Json* f = Finalizers(obj);
  if (f == nullptr) return ops;
  for (size_t i = 0; i < f->size(); ++i) {
    const Json& v = (*f)[i];
    if (v.is_string() && v.get_ref<const std::string&>() == finalizer) {
      const std::string path = "/metadata/finalizers/" + std::to_string(i);
      ops.push_back({{"op", "test"}, {"path", path}, {"value", finalizer}});
      ops.push_back({{"op", "remove"}, {"path", path}});
      break;
    }
  }
  return ops;
}

StatusOr<Json> AddFinalizer(KubeClient& client, const ResourceType& type, const Json& obj,
                            const std::string& finalizer) {
  if (HasFinalizer(obj, finalizer)) return obj;
  return client.Patch(type, ObjectRef::FromObject(obj), PatchType::kJson,
                      AddFinalizerPatch(obj, finalizer));
}

StatusOr<Json> RemoveFinalizer(KubeClient& client, const ResourceType& type, const Json& obj,
                               const std::string& finalizer) {
  if (!HasFinalizer(obj, finalizer)) return obj;
  return client.Patch(type, ObjectRef::FromObject(obj), PatchType::kJson,
                      RemoveFinalizerPatch(obj, finalizer));
}

ReconcileResult Finalize(KubeClient& client, const ResourceType& type, const std::string& finalizer,
                         const Json& obj, const FinalizerStep& apply,
                         const FinalizerStep& cleanup) {
  const bool deleting = IsDeleting(obj);
  const bool has = HasFinalizer(obj, finalizer);
  if (!deleting && !has) {
    auto r = AddFinalizer(client, type, obj, finalizer);
    if (!r.ok()) return r.status().WithContext("adding finalizer " + finalizer);
    return Action::AwaitChange();
  }
  if (!deleting) return apply(obj);
  if (!has) return Action::AwaitChange();

  ReconcileResult cleaned = cleanup(obj);
  if (!cleaned.ok()) return cleaned;
  auto r = RemoveFinalizer(client, type, obj, finalizer);
  if (!r.ok()) return r.status().WithContext("removing finalizer " + finalizer);
  log::Info("kube.finalizer", "cleanup done; finalizer removed",
            {{"object", ObjectRef::FromObject(obj).Key()}, {"finalizer", finalizer}});
  return cleaned;
}

}  // namespace vmrelease::kube
