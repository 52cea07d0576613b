#include "controller/api/json_fields.h"

#include <cmath>
#include <limits>

namespace vmrelease::api {

std::string JoinPath(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

std::string IndexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string KeyPath(const std::string& parent, std::string_view key) {
  return parent + "[" + std::string(key) + "]";
}

bool IsEmptyJson(const Json& j) {
  if (j.is_string()) return j.get_ref<const std::string&>().empty();
  if (j.is_array() || j.is_object()) return j.empty();
  return false;
}

const char* JsonTypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "object";
    case Json::value_t::array:
      return "array";
    case Json::value_t::string:
      return "string";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    default:
      return "binary";
  }
}

Status ReadValue(const Json& j, const std::string& path, std::string& out) {
  if (!j.is_string())
    return InvalidArgumentError(path + ": must be a string, got " + JsonTypeName(j));
  out = j.get<std::string>();
  return Status::Ok();
}

Status ReadValue(const Json& j, const std::string& path, int64_t& out) {
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return InvalidArgumentError(path + ": integer out of range");
    }
    out = static_cast<int64_t>(u);
    return Status::Ok();
  }
  if (j.is_number_integer()) {
    out = j.get<int64_t>();
    return Status::Ok();
  }
  if (j.is_number_float()) {
    // JSON has one number type; 3.0 is an integer to the API server too.
    double d = j.get<double>();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.2e18) {
      out = static_cast<int64_t>(d);
      return Status::Ok();
    }
  }
  return InvalidArgumentError(path + ": must be an integer, got " + JsonTypeName(j));
}

Status ReadValue(const Json& j, const std::string& path, double& out) {
  if (!j.is_number())
    return InvalidArgumentError(path + ": must be a number, got " + JsonTypeName(j));
  out = j.get<double>();
  return Status::Ok();
}

Status ReadValue(const Json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) {
    return InvalidArgumentError(path + ": must be a boolean, got " + JsonTypeName(j));
  }
  out = j.get<bool>();
  return Status::Ok();
}

Status ReadValue(const Json& j, const std::string&, Json& out) {
  out = j;
  return Status::Ok();
}

Json FieldReader::Rest() const {
  Json rest = Json::object();
  for (const auto& [key, value] : object_.items()) {
    if (!consumed_.contains(key)) rest[key] = value;
  }
  return rest;
}

}  // namespace vmrelease::api
