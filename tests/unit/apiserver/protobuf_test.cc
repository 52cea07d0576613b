// Decoding of the Kubernetes protobuf envelope for the kinds `kubectl create`
// sends as protobuf, from hand-encoded bytes.
#include "tests/support/apiserver/protobuf.h"

#include <gtest/gtest.h>

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  return out + static_cast<char>(v);
}
std::string Bytes(int field, const std::string& payload) {
  return Varint(static_cast<uint64_t>(field) << 3 | 2) + Varint(payload.size()) + payload;
}
std::string Int(int field, uint64_t v) {
  return Varint(static_cast<uint64_t>(field) << 3) + Varint(v);
}
std::string Entry(int field, const std::string& k, const std::string& v) {
  return Bytes(field, Bytes(1, k) + Bytes(2, v));
}
std::string Envelope(const std::string& kind, const std::string& raw) {
  return std::string("k8s\0", 4) + Bytes(1, Bytes(1, "v1") + Bytes(2, kind)) + Bytes(2, raw);
}

TEST(ProtobufTest, DecodesConfigMapSkippingZeroValuesAndUnknownFields) {
  const std::string meta = Bytes(1, "cm") + Bytes(2, "") + Int(7, 0) + Entry(11, "app", "web") +
                           Bytes(8, "") + Int(99, 5);  // empty time, unknown varint field 99
  const std::string raw =
      Bytes(1, meta) + Entry(2, "k", "v") + Entry(3, "bin", std::string("\0\1", 2));
  auto obj = DecodeKubeProtobuf(Envelope("ConfigMap", raw));
  ASSERT_TRUE(obj.ok()) << obj.error().message;
  EXPECT_EQ(*obj, json({{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", {{"name", "cm"}, {"labels", {{"app", "web"}}}}},
                        {"data", {{"k", "v"}}},
                        {"binaryData", {{"bin", "AAE="}}}}));
}

TEST(ProtobufTest, DecodesSecretAndNamespace) {
  auto secret = DecodeKubeProtobuf(Envelope(
      "Secret", Bytes(1, Bytes(1, "s")) + Entry(2, "password", "s3cret") + Bytes(3, "Opaque")));
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ((*secret)["data"]["password"], "czNjcmV0");
  EXPECT_EQ((*secret)["type"], "Opaque");
  auto ns = DecodeKubeProtobuf(
      Envelope("Namespace", Bytes(1, Bytes(1, "team") + Bytes(14, "f1") + Bytes(14, "f2"))));
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ((*ns)["metadata"]["finalizers"], json({"f1", "f2"}));
}

TEST(ProtobufTest, RejectsOtherKindsAndGarbage) {
  auto pod = DecodeKubeProtobuf(Envelope("Pod", Bytes(1, Bytes(1, "p"))));
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().code, 415);
  EXPECT_EQ(DecodeKubeProtobuf("{\"kind\":\"ConfigMap\"}").error().code, 400);
  EXPECT_EQ(DecodeKubeProtobuf(std::string("k8s\0\x0a\xff", 6)).error().code, 400);  // truncated
}

}  // namespace
}  // namespace vmrelease::apiserver
