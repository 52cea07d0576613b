#include "controller/api/openapi_schema.h"

#include <cmath>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>

namespace vmrelease::api::schema {
namespace {

using nlohmann::json;

// ObjectMeta fields a client may send; anything else under metadata is unknown.
const std::set<std::string>& KnownMetadataFields() {
  static const std::set<std::string> k = {
      "name",       "generateName",    "namespace",         "selfLink",
      "uid",        "resourceVersion", "generation",        "creationTimestamp",
      "labels",     "annotations",     "deletionTimestamp", "deletionGracePeriodSeconds",
      "finalizers", "ownerReferences", "managedFields"};
  return k;
}

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}
// The "in body" subject used by kube-openapi messages.
std::string Subject(const std::string& path) { return path.empty() ? "body" : path + " in body"; }

bool Flag(const json& schema, const char* key) {
  auto it = schema.find(key);
  return it != schema.end() && it->is_boolean() && it->get<bool>();
}
std::string Str(const json& schema, const char* key) {
  auto it = schema.find(key);
  return it != schema.end() && it->is_string() ? it->get<std::string>() : "";
}

// std::regex is expensive to build; CRD patterns repeat across objects.
const std::regex* CompiledPattern(const std::string& pattern) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<std::regex>> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second.get();
  std::unique_ptr<std::regex> re;
  try {
    re = std::make_unique<std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    re = nullptr;
  }
  return cache.emplace(pattern, std::move(re)).first->second.get();
}

std::string NumberText(const json& v) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  }
  return v.dump();
}

bool IsIntegral(const json& v) {
  if (v.is_number_integer()) return true;
  if (v.is_number_float()) {
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

bool TypeMatches(const std::string& type, const json& v) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return IsIntegral(v);
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  return true;  // unknown types are rejected by CheckStructural
}

bool ParseDateTime(const std::string& s) {
  // RFC 3339: 2006-01-02T15:04:05[.frac](Z|+hh:mm)
  static const std::regex re(
      R"(^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$)");
  return std::regex_match(s, re);
}

void ValidateFormat(const json& schema, const json& v, const std::string& path,
                    std::vector<FieldError>& out) {
  const std::string format = Str(schema, "format");
  if (format.empty()) return;
  if (v.is_number_integer() && (format == "int32" || format == "int64")) {
    if (format == "int32") {
      const bool fits = v.is_number_unsigned()
                            ? v.get<uint64_t>() <= 2147483647ull
                            : v.get<int64_t>() >= -2147483648ll && v.get<int64_t>() <= 2147483647ll;
      if (!fits)
        out.push_back(InvalidField(
            path, v, Subject(path) + " must be of type int32: " + FieldValueRepr(NumberText(v))));
    } else if (v.is_number_unsigned() && v.get<uint64_t>() > 9223372036854775807ull) {
      out.push_back(InvalidField(
          path, v, Subject(path) + " must be of type int64: " + FieldValueRepr(NumberText(v))));
    }
    return;
  }
  if (!v.is_string()) return;
  const std::string s = v.get<std::string>();
  bool ok = true;
  if (format == "date-time") {
    ok = ParseDateTime(s);
  } else if (format == "date") {
    static const std::regex re(R"(^\d{4}-\d{2}-\d{2}$)");
    ok = std::regex_match(s, re);
  } else if (format == "byte") {
    static const std::regex re(R"(^[A-Za-z0-9+/]*={0,2}$)");
    ok = s.size() % 4 == 0 && std::regex_match(s, re);
  }
  if (!ok)
    out.push_back(InvalidField(
        path, v, Subject(path) + " must be of type " + format + ": " + FieldValueRepr(s)));
}

void ValidateNode(const json& schema, const json& v, const std::string& path,
                  std::vector<FieldError>& out);

void ValidateJunctors(const json& schema, const json& v, const std::string& path,
                      std::vector<FieldError>& out) {
  if (auto it = schema.find("allOf"); it != schema.end() && it->is_array()) {
    for (const auto& sub : *it) ValidateNode(sub, v, path, out);
  }
  if (auto it = schema.find("anyOf"); it != schema.end() && it->is_array() && !it->empty()) {
    bool any = false;
    for (const auto& sub : *it) {
      std::vector<FieldError> tmp;
      ValidateNode(sub, v, path, tmp);
      any = any || tmp.empty();
    }
    if (!any)
      out.push_back(
          InvalidField(path, v, Subject(path) + " must validate at least one schema (anyOf)"));
  }
  if (auto it = schema.find("oneOf"); it != schema.end() && it->is_array() && !it->empty()) {
    int passed = 0;
    for (const auto& sub : *it) {
      std::vector<FieldError> tmp;
      ValidateNode(sub, v, path, tmp);
      passed += tmp.empty() ? 1 : 0;
    }
    if (passed != 1)
      out.push_back(
          InvalidField(path, v, Subject(path) + " must validate one and only one schema (oneOf)"));
  }
  if (auto it = schema.find("not"); it != schema.end() && it->is_object()) {
    std::vector<FieldError> tmp;
    ValidateNode(*it, v, path, tmp);
    if (tmp.empty())
      out.push_back(InvalidField(path, v, Subject(path) + " must not validate the schema (not)"));
  }
}

void ValidateNumber(const json& schema, const json& v, const std::string& path,
                    std::vector<FieldError>& out) {
  const double d = v.get<double>();
  if (auto it = schema.find("minimum"); it != schema.end() && it->is_number()) {
    const double m = it->get<double>();
    if (Flag(schema, "exclusiveMinimum") ? !(d > m) : !(d >= m))
      out.push_back(InvalidField(path, v,
                                 Subject(path) + " should be greater than " +
                                     (Flag(schema, "exclusiveMinimum") ? "" : "or equal to ") +
                                     NumberText(*it)));
  }
  if (auto it = schema.find("maximum"); it != schema.end() && it->is_number()) {
    const double m = it->get<double>();
    if (Flag(schema, "exclusiveMaximum") ? !(d < m) : !(d <= m))
      out.push_back(InvalidField(path, v,
                                 Subject(path) + " should be less than " +
                                     (Flag(schema, "exclusiveMaximum") ? "" : "or equal to ") +
                                     NumberText(*it)));
  }
  if (auto it = schema.find("multipleOf"); it != schema.end() && it->is_number()) {
    const double m = it->get<double>();
    if (m > 0) {
      const double q = d / m;
      if (std::fabs(q - std::round(q)) > 1e-9)
        out.push_back(
            InvalidField(path, v, Subject(path) + " should be a multiple of " + NumberText(*it)));
    }
  }
}

void ValidateString(const json& schema, const json& v, const std::string& path,
                    std::vector<FieldError>& out) {
  const std::string s = v.get<std::string>();
  // Lengths count characters (runes), not bytes.
  size_t runes = 0;
  for (unsigned char c : s) runes += (c & 0xC0) != 0x80 ? 1 : 0;
  if (auto it = schema.find("maxLength"); it != schema.end() && it->is_number_integer()) {
    if (static_cast<int64_t>(runes) > it->get<int64_t>())
      out.push_back(TooLongField(path, it->get<int64_t>()));
  }
  if (auto it = schema.find("minLength"); it != schema.end() && it->is_number_integer()) {
    if (static_cast<int64_t>(runes) < it->get<int64_t>())
      out.push_back(InvalidField(path, v,
                                 Subject(path) + " should be at least " +
                                     std::to_string(it->get<int64_t>()) + " chars long"));
  }
  if (auto it = schema.find("pattern"); it != schema.end() && it->is_string()) {
    const std::regex* re = CompiledPattern(it->get<std::string>());
    if (re != nullptr && !std::regex_search(s, *re))
      out.push_back(
          InvalidField(path, v, Subject(path) + " should match '" + it->get<std::string>() + "'"));
  }
}

void ValidateArray(const json& schema, const json& v, const std::string& path,
                   std::vector<FieldError>& out) {
  const int64_t n = static_cast<int64_t>(v.size());
  if (auto it = schema.find("maxItems"); it != schema.end() && it->is_number_integer()) {
    if (n > it->get<int64_t>()) out.push_back(TooManyField(path, n, it->get<int64_t>()));
  }
  if (auto it = schema.find("minItems"); it != schema.end() && it->is_number_integer()) {
    if (n < it->get<int64_t>())
      out.push_back(InvalidField(path, v,
                                 Subject(path) + " should have at least " +
                                     std::to_string(it->get<int64_t>()) + " items"));
  }
  if (Flag(schema, "uniqueItems") || Str(schema, "x-kubernetes-list-type") == "set") {
    std::set<std::string> seen;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!seen.insert(v[i].dump()).second) out.push_back(DuplicateField(Index(path, i), v[i]));
    }
  }
  if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
    for (size_t i = 0; i < v.size(); ++i) ValidateNode(*it, v[i], Index(path, i), out);
  }
}

void ValidateObject(const json& schema, const json& v, const std::string& path,
                    std::vector<FieldError>& out) {
  if (auto it = schema.find("required"); it != schema.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (r.is_string() && !v.contains(r.get<std::string>()))
        out.push_back(RequiredField(Join(path, r.get<std::string>())));
    }
  }
  const int64_t n = static_cast<int64_t>(v.size());
  if (auto it = schema.find("maxProperties"); it != schema.end() && it->is_number_integer()) {
    if (n > it->get<int64_t>()) out.push_back(TooManyField(path, n, it->get<int64_t>()));
  }
  if (auto it = schema.find("minProperties"); it != schema.end() && it->is_number_integer()) {
    if (n < it->get<int64_t>())
      out.push_back(InvalidField(path, v,
                                 Subject(path) + " should have at least " +
                                     std::to_string(it->get<int64_t>()) + " properties"));
  }
  const json* props = nullptr;
  if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) props = &*it;
  auto ap = schema.find("additionalProperties");
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string child = Join(path, it.key());
    if (props != nullptr) {
      if (auto p = props->find(it.key()); p != props->end()) {
        ValidateNode(*p, it.value(), child, out);
        continue;
      }
    }
    if (ap != schema.end()) {
      if (ap->is_object()) {
        ValidateNode(*ap, it.value(), child, out);
      } else if (ap->is_boolean() && !ap->get<bool>()) {
        out.push_back(ForbiddenField(child, Subject(child) + " is a forbidden property"));
      }
    }
  }
}

void ValidateNode(const json& schema, const json& v, const std::string& path,
                  std::vector<FieldError>& out) {
  if (!schema.is_object()) return;
  const std::string type = Str(schema, "type");
  if (v.is_null()) {
    if (Flag(schema, "nullable")) return;
    if (!type.empty() || Flag(schema, "x-kubernetes-int-or-string")) {
      const std::string want = type.empty() ? "integer,string" : type;
      out.push_back(TypeInvalidField(path, "null",
                                     Subject(path) + " must be of type " + want + ": \"null\""));
    }
    return;
  }
  if (Flag(schema, "x-kubernetes-int-or-string")) {
    if (!IsIntegral(v) && !v.is_string()) {
      out.push_back(TypeInvalidField(
          path, TypeName(v),
          Subject(path) + " must be of type integer,string: " + FieldValueRepr(TypeName(v))));
      return;
    }
  } else if (!type.empty() && !TypeMatches(type, v)) {
    out.push_back(TypeInvalidField(
        path, TypeName(v),
        Subject(path) + " must be of type " + type + ": " + FieldValueRepr(TypeName(v))));
    return;  // further keywords would only repeat the type error
  }
  if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
    bool found = false;
    for (const auto& e : *it)
      found =
          found || e == v || (e.is_number() && v.is_number() && e.get<double>() == v.get<double>());
    if (!found) {
      std::vector<std::string> supported;
      for (const auto& e : *it)
        supported.push_back(e.is_string() ? e.get<std::string>() : e.dump());
      out.push_back(NotSupportedField(path, v, supported));
    }
  }
  ValidateFormat(schema, v, path, out);
  if (v.is_number()) ValidateNumber(schema, v, path, out);
  if (v.is_string()) ValidateString(schema, v, path, out);
  if (v.is_array()) ValidateArray(schema, v, path, out);
  if (v.is_object()) ValidateObject(schema, v, path, out);
  ValidateJunctors(schema, v, path, out);
}

void PruneNode(const json& schema, json& v, const std::string& path,
               std::vector<std::string>& removed) {
  if (!schema.is_object()) return;
  const bool preserve = Flag(schema, "x-kubernetes-preserve-unknown-fields");
  if (v.is_object()) {
    const json* props = nullptr;
    if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) props = &*it;
    auto ap = schema.find("additionalProperties");
    const bool ap_schema = ap != schema.end() && ap->is_object();
    const bool ap_true = ap != schema.end() && ap->is_boolean() && ap->get<bool>();
    std::vector<std::string> drop;
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string child = Join(path, it.key());
      if (props != nullptr) {
        if (auto p = props->find(it.key()); p != props->end()) {
          PruneNode(*p, it.value(), child, removed);
          continue;
        }
      }
      if (ap_schema) {
        PruneNode(*ap, it.value(), child, removed);
      } else if (!preserve && !ap_true) {
        removed.push_back(child);  // recorded in document order, erased after the walk
        drop.push_back(it.key());
      }
    }
    for (const auto& k : drop) v.erase(k);
  } else if (v.is_array()) {
    if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
      for (size_t i = 0; i < v.size(); ++i) PruneNode(*it, v[i], Index(path, i), removed);
    }
  }
}

}  // namespace

std::string TypeName(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_array()) return "array";
  return "object";
}

std::vector<FieldError> Validate(const json& schema, const json& value, const std::string& path) {
  std::vector<FieldError> out;
  ValidateNode(schema, value, path, out);
  return out;
}

void ApplyDefaults(const json& schema, json& value) {
  if (!schema.is_object()) return;
  if (value.is_object()) {
    if (auto props = schema.find("properties"); props != schema.end() && props->is_object()) {
      for (auto p = props->begin(); p != props->end(); ++p) {
        auto d = p.value().find("default");
        if (d == p.value().end()) continue;
        auto cur = value.find(p.key());
        if (cur == value.end() || (cur->is_null() && !Flag(p.value(), "nullable")))
          value[p.key()] = *d;
      }
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (auto p = props->find(it.key()); p != props->end()) ApplyDefaults(*p, it.value());
      }
    }
    if (auto ap = schema.find("additionalProperties"); ap != schema.end() && ap->is_object()) {
      for (auto it = value.begin(); it != value.end(); ++it) ApplyDefaults(*ap, it.value());
    }
  } else if (value.is_array()) {
    if (auto items = schema.find("items"); items != schema.end() && items->is_object()) {
      for (auto& e : value) ApplyDefaults(*items, e);
    }
  }
}

std::vector<std::string> Prune(const json& schema, json& value, const std::string& path) {
  std::vector<std::string> removed;
  PruneNode(schema, value, path, removed);
  return removed;
}

ObjectResult ProcessObject(const json& schema, json& object) {
  ObjectResult r;
  if (!object.is_object()) {
    r.errors.push_back(TypeInvalidField("", TypeName(object), "body must be of type object"));
    return r;
  }
  // Root: apiVersion, kind and metadata are implicit; prune the rest by schema.
  json meta = object.contains("metadata") ? object["metadata"] : json::object();
  json api_version = object.value("apiVersion", json());
  json kind = object.value("kind", json());
  object.erase("metadata");
  object.erase("apiVersion");
  object.erase("kind");
  r.unknown_fields = Prune(schema, object, "");
  if (meta.is_object()) {
    std::vector<std::string> drop;
    for (auto it = meta.begin(); it != meta.end(); ++it)
      if (!KnownMetadataFields().count(it.key())) drop.push_back(it.key());
    for (const auto& k : drop) {
      r.unknown_fields.push_back("metadata." + k);
      meta.erase(k);
    }
  }
  ApplyDefaults(schema, object);
  r.errors = Validate(schema, object, "");
  // Constraints the schema puts on metadata (name/generateName only).
  if (auto props = schema.find("properties"); props != schema.end() && props->is_object()) {
    if (auto m = props->find("metadata"); m != props->end() && meta.is_object()) {
      for (auto& e : Validate(*m, meta, "metadata")) {
        if (e.type != "FieldValueRequired") r.errors.push_back(std::move(e));
      }
    }
  }
  // The schema's own view of metadata is never stored; ObjectMeta is kept as is.
  object.erase("metadata");
  if (!api_version.is_null()) object["apiVersion"] = api_version;
  if (!kind.is_null()) object["kind"] = kind;
  object["metadata"] = meta;
  return r;
}

namespace {

void CheckNode(const json& s, const std::string& path, bool root, bool under_preserve,
               std::vector<FieldError>& out) {
  if (!s.is_object()) {
    out.push_back(InvalidField(path, s.dump(), "must be an object"));
    return;
  }
  for (const char* banned : {"$ref", "definitions", "dependencies", "patternProperties"}) {
    if (s.contains(banned)) out.push_back(ForbiddenField(path + "." + banned, ""));
  }
  const std::string type = Str(s, "type");
  const bool int_or_string = Flag(s, "x-kubernetes-int-or-string");
  const bool preserve = Flag(s, "x-kubernetes-preserve-unknown-fields");
  static const std::set<std::string> kTypes = {"object",  "array",  "string",
                                               "integer", "number", "boolean"};
  if (!type.empty() && !kTypes.count(type))
    out.push_back(NotSupportedField(path + ".type", type,
                                    {"array", "boolean", "integer", "number", "object", "string"}));
  if (int_or_string && !type.empty())
    out.push_back(ForbiddenField(path + ".type",
                                 "must be empty to be structural with x-kubernetes-int-or-string"));
  // Only the node itself can waive its type; nodes below a preserve-unknown-fields
  // node still need one (structural schemas are typed all the way down).
  (void)under_preserve;
  if (type.empty() && !int_or_string && !preserve)
    out.push_back(RequiredField(path + ".type", "must not be empty for specified object fields"));
  if (root && type != "object")
    out.push_back(InvalidField(path + ".type", type, "must be object at the root"));
  const bool has_props = s.contains("properties");
  if (has_props && s.contains("additionalProperties"))
    out.push_back(ForbiddenField(path + ".additionalProperties",
                                 "additionalProperties and properties are mutual exclusive"));
  if (type == "array" && !s.contains("items"))
    out.push_back(RequiredField(path + ".items", "must be specified"));
  if (auto p = s.find("properties"); p != s.end() && p->is_object()) {
    for (auto it = p->begin(); it != p->end(); ++it) {
      const std::string child = path + ".properties[" + it.key() + "]";
      if (root && it.key() == "metadata") {
        if (auto mp = it.value().find("properties"); mp != it.value().end() && mp->is_object()) {
          for (auto m = mp->begin(); m != mp->end(); ++m) {
            if (m.key() != "name" && m.key() != "generateName")
              out.push_back(ForbiddenField(child + ".properties[" + m.key() + "]",
                                           "must not specify anything other than name and "
                                           "generateName, but metadata is implicitly specified"));
          }
        }
        continue;
      }
      CheckNode(it.value(), child, false, preserve, out);
    }
  }
  if (auto ap = s.find("additionalProperties"); ap != s.end() && ap->is_object())
    CheckNode(*ap, path + ".additionalProperties", false, preserve, out);
  if (auto items = s.find("items"); items != s.end()) {
    if (items->is_object()) {
      CheckNode(*items, path + ".items", false, preserve, out);
    } else {
      out.push_back(
          ForbiddenField(path + ".items", "items must be a schema object and not an array"));
    }
  }
  if (auto pat = s.find("pattern"); pat != s.end() && pat->is_string()) {
    if (CompiledPattern(pat->get<std::string>()) == nullptr)
      out.push_back(InvalidField(path + ".pattern", *pat, "must be a valid regular expression"));
  }
  // Defaults must themselves be valid for their node (the apiserver checks them on CRD writes).
  if (auto d = s.find("default"); d != s.end()) {
    if (root) {
      out.push_back(ForbiddenField(path + ".default", "must not be set at the root"));
    } else {
      for (auto e : Validate(s, *d, "default")) {
        e.field = path + "." + e.field;  // re-rooted under the schema node
        out.push_back(std::move(e));
      }
    }
  }
}

}  // namespace

std::vector<FieldError> CheckStructural(const json& schema, const std::string& path) {
  std::vector<FieldError> out;
  CheckNode(schema, path, true, false, out);
  return out;
}

}  // namespace vmrelease::api::schema
