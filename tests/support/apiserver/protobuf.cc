#include "tests/support/apiserver/protobuf.h"

#include <map>

#include "controller/common/clock.h"
#include "controller/common/crypto.h"

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

// Field kinds of the handful of generated messages we decode.
enum class Kind {
  kString,
  kBytes,
  kInt,
  kBool,
  kTime,
  kMessage,
  kMapStringString,
  kMapStringBytes,
  kRepeatedString,
  kRepeatedMessage
};
struct Field {
  const char* name;
  Kind kind;
  const char* message = nullptr;  // for kMessage / kRepeatedMessage
};
using MessageSpec = std::map<int, Field>;

const std::map<std::string, MessageSpec>& Specs() {
  static const std::map<std::string, MessageSpec> specs = {
      {"ObjectMeta",
       {{1, {"name", Kind::kString}},
        {2, {"generateName", Kind::kString}},
        {3, {"namespace", Kind::kString}},
        {5, {"uid", Kind::kString}},
        {6, {"resourceVersion", Kind::kString}},
        {7, {"generation", Kind::kInt}},
        {8, {"creationTimestamp", Kind::kTime}},
        {9, {"deletionTimestamp", Kind::kTime}},
        {10, {"deletionGracePeriodSeconds", Kind::kInt}},
        {11, {"labels", Kind::kMapStringString}},
        {12, {"annotations", Kind::kMapStringString}},
        {13, {"ownerReferences", Kind::kRepeatedMessage, "OwnerReference"}},
        {14, {"finalizers", Kind::kRepeatedString}}}},
      {"OwnerReference",
       {{1, {"kind", Kind::kString}},
        {3, {"name", Kind::kString}},
        {4, {"uid", Kind::kString}},
        {5, {"apiVersion", Kind::kString}},
        {6, {"controller", Kind::kBool}},
        {7, {"blockOwnerDeletion", Kind::kBool}}}},
      {"ObjectReference",
       {{1, {"kind", Kind::kString}},
        {2, {"namespace", Kind::kString}},
        {3, {"name", Kind::kString}},
        {4, {"uid", Kind::kString}},
        {5, {"apiVersion", Kind::kString}},
        {6, {"resourceVersion", Kind::kString}},
        {7, {"fieldPath", Kind::kString}}}},
      {"LocalObjectReference", {{1, {"name", Kind::kString}}}},
      {"ConfigMap",
       {{1, {"metadata", Kind::kMessage, "ObjectMeta"}},
        {2, {"data", Kind::kMapStringString}},
        {3, {"binaryData", Kind::kMapStringBytes}},
        {4, {"immutable", Kind::kBool}}}},
      {"Secret",
       {{1, {"metadata", Kind::kMessage, "ObjectMeta"}},
        {2, {"data", Kind::kMapStringBytes}},
        {3, {"type", Kind::kString}},
        {4, {"stringData", Kind::kMapStringString}},
        {5, {"immutable", Kind::kBool}}}},
      {"Namespace",
       {{1, {"metadata", Kind::kMessage, "ObjectMeta"}},
        {2, {"spec", Kind::kMessage, "NamespaceSpec"}},
        {3, {"status", Kind::kMessage, "NamespaceStatus"}}}},
      {"NamespaceSpec", {{1, {"finalizers", Kind::kRepeatedString}}}},
      {"NamespaceStatus", {{1, {"phase", Kind::kString}}}},
      {"ServiceAccount",
       {{1, {"metadata", Kind::kMessage, "ObjectMeta"}},
        {2, {"secrets", Kind::kRepeatedMessage, "ObjectReference"}},
        {3, {"imagePullSecrets", Kind::kRepeatedMessage, "LocalObjectReference"}},
        {4, {"automountServiceAccountToken", Kind::kBool}}}},
      {"Time", {{1, {"seconds", Kind::kInt}}, {2, {"nanos", Kind::kInt}}}},
      {"Unknown",
       {{1, {"typeMeta", Kind::kMessage, "TypeMeta"}},
        {2, {"raw", Kind::kBytes}},
        {3, {"contentEncoding", Kind::kString}},
        {4, {"contentType", Kind::kString}}}},
      {"TypeMeta", {{1, {"apiVersion", Kind::kString}}, {2, {"kind", Kind::kString}}}},
      {"MapEntry", {{1, {"key", Kind::kString}}, {2, {"value", Kind::kBytes}}}},
  };
  return specs;
}

class Reader {
 public:
  explicit Reader(std::string_view data) : d_(data) {}
  bool done() const { return pos_ >= d_.size(); }
  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= d_.size()) return false;
      const auto b = static_cast<uint8_t>(d_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  bool Bytes(std::string_view* out) {
    uint64_t n = 0;
    if (!Varint(&n) || n > d_.size() - pos_) return false;
    *out = d_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Skip(int wire_type) {
    uint64_t tmp = 0;
    std::string_view sv;
    switch (wire_type) {
      case 0:
        return Varint(&tmp);
      case 1:
        if (d_.size() - pos_ < 8) return false;
        pos_ += 8;
        return true;
      case 2:
        return Bytes(&sv);
      case 5:
        if (d_.size() - pos_ < 4) return false;
        pos_ += 4;
        return true;
      default:
        return false;
    }
  }

 private:
  std::string_view d_;
  size_t pos_ = 0;
};

bool DecodeMessage(std::string_view data, const std::string& type, json* out, int depth = 0);

bool DecodeMapEntry(std::string_view data, std::string* key, std::string* value) {
  json e;
  if (!DecodeMessage(data, "MapEntry", &e, 1)) return false;
  *key = e.value("key", "");
  *value = e.contains("value") ? e["value"].get<std::string>() : "";
  return true;
}

bool DecodeMessage(std::string_view data, const std::string& type, json* out, int depth) {
  if (depth > 16) return false;
  const auto& specs = Specs();
  auto spec_it = specs.find(type);
  if (spec_it == specs.end()) return false;
  const MessageSpec& spec = spec_it->second;
  *out = json::object();
  Reader r(data);
  while (!r.done()) {
    uint64_t key = 0;
    if (!r.Varint(&key)) return false;
    const int field = static_cast<int>(key >> 3);
    const int wire = static_cast<int>(key & 7);
    auto f = spec.find(field);
    if (f == spec.end()) {
      if (!r.Skip(wire)) return false;
      continue;
    }
    const Field& fd = f->second;
    if (wire == 0) {
      uint64_t v = 0;
      if (!r.Varint(&v)) return false;
      // gogo-generated proto2 code writes non-pointer scalars even when zero;
      // zero means unset for every field we decode.
      if (v == 0 && fd.kind != Kind::kBool) continue;
      if (fd.kind == Kind::kBool)
        (*out)[fd.name] = v != 0;
      else
        (*out)[fd.name] = static_cast<int64_t>(v);
      continue;
    }
    if (wire != 2) {
      if (!r.Skip(wire)) return false;
      continue;
    }
    std::string_view bytes;
    if (!r.Bytes(&bytes)) return false;
    switch (fd.kind) {
      case Kind::kString:
        if (!bytes.empty()) (*out)[fd.name] = std::string(bytes);  // empty = unset (see above)
        break;
      case Kind::kBytes:
        (*out)[fd.name] = std::string(bytes);
        break;
      case Kind::kRepeatedString:
        (*out)[fd.name].push_back(std::string(bytes));
        break;
      case Kind::kMessage:
      case Kind::kRepeatedMessage: {
        json sub;
        if (!DecodeMessage(bytes, fd.message, &sub, depth + 1)) return false;
        if (fd.kind == Kind::kMessage)
          (*out)[fd.name] = sub;
        else
          (*out)[fd.name].push_back(sub);
        break;
      }
      case Kind::kTime: {
        json t;
        if (!DecodeMessage(bytes, "Time", &t, depth + 1)) return false;
        const int64_t seconds = t.value("seconds", int64_t{0});
        if (seconds != 0) (*out)[fd.name] = FormatRfc3339(WallTime(std::chrono::seconds(seconds)));
        break;
      }
      case Kind::kMapStringString:
      case Kind::kMapStringBytes: {
        std::string k, v;
        if (!DecodeMapEntry(bytes, &k, &v)) return false;
        (*out)[fd.name][k] = fd.kind == Kind::kMapStringBytes ? Base64Encode(v) : v;
        break;
      }
      case Kind::kInt:
      case Kind::kBool:
        return false;  // scalars never arrive length-delimited
    }
  }
  return true;
}

}  // namespace

ApiOr<json> DecodeKubeProtobuf(const std::string& body) {
  static const std::string kMagic("k8s\0", 4);
  if (body.compare(0, 4, kMagic) != 0)
    return ApiError::BadRequest("protobuf body does not start with the k8s magic prefix");
  json unknown;
  if (!DecodeMessage(std::string_view(body).substr(4), "Unknown", &unknown))
    return ApiError::BadRequest("malformed protobuf body");
  const json tm = unknown.value("typeMeta", json::object());
  const std::string kind = tm.value("kind", "");
  const std::string api_version = tm.value("apiVersion", "");
  if (api_version != "v1" ||
      (kind != "ConfigMap" && kind != "Secret" && kind != "Namespace" && kind != "ServiceAccount"))
    return ApiError::UnsupportedMediaType(
        "the local API server decodes protobuf only for v1 "
        "ConfigMap, Secret, Namespace and ServiceAccount; send "
        "application/json for " +
        api_version + " " + kind);
  json obj;
  if (!DecodeMessage(unknown.value("raw", ""), kind, &obj))
    return ApiError::BadRequest("malformed protobuf " + kind);
  obj["apiVersion"] = api_version;
  obj["kind"] = kind;
  return obj;
}

}  // namespace vmrelease::apiserver
