#include "controller/api/field_error.h"

#include <cmath>
#include <cstdio>

namespace vmrelease::api::schema {

std::string GoQuote(const std::string& s) {
  // Go's %q for the ASCII subset we produce; other bytes pass through.
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

namespace {

std::string JoinQuoted(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += GoQuote(values[i]);
  }
  return out;
}

}  // namespace

std::string FieldValueRepr(const nlohmann::json& value) {
  if (value.is_string()) return GoQuote(value.get<std::string>());
  if (value.is_null()) return "\"null\"";
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 1e15) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.0f", d);
      return buf;
    }
    return value.dump();
  }
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

FieldError RequiredField(const std::string& field, const std::string& detail) {
  return {"FieldValueRequired", field,
          detail.empty() ? "Required value" : "Required value: " + detail};
}
FieldError InvalidField(const std::string& field, const nlohmann::json& value,
                        const std::string& detail) {
  std::string body = "Invalid value: " + FieldValueRepr(value);
  if (!detail.empty()) body += ": " + detail;
  return {"FieldValueInvalid", field, body};
}
FieldError TypeInvalidField(const std::string& field, const nlohmann::json& value,
                            const std::string& detail) {
  FieldError e = InvalidField(field, value, detail);
  e.type = "FieldValueTypeInvalid";
  return e;
}
FieldError NotSupportedField(const std::string& field, const nlohmann::json& value,
                             const std::vector<std::string>& supported) {
  std::string body = "Unsupported value: " + FieldValueRepr(value);
  if (!supported.empty()) body += ": supported values: " + JoinQuoted(supported);
  return {"FieldValueNotSupported", field, body};
}
FieldError ForbiddenField(const std::string& field, const std::string& detail) {
  return {"FieldValueForbidden", field, detail.empty() ? "Forbidden" : "Forbidden: " + detail};
}
FieldError TooLongField(const std::string& field, int64_t max) {
  return {"FieldValueTooLong", field,
          "Too long: may not be more than " + std::to_string(max) + " bytes"};
}
FieldError TooManyField(const std::string& field, int64_t actual, int64_t max) {
  return {"FieldValueTooMany", field,
          "Too many: " + std::to_string(actual) + ": must have at most " + std::to_string(max) +
              " items"};
}
FieldError DuplicateField(const std::string& field, const nlohmann::json& value) {
  return {"FieldValueDuplicate", field, "Duplicate value: " + FieldValueRepr(value)};
}

}  // namespace vmrelease::api::schema
