// Structural OpenAPI v3 schemas as Kubernetes CRDs use them: validation with
// the apiserver's error text, defaulting, pruning of unknown fields, and the
// structural checks a CRD's `openAPIV3Schema` must pass before it is served.
//
// Independent of the server: give it a schema node (parsed JSON) and a value.
//
//   nlohmann::json schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
//   nlohmann::json obj = ...;                       // a whole custom resource
//   schema::ObjectResult r = schema::ProcessObject(schema, obj);
//   for (const FieldError& e : r.errors) std::cerr << e.ToString() << "\n";
//   // e.g. `spec.version: Invalid value: "1.2": spec.version in body should match '^...$'`
//
//   std::vector<FieldError> errs = schema::Validate(schema["properties"]["spec"], spec, "spec");
//
// Supported keywords: type (object, array, string, integer, number, boolean),
// format (int32, int64, float, double, date-time, date, byte), properties,
// required, additionalProperties (bool or schema), items, enum, pattern (ECMAScript
// regex, which covers the RE2 subset CRDs use), minimum/maximum (+exclusive),
// multipleOf, minLength/maxLength, minItems/maxItems, uniqueItems,
// minProperties/maxProperties, nullable, default, allOf/anyOf/oneOf/not,
// x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields.
// Caveats: CEL (`x-kubernetes-validations`) is not evaluated; list-type/map-keys
// markers are not enforced (except uniqueItems).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/api/field_error.h"

namespace vmrelease::api::schema {

// Every violation of `schema` by `value`; field paths are rooted at `path`
// ("" for a root value, else e.g. "spec"). Errors are in document order.
std::vector<FieldError> Validate(const nlohmann::json& schema, const nlohmann::json& value,
                                 const std::string& path = "");

// Sets every absent property that has a `default` (and non-nullable nulls),
// recursively through properties, items and additionalProperties.
void ApplyDefaults(const nlohmann::json& schema, nlohmann::json& value);

// Removes fields the schema does not declare, unless a node says
// x-kubernetes-preserve-unknown-fields. Returns the removed paths ("spec.foo").
std::vector<std::string> Prune(const nlohmann::json& schema, nlohmann::json& value,
                               const std::string& path = "");

// The full pipeline the apiserver runs on a custom resource write: prune
// (recording unknown fields, also in metadata), default, validate. apiVersion,
// kind and metadata are implicit at the root.
struct ObjectResult {
  std::vector<std::string> unknown_fields;  // for fieldValidation=Strict|Warn
  std::vector<FieldError> errors;
};
ObjectResult ProcessObject(const nlohmann::json& schema, nlohmann::json& object);

// Structural-schema rules (every node typed, root is an object, no $ref,
// properties xor additionalProperties, arrays have items, metadata only
// constrains name/generateName). `path` names the schema in the CRD, e.g.
// "spec.versions[0].schema.openAPIV3Schema".
std::vector<FieldError> CheckStructural(const nlohmann::json& schema, const std::string& path);

// The JSON type name used in messages: string, integer, number, boolean, object, array, null.
std::string TypeName(const nlohmann::json& value);

}  // namespace vmrelease::api::schema
