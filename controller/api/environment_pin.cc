#include "controller/api/environment_pin.h"

#include "controller/common/duration.h"

namespace vmrelease::api {

Duration PromotionRequirement::ForAtLeastOrDefault() const {
  if (for_at_least) {
    auto d = ParseDuration(*for_at_least);
    if (d.ok()) return *d;
  }
  return Duration::zero();
}

StatusOr<EnvironmentPin> ParseEnvironmentPin(const Json& json) {
  RETURN_IF_ERROR(CheckTypeMeta(json, kEnvironmentPinKind));
  EnvironmentPin pin;
  RETURN_IF_ERROR(ReadJson(json, "", pin));
  return pin;
}

Json ToJson(const EnvironmentPin& pin) { return WriteJson(pin); }

}  // namespace vmrelease::api
