// The two built-in resources the job runner works on.
#pragma once

#include "controller/kube/resource.h"

namespace vmrelease::jobrunner {

inline kube::ResourceType PodResource() {
  return {.group = "", .version = "v1", .plural = "pods", .kind = "Pod", .namespaced = true};
}
inline kube::ResourceType JobResource() {
  return {.group = "batch", .version = "v1", .plural = "jobs", .kind = "Job", .namespaced = true};
}

}  // namespace vmrelease::jobrunner
