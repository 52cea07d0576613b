#include "tests/support/apiserver/protobuf.h"

#include <cstring>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/crypto.h"
#include "controller/common/duration.h"

namespace vmrelease::apiserver {
namespace internal {
extern const char kKubeProtobufSchema[];
}  // namespace internal

namespace {

using nlohmann::json;

// Field kinds in protobuf_schema.cc. Lower case: a Go value field (a zero
// scalar means unset and is dropped, as `omitempty` does); upper case: a Go
// pointer (present means set, even when zero: `backoffLimit: 0` must survive).
enum class Kind {
  kString,           // s / S
  kInt,              // i / I (int32, int64: two's complement varints)
  kBool,             // b / B
  kDouble,           // d
  kMessage,          // m / M
  kInline,           // x: an embedded struct whose fields JSON shows in the parent
  kRepeatedString,   // rs
  kRepeatedInt,      // ri (packed or not)
  kRepeatedBytes,    // rby (base64 in JSON)
  kRepeatedMessage,  // rm
  kBytes,            // by (base64 in JSON)
  kMapString,        // ms
  kMapBytes,         // mb
  kMapQuantity,      // mq (map to resource.Quantity)
  kMapMessage,       // mm
  kTime,             // t / T: meta/v1 Time {seconds, nanos} -> RFC 3339
  kMicroTime,        // u / U
  kQuantity,         // q / Q: resource.Quantity {string} -> its string
  kIntOrString,      // ios: intstr.IntOrString {type, intVal, strVal}
  kDuration,         // dur: meta/v1 Duration {duration ns} -> "1m0s"
  kIgnored,          // -: read and dropped (selfLink, managedFields)
};

struct Field {
  std::string name;
  Kind kind = Kind::kString;
  bool pointer = false;
  std::string message;  // for message kinds
};
using MessageSpec = std::map<int, Field>;
using Schema = std::map<std::string, MessageSpec>;

bool ParseKind(const std::string& k, Field* f) {
  static const std::map<std::string, std::pair<Kind, bool>> kinds = {
      {"s", {Kind::kString, false}},
      {"S", {Kind::kString, true}},
      {"i", {Kind::kInt, false}},
      {"I", {Kind::kInt, true}},
      {"b", {Kind::kBool, false}},
      {"B", {Kind::kBool, true}},
      {"d", {Kind::kDouble, true}},
      {"m", {Kind::kMessage, false}},
      {"M", {Kind::kMessage, true}},
      {"x", {Kind::kInline, false}},
      {"rs", {Kind::kRepeatedString, false}},
      {"ri", {Kind::kRepeatedInt, false}},
      {"rby", {Kind::kRepeatedBytes, false}},
      {"rm", {Kind::kRepeatedMessage, false}},
      {"by", {Kind::kBytes, false}},
      {"ms", {Kind::kMapString, false}},
      {"mb", {Kind::kMapBytes, false}},
      {"mq", {Kind::kMapQuantity, false}},
      {"mm", {Kind::kMapMessage, false}},
      {"t", {Kind::kTime, false}},
      {"T", {Kind::kTime, true}},
      {"u", {Kind::kMicroTime, false}},
      {"U", {Kind::kMicroTime, true}},
      {"q", {Kind::kQuantity, false}},
      {"Q", {Kind::kQuantity, true}},
      {"ios", {Kind::kIntOrString, true}},
      {"dur", {Kind::kDuration, true}},
      {"-", {Kind::kIgnored, false}},
  };
  auto it = kinds.find(k);
  if (it == kinds.end()) return false;
  f->kind = it->second.first;
  f->pointer = it->second.second;
  return true;
}

// Parses kKubeProtobufSchema once. A malformed table is a programming error
// caught by the unit test (every message used must resolve).
const Schema& GetSchema() {
  static const Schema schema = [] {
    Schema s;
    std::istringstream in(internal::kKubeProtobufSchema);
    std::string line, current;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      std::istringstream words(line);
      std::string word;
      if (line[0] != ' ') {
        words >> current;
        s[current];
      }
      while (words >> word) {
        // number:jsonName:kind[:Message]
        std::vector<std::string> parts;
        std::stringstream ps(word);
        for (std::string p; std::getline(ps, p, ':');) parts.push_back(p);
        if (parts.size() < 3) continue;
        Field f;
        f.name = parts[1];
        if (!ParseKind(parts[2], &f)) continue;
        if (parts.size() > 3) f.message = parts[3];
        try {
          s[current][std::stoi(parts[0])] = f;
        } catch (const std::exception&) {
        }
      }
    }
    return s;
  }();
  return schema;
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
  bool Fixed64(uint64_t* out) {
    if (d_.size() - pos_ < 8) return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(d_[pos_ + i]);
    pos_ += 8;
    *out = v;
    return true;
  }
  bool Skip(int wire_type) {
    uint64_t tmp = 0;
    std::string_view sv;
    switch (wire_type) {
      case 0:
        return Varint(&tmp);
      case 1:
        return Fixed64(&tmp);
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

// Why decoding failed: malformed bytes (400) or a field this table does not
// know (415: the client should send JSON rather than have data dropped).
struct DecodeError {
  bool unsupported = false;
  std::string message;
};

class Decoder {
 public:
  explicit Decoder(const Schema& schema) : schema_(schema) {}

  bool Message(std::string_view data, const std::string& type, json* out, int depth) {
    if (depth > 40) return Fail("protobuf message nested too deeply");
    auto spec_it = schema_.find(type);
    if (spec_it == schema_.end()) return Fail("no protobuf table for message " + type);
    const MessageSpec& spec = spec_it->second;
    if (!out->is_object()) *out = json::object();
    Reader r(data);
    while (!r.done()) {
      uint64_t key = 0;
      if (!r.Varint(&key)) return Fail("truncated field key in " + type);
      const int number = static_cast<int>(key >> 3);
      const int wire = static_cast<int>(key & 7);
      auto f = spec.find(number);
      if (f == spec.end()) {
        error_.unsupported = true;
        return Fail("protobuf field " + std::to_string(number) + " of " + type +
                    " is unknown to the local API server (its tables come from "
                    "k8s.io/api v0.32); send application/json instead");
      }
      if (!DecodeField(r, wire, f->second, type, out, depth)) return false;
    }
    return true;
  }

  const DecodeError& error() const { return error_; }

 private:
  bool Fail(std::string message) {
    if (error_.message.empty()) error_.message = std::move(message);
    return false;
  }

  static int64_t Signed(uint64_t v) { return static_cast<int64_t>(v); }

  bool Scalar(Reader& r, int wire, const Field& fd, const std::string& type, json* value) {
    if (fd.kind == Kind::kDouble) {
      uint64_t bits = 0;
      if (wire != 1 || !r.Fixed64(&bits)) return Fail("bad double " + type + "." + fd.name);
      double d = 0;
      static_assert(sizeof(d) == sizeof(bits));
      std::memcpy(&d, &bits, sizeof(d));
      *value = d;
      return true;
    }
    uint64_t v = 0;
    if (wire != 0 || !r.Varint(&v)) return Fail("bad varint " + type + "." + fd.name);
    if (fd.kind == Kind::kBool)
      *value = v != 0;
    else
      *value = Signed(v);
    return true;
  }

  // A nested message of `sub` type decoded from length-delimited bytes.
  bool Sub(Reader& r, int wire, const std::string& sub, const std::string& where, json* out,
           int depth) {
    std::string_view bytes;
    if (wire != 2 || !r.Bytes(&bytes)) return Fail("bad embedded message " + where);
    return Message(bytes, sub, out, depth + 1);
  }

  bool Special(Kind kind, const json& m, json* out) {
    switch (kind) {
      case Kind::kTime:
      case Kind::kMicroTime: {
        const int64_t seconds = m.value("seconds", int64_t{0});
        const int64_t nanos = m.value("nanos", int64_t{0});
        if (seconds == 0 && nanos == 0) return true;  // zero Time: JSON null, dropped
        WallTime t =
            WallTime(std::chrono::seconds(seconds)) +
            std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos));
        *out = FormatRfc3339(t, kind == Kind::kMicroTime);
        return true;
      }
      case Kind::kQuantity:
        *out = m.value("string", "");
        return true;
      case Kind::kIntOrString:
        if (m.value("type", int64_t{0}) == 1)
          *out = m.value("strVal", "");
        else
          *out = m.value("intVal", int64_t{0});
        return true;
      case Kind::kDuration:
        *out = FormatDuration(std::chrono::nanoseconds(m.value("duration", int64_t{0})));
        return true;
      default:
        return false;
    }
  }

  // The helper messages behind the special kinds.
  static const char* HelperMessage(Kind kind) {
    switch (kind) {
      case Kind::kTime:
      case Kind::kMicroTime:
        return "Time";
      case Kind::kQuantity:
      case Kind::kMapQuantity:
        return "Quantity";
      case Kind::kIntOrString:
        return "IntOrString";
      case Kind::kDuration:
        return "Duration";
      default:
        return nullptr;
    }
  }

  bool DecodeField(Reader& r, int wire, const Field& fd, const std::string& type, json* out,
                   int depth) {
    const std::string where = type + "." + fd.name;
    json& obj = *out;
    switch (fd.kind) {
      case Kind::kIgnored:
        return r.Skip(wire) || Fail("bad field " + where);
      case Kind::kInt:
      case Kind::kBool:
      case Kind::kDouble: {
        json v;
        if (!Scalar(r, wire, fd, type, &v)) return false;
        // gogo-generated proto2 code writes value fields even when zero.
        const bool zero = v == json(0) || v == json(false) || v == json(0.0);
        if (zero && !fd.pointer) return true;
        obj[fd.name] = v;
        return true;
      }
      case Kind::kRepeatedInt: {
        json& arr = obj[fd.name];
        if (!arr.is_array()) arr = json::array();
        if (wire == 2) {  // packed
          std::string_view bytes;
          if (!r.Bytes(&bytes)) return Fail("bad packed " + where);
          Reader pr(bytes);
          while (!pr.done()) {
            uint64_t v = 0;
            if (!pr.Varint(&v)) return Fail("bad packed " + where);
            arr.push_back(Signed(v));
          }
          return true;
        }
        json v;
        if (!Scalar(r, wire, fd, type, &v)) return false;
        arr.push_back(v);
        return true;
      }
      default:
        break;
    }
    std::string_view bytes;
    if (fd.kind == Kind::kString || fd.kind == Kind::kBytes || fd.kind == Kind::kRepeatedString ||
        fd.kind == Kind::kRepeatedBytes) {
      if (wire != 2 || !r.Bytes(&bytes)) return Fail("bad bytes " + where);
      switch (fd.kind) {
        case Kind::kString:
          if (!bytes.empty() || fd.pointer) obj[fd.name] = std::string(bytes);
          return true;
        case Kind::kBytes:
          obj[fd.name] = Base64Encode(bytes);
          return true;
        case Kind::kRepeatedString:
          obj[fd.name].push_back(std::string(bytes));
          return true;
        default:
          obj[fd.name].push_back(Base64Encode(bytes));
          return true;
      }
    }
    switch (fd.kind) {
      case Kind::kMessage:
        return Sub(r, wire, fd.message, where, &obj[fd.name], depth);
      case Kind::kInline:
        return Sub(r, wire, fd.message, where, out, depth);  // fields land in the parent
      case Kind::kRepeatedMessage: {
        json item;
        if (!Sub(r, wire, fd.message, where, &item, depth)) return false;
        obj[fd.name].push_back(std::move(item));
        return true;
      }
      case Kind::kMapString:
      case Kind::kMapBytes:
      case Kind::kMapQuantity:
      case Kind::kMapMessage: {
        // A map entry: key = 1 (string), value = 2.
        if (wire != 2 || !r.Bytes(&bytes)) return Fail("bad map entry " + where);
        Reader er(bytes);
        std::string key;
        json value;
        while (!er.done()) {
          uint64_t k = 0;
          if (!er.Varint(&k)) return Fail("bad map entry " + where);
          std::string_view part;
          if ((k & 7) != 2 || !er.Bytes(&part)) return Fail("bad map entry " + where);
          if ((k >> 3) == 1) {
            key = std::string(part);
          } else if ((k >> 3) == 2) {
            if (fd.kind == Kind::kMapString) {
              value = std::string(part);
            } else if (fd.kind == Kind::kMapBytes) {
              value = Base64Encode(part);
            } else {
              json m;
              const std::string sub = fd.kind == Kind::kMapQuantity ? "Quantity" : fd.message;
              if (!Message(part, sub, &m, depth + 1)) return false;
              value = fd.kind == Kind::kMapQuantity ? json(m.value("string", "")) : m;
            }
          }
        }
        if (value.is_null()) value = fd.kind == Kind::kMapMessage ? json::object() : json("");
        obj[fd.name][key] = value;
        return true;
      }
      default: {
        const char* helper = HelperMessage(fd.kind);
        if (helper == nullptr) return Fail("unhandled field kind at " + where);
        json m;
        if (!Sub(r, wire, helper, where, &m, depth)) return false;
        json v;
        if (!Special(fd.kind, m, &v)) return false;
        if (v.is_null()) return true;
        if (!fd.pointer && (v == json("") || v == json(0))) return true;
        obj[fd.name] = v;
        return true;
      }
    }
  }

  const Schema& schema_;
  DecodeError error_;
};

// The helper messages the special kinds decode through, added to the table.
const Schema& FullSchema() {
  static const Schema schema = [] {
    Schema s = GetSchema();
    auto add = [&](const std::string& msg, int n, const std::string& name, Kind kind,
                   const std::string& sub = "") {
      Field f;
      f.name = name;
      f.kind = kind;
      f.pointer = true;
      f.message = sub;
      s[msg][n] = f;
    };
    add("Time", 1, "seconds", Kind::kInt);
    add("Time", 2, "nanos", Kind::kInt);
    add("Quantity", 1, "string", Kind::kString);
    add("IntOrString", 1, "type", Kind::kInt);
    add("IntOrString", 2, "intVal", Kind::kInt);
    add("IntOrString", 3, "strVal", Kind::kString);
    add("Duration", 1, "duration", Kind::kInt);
    add("TypeMeta", 1, "apiVersion", Kind::kString);
    add("TypeMeta", 2, "kind", Kind::kString);
    return s;
  }();
  return schema;
}

// (apiVersion, kind) -> the top-level message.
const std::map<std::pair<std::string, std::string>, std::string>& TopLevelKinds() {
  static const std::map<std::pair<std::string, std::string>, std::string> kinds = {
      {{"v1", "ConfigMap"}, "ConfigMap"}, {{"v1", "Secret"}, "Secret"},
      {{"v1", "Namespace"}, "Namespace"}, {{"v1", "ServiceAccount"}, "ServiceAccount"},
      {{"v1", "Service"}, "Service"},     {{"batch/v1", "Job"}, "Job"},
  };
  return kinds;
}

}  // namespace

std::vector<std::string> UnresolvedProtobufMessages() {
  std::vector<std::string> out;
  const Schema& s = FullSchema();
  for (const auto& [name, spec] : s) {
    for (const auto& [n, f] : spec) {
      if (!f.message.empty() && !s.count(f.message)) out.push_back(name + "." + f.name);
    }
  }
  for (const auto& [key, msg] : TopLevelKinds())
    if (!s.count(msg)) out.push_back(msg);
  return out;
}

ApiOr<json> DecodeKubeProtobuf(const std::string& body) {
  static const std::string kMagic("k8s\0", 4);
  if (body.compare(0, 4, kMagic) != 0)
    return ApiError::BadRequest("protobuf body does not start with the k8s magic prefix");
  const Schema& schema = FullSchema();
  // The envelope (runtime.Unknown); `raw` must stay bytes, so it is read by hand.
  Reader r(std::string_view(body).substr(4));
  std::string api_version, kind;
  std::string_view raw;
  while (!r.done()) {
    uint64_t key = 0;
    if (!r.Varint(&key)) return ApiError::BadRequest("malformed protobuf body");
    const int wire = static_cast<int>(key & 7);
    if ((key >> 3) == 1 && wire == 2) {
      std::string_view tm;
      if (!r.Bytes(&tm)) return ApiError::BadRequest("malformed protobuf body");
      Decoder d(schema);
      json t;
      if (!d.Message(tm, "TypeMeta", &t, 0)) return ApiError::BadRequest("malformed protobuf body");
      api_version = t.value("apiVersion", "");
      kind = t.value("kind", "");
    } else if ((key >> 3) == 2 && wire == 2) {
      if (!r.Bytes(&raw)) return ApiError::BadRequest("malformed protobuf body");
    } else if (!r.Skip(wire)) {
      return ApiError::BadRequest("malformed protobuf body");
    }
  }
  auto top = TopLevelKinds().find({api_version, kind});
  if (top == TopLevelKinds().end())
    return ApiError::UnsupportedMediaType(
        "the local API server decodes protobuf only for v1 ConfigMap, Secret, Namespace, "
        "ServiceAccount, Service and batch/v1 Job; send application/json for " +
        api_version + " " + kind);
  Decoder d(schema);
  json obj = json::object();
  if (!d.Message(raw, top->second, &obj, 0)) {
    if (d.error().unsupported) return ApiError::UnsupportedMediaType(d.error().message);
    return ApiError::BadRequest("malformed protobuf " + kind + ": " + d.error().message);
  }
  obj["apiVersion"] = api_version;
  obj["kind"] = kind;
  return obj;
}

}  // namespace vmrelease::apiserver
