// The C++ validation against a real CEL evaluator (@marcbachmann/cel-js, installed by
// scripts/setup.sh): for every example, every "semantic" corpus case and the
// several-rules-at-once cases of tests/testdata/cel, the CRDs' CEL rules are
// evaluated as the API server would (cel_eval.mjs), and the failures, as a multiset
// of (field path, reason, message), equal the C++ errors that carry a CEL rule's
// message. So each rule is mirrored at the path where a real API server reports it
// (the schema node holding the rule, plus its fieldPath), as often as the server
// reports it (once per bad item for a rule under `items`, once for a rule on an
// object that loops over a list), and the mirror is exactly as strict as the CRDs
// on a real cluster. The tests/testdata/cel cases also pin the evaluator's output
// to the "# cel:" lines in their headers.
#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

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
  // For tests/testdata/cel: the "# cel:" lines, "path: message" each.
  std::optional<std::multiset<std::string>> expected_cel;
};

// One CEL failure as the API server reports it: field path, reason, message.
using Failure = std::tuple<std::string, std::string, std::string>;

std::string Describe(const std::multiset<Failure>& failures) {
  std::string out;
  for (const auto& [path, reason, message] : failures) {
    out += "\n    " + path + " (" + reason + "): " + message;
  }
  return out.empty() ? "\n    (none)" : out;
}

// The reason a CEL rule declares (FieldValueInvalid by default) for each C++ type.
std::string Reason(FieldError::Type type) {
  switch (type) {
    case FieldError::Type::kInvalid:
      return "FieldValueInvalid";
    case FieldError::Type::kForbidden:
      return "FieldValueForbidden";
    case FieldError::Type::kRequired:
      return "FieldValueRequired";
    case FieldError::Type::kDuplicate:
      return "FieldValueDuplicate";
    case FieldError::Type::kNotSupported:
      return "FieldValueNotSupported";
    case FieldError::Type::kTooMany:
      return "FieldValueTooMany";
  }
  return "?";
}

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

// A tests/testdata/cel case: its documents and its "# cel: <path>: <message>" lines.
Case LoadCelCase(const std::string& path) {
  Case c{.name = "cel " + TestName(path), .docs = {}, .expected_cel = std::multiset<std::string>()};
  std::string text = vmrelease::testing::ReadFile(path);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line) && line.starts_with("#")) {
    if (line.starts_with("# cel: ")) c.expected_cel->insert(line.substr(7));
  }
  auto docs = ParseYamlDocuments(text);
  EXPECT_TRUE(docs.ok()) << path << ": " << docs.status().ToString();
  if (docs.ok()) c.docs = *docs;
  return c;
}

TEST(CelTest, CppReportsEveryCelRuleAtTheSamePathAsOftenAsTheServer) {
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
    for (const auto& d : *docs) cases.push_back({"example " + TestName(f), {d}, std::nullopt});
  }
  for (const auto& f : CorpusFiles()) {
    CorpusCase c = LoadCorpusCase(f);
    // Schema-invalid cases stop at the schema; CEL on them proves nothing.
    if (c.rejected_by == "semantic") cases.push_back({"corpus " + TestName(f), c.docs, {}});
  }
  const auto cel_files = testing::YamlFiles("tests/testdata/cel");
  ASSERT_GE(cel_files.size(), 3u);
  for (const auto& f : cel_files) cases.push_back(LoadCelCase(f));
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
  int compared = 0, repeated = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Json& cel = results[c.name];
    ASSERT_TRUE(cel.is_array());
    std::multiset<Failure> cel_failed;
    std::multiset<std::string> cel_lines;
    for (const auto& f : cel) {
      EXPECT_FALSE(f.contains("error")) << f.dump();
      const std::string message = f["message"].get<std::string>();
      cel_failed.insert({f["path"].get<std::string>(), f["reason"].get<std::string>(), message});
      cel_lines.insert(f["path"].get<std::string>() + ": " + message);
      failed_somewhere.insert(message);
    }
    std::multiset<Failure> cpp_failed;
    std::string cpp_all;
    const FieldErrors cpp_errors = CppErrors(c);
    for (const FieldError& e : cpp_errors) {
      cpp_all += "\n    " + e.ToString();
      if (cel_messages.contains(e.message)) cpp_failed.insert({e.field, Reason(e.type), e.message});
    }
    EXPECT_EQ(cpp_failed, cel_failed)
        << "the C++ validation must report exactly the CEL failures, each at the same field "
           "path and as many times\n  CEL (as the API server):"
        << Describe(cel_failed) << "\n  C++ (CEL rules only):" << Describe(cpp_failed)
        << "\n  C++ (all errors):" << cpp_all;
    if (c.expected_cel) {
      EXPECT_EQ(cel_lines, *c.expected_cel) << "the evaluator disagrees with the case's header";
      EXPECT_EQ(cpp_failed.size(), cpp_errors.size())
          << "only CEL rules may fail in a tests/testdata/cel case:" << cpp_all;
    }
    if (c.name.starts_with("example ")) {
      EXPECT_TRUE(cel_failed.empty()) << cel.dump();
    }
    compared += static_cast<int>(cel_failed.size());
    // Failures beyond the first of a rule in one object.
    std::set<std::string> distinct_messages;
    for (const auto& f : cel_failed) distinct_messages.insert(std::get<2>(f));
    repeated += static_cast<int>(cel_failed.size() - distinct_messages.size());
  }
  // And every rule is seen failing at least once, some of them several times in one object.
  for (const auto& m : cel_messages) {
    EXPECT_TRUE(failed_somewhere.contains(m)) << "no case makes this CEL rule fail: " << m;
  }
  EXPECT_GE(repeated, 2) << "no case makes one rule fail more than once";
  std::printf("cel: %zu rules, %zu cases, %d failures compared by (path, reason, message)\n",
              cel_messages.size(), cases.size(), compared);
}

}  // namespace
}  // namespace vmrelease::api
