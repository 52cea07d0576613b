#include "controller/kube/stall.h"

#include "controller/kube/conditions.h"

namespace vmrelease::kube {
namespace {

constexpr size_t kMaxMessage = 4096;

std::string CapUtf8(std::string s) {
  if (s.size() <= kMaxMessage) return s;
  size_t end = kMaxMessage;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

}  // namespace

StatusOr<bool> WriteRawStall(KubeClient& client, const ResourceType& type, const Json& obj,
                             const RawStall& stall) {
  const std::string msg = CapUtf8(stall.message);
  const Json* conds = Find(obj, {"status", "conditions"});
  auto stalled = conds ? FindCondition(*conds, "Stalled") : std::nullopt;
  if (stalled && stalled->status == kConditionTrue && stalled->reason == stall.reason &&
      stalled->message == msg)
    return false;
  const int64_t gen = Generation(obj);
  Json cond = Json::array();
  for (const char* t : {"Ready", "Stalled"}) {
    const bool is_stalled = std::string_view(t) == "Stalled";
    cond.push_back({{"type", t},
                    {"status", is_stalled ? kConditionTrue : kConditionFalse},
                    {"observedGeneration", gen},
                    {"lastTransitionTime", stall.now},
                    {"reason", stall.reason},
                    {"message", msg}});
  }
  Json status = stall.extra_status;
  status["observedGeneration"] = gen;
  status["conditions"] = std::move(cond);
  const Json patch = {{"metadata", {{"resourceVersion", ResourceVersion(obj)}}},
                      {"status", std::move(status)}};
  auto written = client.PatchStatus(type, ObjectRef::FromObject(obj), PatchType::kMerge, patch);
  if (!written.ok()) return written.status();
  return true;
}

}  // namespace vmrelease::kube
