#include "controller/kube/patch.h"

namespace vmrelease::kube {

Json CreateMergePatch(const Json& from, const Json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  Json patch = Json::object();
  for (auto it = from.begin(); it != from.end(); ++it) {
    if (!to.contains(it.key())) patch[it.key()] = nullptr;
  }
  for (auto it = to.begin(); it != to.end(); ++it) {
    auto old = from.find(it.key());
    if (old == from.end()) {
      patch[it.key()] = it.value();
    } else if (*old != it.value()) {
      patch[it.key()] = old->is_object() && it.value().is_object()
                            ? CreateMergePatch(*old, it.value())
                            : it.value();
    }
  }
  return patch;
}

}  // namespace vmrelease::kube
