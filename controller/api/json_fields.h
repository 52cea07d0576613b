// Lossless JSON (de)serialisation for the API types, from one field list per type.
//
// Each API struct lists its fields once, in a static `Fields(io, self)` member
// template; the same list drives reading (with field paths in errors) and writing.
// Members the struct does not know are kept in its `extra` object and written
// back, so parse -> serialise gives equivalent JSON even for fields added by a
// newer CRD, by other controllers, or by a user's typo that the schema pruned.
//
//   struct Thing {
//     std::string name;
//     std::optional<int64_t> size;
//     Json extra;  // members Thing does not know
//     template <typename Io, typename Self>
//     static void Fields(Io& io, Self& s) { io.Field("name", s.name); io.Field("size", s.size); }
//   };
//
//   Thing t; RETURN_IF_ERROR(ReadJson(json, "spec.thing", t));  // "spec.thing.size: must be ..."
//   Json back = WriteJson(t);
//
// Presence rules (what makes the round trip lossless):
//   * `std::optional<T>` members: absent or null -> nullopt (a null stays in `extra`);
//     written whenever set, even to an empty value.
//   * plain members: absent -> default value. A present value that is "empty"
//     ("", [], {}) is left in `extra` rather than consumed, so it is written back
//     as it was; otherwise plain members are written only when not empty.
//     Numbers and booleans are never "empty", so they are always written.
//   * `io.Always(...)`: like a plain member but always written (required strings
//     that may legitimately be empty, e.g. a Condition's message).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::api {

using Json = nlohmann::json;

// Specialise for each API enum: `static constexpr std::pair<E, std::string_view> kValues[]`.
template <typename E>
struct EnumTraits;

template <typename E>
concept ApiEnum = std::is_enum_v<E> && requires {
  EnumTraits<E>::kValues;
};

// The wire name of an enum value ("Released" for ReleasePhase::kReleased).
template <ApiEnum E>
std::string_view EnumName(E value) {
  for (const auto& [v, name] : EnumTraits<E>::kValues) {
    if (v == value) return name;
  }
  return "";
}

// The enum value with wire name `name`, if any (exact, case-sensitive, like the API server).
template <ApiEnum E>
std::optional<E> EnumFromName(std::string_view name) {
  for (const auto& [v, n] : EnumTraits<E>::kValues) {
    if (n == name) return v;
  }
  return std::nullopt;
}

// `"A", "B"` for error messages.
template <ApiEnum E>
std::string EnumNameList() {
  std::string out;
  for (const auto& [v, name] : EnumTraits<E>::kValues) {
    if (!out.empty()) out += ", ";
    out += "\"" + std::string(name) + "\"";
  }
  return out;
}

// Field paths as Kubernetes prints them: "spec.checks[2].name", "spec.env[KEY]".
std::string JoinPath(const std::string& parent, std::string_view key);
std::string IndexPath(const std::string& parent, size_t index);
std::string KeyPath(const std::string& parent, std::string_view key);

// A JSON value that a plain member leaves in `extra` rather than consuming.
bool IsEmptyJson(const Json& j);
// "string", "number", "object", ... for error messages.
const char* JsonTypeName(const Json& j);

class FieldReader;
class FieldWriter;

template <typename T>
concept ApiStruct = requires(T& t, FieldReader& r) {
  { t.extra } -> std::convertible_to<Json>;
  T::Fields(r, t);
};

// --- reading ------------------------------------------------------------------------------

Status ReadValue(const Json& j, const std::string& path, std::string& out);
Status ReadValue(const Json& j, const std::string& path, int64_t& out);
Status ReadValue(const Json& j, const std::string& path, double& out);
Status ReadValue(const Json& j, const std::string& path, bool& out);
Status ReadValue(const Json& j, const std::string& path, Json& out);

template <ApiEnum E>
Status ReadValue(const Json& j, const std::string& path, E& out) {
  if (!j.is_string()) {
    return InvalidArgumentError(path + ": must be a string, got " + JsonTypeName(j));
  }
  auto v = EnumFromName<E>(j.get_ref<const std::string&>());
  if (!v) {
    return InvalidArgumentError(path + ": unsupported value \"" + j.get<std::string>() +
                                "\": supported values: " + EnumNameList<E>());
  }
  out = *v;
  return Status::Ok();
}

template <typename T>
Status ReadValue(const Json& j, const std::string& path, std::vector<T>& out);
template <typename T>
Status ReadValue(const Json& j, const std::string& path, std::map<std::string, T>& out);
template <ApiStruct T>
Status ReadValue(const Json& j, const std::string& path, T& out);

// Reads the members of one JSON object; remembers which were consumed and the
// first error (later fields are still read so `extra` is complete).
class FieldReader {
 public:
  FieldReader(const Json& object, std::string path) : object_(object), path_(std::move(path)) {}

  template <typename T>
  void Field(const char* key, T& out) {
    Read(key, out, /*keep_empty_in_extra=*/true);
  }
  template <typename T>
  void Field(const char* key, std::optional<T>& out) {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return;
    T value{};
    Note(ReadValue(*it, JoinPath(path_, key), value));
    out = std::move(value);
    consumed_.insert(key);
  }
  template <typename T>
  void Always(const char* key, T& out) {
    Read(key, out, /*keep_empty_in_extra=*/false);
  }

  // The members that no Field() consumed (an object, possibly empty).
  Json Rest() const;
  const Status& status() const { return status_; }

 private:
  template <typename T>
  void Read(const char* key, T& out, bool keep_empty_in_extra) {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return;
    Note(ReadValue(*it, JoinPath(path_, key), out));
    if (!(keep_empty_in_extra && IsEmptyJson(*it))) consumed_.insert(key);
  }
  void Note(const Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }

  const Json& object_;
  std::string path_;
  std::set<std::string, std::less<>> consumed_;
  Status status_;
};

template <typename T>
Status ReadValue(const Json& j, const std::string& path, std::vector<T>& out) {
  if (!j.is_array())
    return InvalidArgumentError(path + ": must be an array, got " + JsonTypeName(j));
  out.clear();
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    T item{};
    RETURN_IF_ERROR(ReadValue(j[i], IndexPath(path, i), item));
    out.push_back(std::move(item));
  }
  return Status::Ok();
}

template <typename T>
Status ReadValue(const Json& j, const std::string& path, std::map<std::string, T>& out) {
  if (!j.is_object()) {
    return InvalidArgumentError(path + ": must be an object, got " + JsonTypeName(j));
  }
  out.clear();
  for (const auto& [key, value] : j.items()) {
    T item{};
    RETURN_IF_ERROR(ReadValue(value, KeyPath(path, key), item));
    out.emplace(key, std::move(item));
  }
  return Status::Ok();
}

template <ApiStruct T>
Status ReadValue(const Json& j, const std::string& path, T& out) {
  if (!j.is_object()) {
    return InvalidArgumentError(path + ": must be an object, got " + JsonTypeName(j));
  }
  FieldReader reader(j, path);
  T::Fields(reader, out);
  out.extra = reader.Rest();
  return reader.status();
}

// Reads `j` into `out`; errors name the field path below `path`.
template <typename T>
Status ReadJson(const Json& j, const std::string& path, T& out) {
  return ReadValue(j, path, out);
}

// --- writing ------------------------------------------------------------------------------

inline Json WriteValue(const std::string& v) { return v; }
inline Json WriteValue(int64_t v) { return v; }
inline Json WriteValue(double v) { return v; }
inline Json WriteValue(bool v) { return v; }
inline Json WriteValue(const Json& v) { return v; }
template <ApiEnum E>
Json WriteValue(E v) {
  return std::string(EnumName(v));
}
template <typename T>
Json WriteValue(const std::vector<T>& v);
template <typename T>
Json WriteValue(const std::map<std::string, T>& v);
template <ApiStruct T>
Json WriteValue(const T& v);

class FieldWriter {
 public:
  explicit FieldWriter(Json& out) : out_(out) {}

  template <typename T>
  void Field(const char* key, const T& value) {
    Json j = WriteValue(value);
    if (!IsEmptyJson(j)) out_[key] = std::move(j);
  }
  template <typename T>
  void Field(const char* key, const std::optional<T>& value) {
    if (value) out_[key] = WriteValue(*value);
  }
  template <typename T>
  void Always(const char* key, const T& value) {
    out_[key] = WriteValue(value);
  }

 private:
  Json& out_;
};

template <typename T>
Json WriteValue(const std::vector<T>& v) {
  Json out = Json::array();
  for (const auto& item : v) out.push_back(WriteValue(item));
  return out;
}

template <typename T>
Json WriteValue(const std::map<std::string, T>& v) {
  Json out = Json::object();
  for (const auto& [key, item] : v) out[key] = WriteValue(item);
  return out;
}

template <ApiStruct T>
Json WriteValue(const T& v) {
  Json out = v.extra.is_object() ? v.extra : Json::object();
  FieldWriter writer(out);
  T::Fields(writer, v);
  return out;
}

template <typename T>
Json WriteJson(const T& v) {
  return WriteValue(v);
}

}  // namespace vmrelease::api
