// The local API server refuses what a real kube-apiserver (v1.32, etcd with its
// defaults) refuses, with the same status codes and messages, and keeps serving:
// request bodies over 3 MiB (413), ConfigMap/Secret data over 1 MiB (422),
// objects over etcd's 1.5 MiB request limit (500 "etcdserver: request is too
// large"), JSON nested deeper than 10,000 levels (400) — and it accepts a
// custom resource nested 9,000 levels deep inside x-kubernetes-preserve-unknown-fields
// as a real one does. See docs/local-apiserver.md, "Limits".
#include <gtest/gtest.h>

#include "controller/api/manifest.h"
#include "controller/common/crypto.h"
#include "tests/support/apiserver/fixture.h"

namespace vmrelease::testing {
namespace {

using nlohmann::json;

constexpr char kCms[] = "/api/v1/namespaces/default/configmaps";
constexpr char kSecrets[] = "/api/v1/namespaces/default/secrets";
constexpr char kReleases[] = "/apis/vmrelease.io/v1alpha1/namespaces/default/imagereleases";

// `depth` nested objects {"a":{"a":...{}}} as JSON text, built without recursion.
std::string NestedObjects(size_t depth) {
  std::string s;
  s.reserve(depth * 6 + 2);
  for (size_t i = 0; i + 1 < depth; ++i) s += "{\"a\":";
  s += "{}";
  s += std::string(depth - 1, '}');
  return s;
}

class ApiServerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = LocalApiServer::Start({.crds_dir = SourceDir() + "/crds"});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s.value());
  }
  // The response; the body parsed (null when it is not JSON).
  std::pair<int, json> Call(const std::string& method, const std::string& path,
                            const std::string& body,
                            const std::string& content_type = "application/json") {
    auto r = server_->Request(method, path, body, content_type);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  // The server still answers: /readyz and a small create.
  void ExpectStillServing(const std::string& name) {
    auto ready = server_->Request("GET", "/readyz");
    ASSERT_TRUE(ready.ok()) << ready.status().ToString() << "\n" << server_->log();
    EXPECT_EQ(ready->status, 200);
    auto [code, cm] =
        Call("POST", kCms, json({{"metadata", {{"name", name}}}, {"data", {{"k", "v"}}}}).dump());
    EXPECT_EQ(code, 201) << cm.dump();
  }
  static json Release(const std::string& name) {
    auto docs =
        api::ParseYamlDocuments(ReadFile(SourceDir() + "/deploy/examples/release-job-packer.yaml"));
    EXPECT_TRUE(docs.ok()) << docs.status().ToString();
    json r = docs->at(0);
    r["metadata"]["name"] = name;
    return r;
  }

  std::unique_ptr<LocalApiServer> server_;
};

void ExpectStatus(const json& st, int code, const std::string& reason, const std::string& message) {
  EXPECT_EQ(st.value("kind", ""), "Status") << st.dump();
  EXPECT_EQ(st.value("status", ""), "Failure") << st.dump();
  EXPECT_EQ(st.value("code", 0), code) << st.dump();
  EXPECT_EQ(st.value("reason", ""), reason) << st.dump();
  EXPECT_EQ(st.value("message", ""), message);
}

TEST_F(ApiServerLimitsTest, RequestBodyOver3MiBIs413RequestEntityTooLarge) {
  // A ConfigMap body of 3 MiB + 1 byte: refused before it is decoded.
  json cm = {{"metadata", {{"name", "huge"}}}, {"data", {{"k", ""}}}};
  const std::string shell = cm.dump();
  cm["data"]["k"] = std::string(3 * 1024 * 1024 + 1 - shell.size(), 'x');
  const std::string body = cm.dump();
  ASSERT_EQ(body.size(), 3u * 1024 * 1024 + 1);
  for (const auto& [method, path, type] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", kCms, "application/json"},
           {"PUT", std::string(kCms) + "/huge", "application/json"},
           {"PATCH", std::string(kCms) + "/huge", "application/merge-patch+json"}}) {
    auto [code, st] = Call(method, path, body, type);
    EXPECT_EQ(code, 413) << method;
    ExpectStatus(st, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728");
  }
  ExpectStillServing("after-413");
}

TEST_F(ApiServerLimitsTest, ConfigMapDataOver1MiBIs422NamingTheWholeObject) {
  // data and binaryData together: exactly 1 MiB is fine, one byte more is not.
  const std::string half(512 * 1024, 'x');
  json ok = {{"metadata", {{"name", "one-mib"}}},
             {"data", {{"a", half}}},
             {"binaryData", {{"b", Base64Encode(half)}}}};
  auto [ok_code, created] = Call("POST", kCms, ok.dump());
  EXPECT_EQ(ok_code, 201) << created.dump().substr(0, 300);

  json big = ok;
  big["metadata"]["name"] = "big";
  big["data"]["c"] = "y";
  auto [code, st] = Call("POST", kCms, big.dump());
  EXPECT_EQ(code, 422);
  // ValidateConfigMap reports the whole object: field.NewPath("") prints as "[]".
  ExpectStatus(st, 422, "Invalid",
               "ConfigMap \"big\" is invalid: []: Too long: may not be more than 1048576 bytes");
  ASSERT_TRUE(st["details"]["causes"].is_array());
  EXPECT_EQ(st["details"]["causes"][0].value("field", ""), "[]");
  EXPECT_EQ(st["details"]["causes"][0].value("reason", ""), "FieldValueTooLong");

  // An update that grows an accepted ConfigMap past the limit is refused the same way.
  auto [pcode, pst] =
      Call("PATCH", std::string(kCms) + "/one-mib", json({{"data", {{"more", "z"}}}}).dump(),
           "application/merge-patch+json");
  EXPECT_EQ(pcode, 422);
  EXPECT_EQ(pst.value("message", ""),
            "ConfigMap \"one-mib\" is invalid: []: Too long: may not be more than 1048576 bytes");
  ExpectStillServing("after-cm-422");
}

TEST_F(ApiServerLimitsTest, SecretDataOver1MiBIs422NamingData) {
  // The decoded bytes count (stringData lands in data first).
  json ok = {{"metadata", {{"name", "one-mib"}}},
             {"data", {{"a", Base64Encode(std::string(1024 * 1024 - 1, 's'))}}},
             {"stringData", {{"b", "t"}}}};
  auto [ok_code, created] = Call("POST", kSecrets, ok.dump());
  EXPECT_EQ(ok_code, 201) << created.dump().substr(0, 300);

  json big = ok;
  big["metadata"]["name"] = "big";
  big["stringData"]["c"] = "u";
  auto [code, st] = Call("POST", kSecrets, big.dump());
  EXPECT_EQ(code, 422);
  ExpectStatus(st, 422, "Invalid",
               "Secret \"big\" is invalid: data: Too long: may not be more than 1048576 bytes");
  EXPECT_EQ(st["details"]["causes"][0].value("field", ""), "data");
  // The message never carries the data.
  EXPECT_EQ(st.dump().find("sss"), std::string::npos);
  ExpectStillServing("after-secret-422");
}

TEST_F(ApiServerLimitsTest, ObjectOverEtcdsRequestLimitIsRefusedAsEtcdRefusesIt) {
  // 2 MiB inside a preserve-unknown-fields section: under the 3 MiB body limit, no
  // schema limit applies, but etcd (--max-request-bytes 1.5 MiB) refuses the write.
  json r = Release("too-large-1.0.0");
  r["spec"]["build"]["job"]["template"]["spec"]["blob"] = std::string(2 * 1024 * 1024, 'b');
  auto [code, st] = Call("POST", kReleases, r.dump());
  EXPECT_EQ(code, 500);
  // apiserver passes etcd's error through as a Status without a reason.
  ExpectStatus(st, 500, "", "etcdserver: request is too large");
  auto [gcode, got] = Call("GET", std::string(kReleases) + "/too-large-1.0.0", "");
  EXPECT_EQ(gcode, 404) << "nothing was stored";

  // Growing a stored object past the limit: the same error, the old object stays.
  json small = Release("grows-1.0.0");
  auto [ccode, created] = Call("POST", kReleases, small.dump());
  ASSERT_EQ(ccode, 201) << created.dump();
  json patch = json::object();
  patch["spec"]["build"]["job"]["template"]["spec"]["blob"] = std::string(1600 * 1024, 'c');
  auto [pcode, pst] = Call("PATCH", std::string(kReleases) + "/grows-1.0.0", patch.dump(),
                           "application/merge-patch+json");
  EXPECT_EQ(pcode, 500) << pst.dump().substr(0, 300);
  EXPECT_EQ(pst.value("message", ""), "etcdserver: request is too large");
  auto [g2, still] = Call("GET", std::string(kReleases) + "/grows-1.0.0", "");
  EXPECT_EQ(g2, 200);
  EXPECT_EQ(still["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
  ExpectStillServing("after-etcd-too-large");
}

TEST_F(ApiServerLimitsTest, JsonNestedDeeperThan10000LevelsIs400AndTheServerKeepsServing) {
  for (size_t depth : {size_t{10001}, size_t{200000}}) {
    const std::string body =
        "{\"metadata\":{\"name\":\"deep\"},\"data\":" + NestedObjects(depth - 1) + "}";
    auto [code, st] = Call("POST", kCms, body);
    EXPECT_EQ(code, 400) << depth;
    ExpectStatus(st, 400, "BadRequest",
                 "the object provided is unrecognized (must be of type ConfigMap): couldn't get "
                 "version/kind; json parse error: invalid character '{' exceeded max depth "
                 "({\"metadata\":{\"name\":\"deep\"},\"d ...)");
    // Patches and DeleteOptions are decoded the same way.
    auto [pcode, pst] =
        Call("PATCH", std::string(kCms) + "/deep", body, "application/merge-patch+json");
    EXPECT_EQ(pcode, 400) << depth;
    auto [dcode, dst] = Call("DELETE", std::string(kCms) + "/deep", body);
    EXPECT_EQ(dcode, 400) << depth;
    ExpectStillServing("after-deep-" + std::to_string(depth));
  }
}

TEST_F(ApiServerLimitsTest, YamlNestedTooDeeplyIs400) {
  std::string yaml = "metadata: {name: deep-yaml}\ndata: ";
  yaml += std::string(5000, '[') + std::string(5000, ']') + "\n";
  auto [code, st] = Call("POST", kCms, yaml, "application/yaml");
  EXPECT_EQ(code, 400);
  EXPECT_EQ(st.value("kind", ""), "Status");
  EXPECT_EQ(st.value("reason", ""), "BadRequest");
  ExpectStillServing("after-deep-yaml");
}

TEST_F(ApiServerLimitsTest, CustomResourceNested9000LevelsInPreservedFieldsIsAccepted) {
  // What a real API server accepts (under Go's 10,000 limit) is stored and served back.
  json r = Release("deep-1.0.0");
  std::string body = r.dump();
  const std::string anchor = "\"serviceAccountName\":";
  const size_t at = body.find(anchor);
  ASSERT_NE(at, std::string::npos);
  body.insert(at, "\"deep\":" + NestedObjects(9000) + ",");
  auto [code, created] = Call("POST", kReleases, body);
  ASSERT_EQ(code, 201) << created.dump().substr(0, 500) << "\n" << server_->log();
  auto got = server_->Request("GET", std::string(kReleases) + "/deep-1.0.0");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status, 200);
  EXPECT_NE(got->body.find(NestedObjects(50)), std::string::npos);
  ExpectStillServing("after-deep-cr");
}

}  // namespace
}  // namespace vmrelease::testing
