#include "controller/api/meta.h"

#include <algorithm>

namespace vmrelease::api {

const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type) {
  auto it = std::find_if(conditions.begin(), conditions.end(),
                         [&](const Condition& c) { return c.type == type; });
  return it == conditions.end() ? nullptr : &*it;
}

bool SetCondition(std::vector<Condition>& conditions, Condition condition, WallTime now) {
  auto it = std::find_if(conditions.begin(), conditions.end(),
                         [&](const Condition& c) { return c.type == condition.type; });
  if (it == conditions.end()) {
    if (condition.last_transition_time.empty()) condition.last_transition_time = FormatTime(now);
    conditions.push_back(std::move(condition));
    return true;
  }
  bool changed = false;
  if (it->status != condition.status) {
    it->status = condition.status;
    it->last_transition_time =
        condition.last_transition_time.empty() ? FormatTime(now) : condition.last_transition_time;
    changed = true;
  }
  if (it->reason != condition.reason) {
    it->reason = std::move(condition.reason);
    changed = true;
  }
  if (it->message != condition.message) {
    it->message = std::move(condition.message);
    changed = true;
  }
  if (it->observed_generation != condition.observed_generation) {
    it->observed_generation = condition.observed_generation;
    changed = true;
  }
  return changed;
}

bool RemoveCondition(std::vector<Condition>& conditions, std::string_view type) {
  const auto before = conditions.size();
  std::erase_if(conditions, [&](const Condition& c) { return c.type == type; });
  return conditions.size() != before;
}

Status CheckTypeMeta(const Json& json, const char* kind) {
  if (!json.is_object()) {
    return InvalidArgumentError(std::string(kind) + ": must be a JSON object, got " +
                                JsonTypeName(json));
  }
  if (auto it = json.find("kind"); it != json.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>() != kind) {
      return InvalidArgumentError("kind: expected \"" + std::string(kind) + "\", got " +
                                  it->dump(-1, ' ', false, Json::error_handler_t::replace));
    }
  }
  if (auto it = json.find("apiVersion"); it != json.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>() != kApiVersion) {
      return InvalidArgumentError("apiVersion: expected \"" + std::string(kApiVersion) +
                                  "\", got " +
                                  it->dump(-1, ' ', false, Json::error_handler_t::replace));
    }
  }
  return Status::Ok();
}

std::string FormatTime(WallTime t) { return FormatRfc3339(t); }

std::optional<WallTime> ParseTime(const std::string& text) {
  WallTime t;
  if (!ParseRfc3339(text, &t)) return std::nullopt;
  return t;
}

}  // namespace vmrelease::api
