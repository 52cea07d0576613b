// The C++ validation against a real CEL evaluator (@marcbachmann/cel-js, installed by
// scripts/setup.sh): for every example and every "semantic" corpus case, the CRDs' CEL
// rules are evaluated as the API server would (cel_eval.mjs), and
//   * every rule that fails has a C++ error with the same message, and
//   * every C++ error that carries a CEL rule's message comes with that rule failing,
// so the mirror in controller/api is exactly as strict as the CRDs on a real cluster.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "controller/api/manifest.h"
#include "controller/api/validation.h"
#include "tests/unit/api/api_test_util.h"

namespace vmrelease::api {
namespace {

using testing::CorpusCase;
using testing::CorpusFiles;
using testing::CrdFiles;
using testing::ExampleFiles;
using testing::LoadCorpusCase;
using testing::TestName;
using vmrelease::testing::SourceDir;

struct Case {
  std::string name;
  std::vector<Json> docs;
};

FieldErrors CppErrors(const Case& c) {
  auto parse_release = [](const Json& j) { return *ParseImageRelease(j); };
  auto parse_pin = [](const Json& j) { return *ParseEnvironmentPin(j); };
  if (c.docs[0]["kind"] == kEnvironmentPinKind) {
    return c.docs.size() == 1 ? Validate(parse_pin(c.docs[0]))
                              : ValidateUpdate(parse_pin(c.docs[0]), parse_pin(c.docs[1]));
  }
  return c.docs.size() == 1 ? Validate(parse_release(c.docs[0]))
                            : ValidateUpdate(parse_release(c.docs[0]), parse_release(c.docs[1]));
}

void CollectMessages(const Json& node, std::set<std::string>& out) {
  if (node.is_object()) {
    if (auto it = node.find("x-kubernetes-validations"); it != node.end()) {
      for (const auto& rule : *it) out.insert(rule["message"].get<std::string>());
    }
    for (const auto& [k, v] : node.items()) CollectMessages(v, out);
  } else if (node.is_array()) {
    for (const auto& v : node) CollectMessages(v, out);
  }
}

TEST(CelTest, CppMirrorsEveryCelRuleExactly) {
  std::vector<Case> cases;
  std::set<std::string> cel_messages;
  Json input = {{"celJs", SourceDir() + "/.tools/node_modules/@marcbachmann/cel-js/lib/index.js"},
                {"schemas", Json::object()},
                {"cases", Json::array()}};
  for (const auto& f : CrdFiles()) {
    auto docs = LoadManifestFile(f);
    ASSERT_TRUE(docs.ok()) << docs.status().ToString();
    for (const auto& crd : *docs) {
      const Json& schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
      input["schemas"][crd["spec"]["names"]["kind"].get<std::string>()] = schema;
      CollectMessages(schema, cel_messages);
    }
  }
  for (const auto& f : ExampleFiles()) {
    auto docs = LoadManifestFile(f);
    ASSERT_TRUE(docs.ok());
    for (const auto& d : *docs) cases.push_back({"example " + TestName(f), {d}});
  }
  for (const auto& f : CorpusFiles()) {
    CorpusCase c = LoadCorpusCase(f);
    // Schema-invalid cases stop at the schema; CEL on them proves nothing.
    if (c.rejected_by == "semantic") cases.push_back({"corpus " + TestName(f), c.docs});
  }
  for (const auto& c : cases) input["cases"].push_back({{"name", c.name}, {"docs", c.docs}});
  auto run = vmrelease::testing::RunCommand({"node", SourceDir() + "/tests/unit/api/cel_eval.mjs"},
                                            {}, input.dump());
  ASSERT_EQ(run.exit_code, 0) << "node cel_eval.mjs failed (run scripts/setup.sh to install "
                                 "@marcbachmann/cel-js):\n"
                              << run.err;
  const Json results = Json::parse(run.out);

  ASSERT_GE(cel_messages.size(), 19u);
  ASSERT_GT(cases.size(), 30u);
  std::set<std::string> failed_somewhere;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Json& cel = results[c.name];
    ASSERT_TRUE(cel.is_array());
    std::set<std::string> cel_failed;
    for (const auto& f : cel) {
      EXPECT_FALSE(f.contains("error")) << f.dump();
      cel_failed.insert(f["message"].get<std::string>());
      failed_somewhere.insert(f["message"].get<std::string>());
    }
    std::set<std::string> cpp_cel_messages;
    std::string cpp_all;
    for (const FieldError& e : CppErrors(c)) {
      cpp_all += "\n  " + e.ToString();
      if (cel_messages.contains(e.message)) cpp_cel_messages.insert(e.message);
    }
    for (const auto& m : cel_failed) {
      EXPECT_TRUE(cpp_cel_messages.contains(m))
          << "CEL rejects with \"" << m << "\" but the C++ validation does not:" << cpp_all;
    }
    for (const auto& m : cpp_cel_messages) {
      EXPECT_TRUE(cel_failed.contains(m))
          << "C++ reports \"" << m << "\" but the CEL rule passes: " << cel.dump();
    }
    if (c.name.starts_with("example ")) {
      EXPECT_TRUE(cel_failed.empty()) << cel.dump();
    }
  }
  // And every rule is seen failing at least once.
  for (const auto& m : cel_messages) {
    EXPECT_TRUE(failed_somewhere.contains(m)) << "no case makes this CEL rule fail: " << m;
  }
}

}  // namespace
}  // namespace vmrelease::api
