// core/v1 Event ⇄ events.k8s.io/v1 Event. Both APIs serve the same stored
// objects (as on a real cluster), so `kubectl get events` shows what the
// operator records through events.k8s.io/v1.
//
//   nlohmann::json ev = EventToEventsV1(core_event);   // regarding, note, reportingController ...
//   nlohmann::json core = EventsV1ToEvent(ev);          // involvedObject, message,
//   reportingComponent ...
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vmrelease::apiserver {

nlohmann::json EventToEventsV1(const nlohmann::json& core);
nlohmann::json EventsV1ToEvent(const nlohmann::json& events_v1);
// An events.k8s.io/v1 field selector path in core/v1 terms ("regarding.name" →
// "involvedObject.name").
std::string EventsV1FieldToCore(const std::string& field);

}  // namespace vmrelease::apiserver
