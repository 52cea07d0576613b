#include "tests/support/apiserver/event_conversion.h"

#include <array>
#include <utility>

namespace vmrelease::apiserver {
namespace {

// {events.k8s.io/v1 name, core/v1 name}; every other field has the same name in both.
constexpr std::array<std::pair<const char*, const char*>, 7> kRenames = {{
    {"regarding", "involvedObject"},
    {"note", "message"},
    {"reportingController", "reportingComponent"},
    {"deprecatedSource", "source"},
    {"deprecatedFirstTimestamp", "firstTimestamp"},
    {"deprecatedLastTimestamp", "lastTimestamp"},
    {"deprecatedCount", "count"},
}};

nlohmann::json Rename(const nlohmann::json& in, bool to_core) {
  nlohmann::json out = in;
  for (const auto& [v1, core] : kRenames) {
    const char* from = to_core ? v1 : core;
    const char* to = to_core ? core : v1;
    out.erase(to);
    if (auto it = in.find(from); it != in.end()) {
      out.erase(from);
      out[to] = *it;
    }
  }
  return out;
}

}  // namespace

nlohmann::json EventToEventsV1(const nlohmann::json& core) {
  nlohmann::json out = Rename(core, false);
  out["apiVersion"] = "events.k8s.io/v1";
  out["kind"] = "Event";
  return out;
}

nlohmann::json EventsV1ToEvent(const nlohmann::json& events_v1) {
  nlohmann::json out = Rename(events_v1, true);
  out["apiVersion"] = "v1";
  out["kind"] = "Event";
  return out;
}

std::string EventsV1FieldToCore(const std::string& field) {
  for (const auto& [v1, core] : kRenames) {
    const std::string prefix = std::string(v1);
    if (field == prefix) return core;
    if (field.rfind(prefix + ".", 0) == 0) return std::string(core) + field.substr(prefix.size());
  }
  return field;
}

}  // namespace vmrelease::apiserver
