// Label and field selector parsing and matching, including the cases where
// Kubernetes semantics differ from naive equality (`!=`/notin match absent keys).
#include "tests/support/apiserver/selectors.h"

#include <gtest/gtest.h>

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

struct LabelCase {
  std::string selector;
  json labels;
  bool match;
};

class LabelSelectorTest : public ::testing::TestWithParam<LabelCase> {};

TEST_P(LabelSelectorTest, Matches) {
  const auto& c = GetParam();
  auto sel = LabelSelector::Parse(c.selector);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->Matches(c.labels), c.match) << c.selector << " vs " << c.labels.dump();
}

INSTANTIATE_TEST_SUITE_P(
    All, LabelSelectorTest,
    ::testing::Values(
        LabelCase{"", json(nullptr), true}, LabelCase{"app=web", {{"app", "web"}}, true},
        LabelCase{"app=web", {{"app", "db"}}, false}, LabelCase{"app==web", {{"app", "web"}}, true},
        LabelCase{"app=web", json(nullptr), false}, LabelCase{"app!=web", {{"app", "db"}}, true},
        LabelCase{"app!=web", json::object(), true},  // absent key matches !=
        LabelCase{"app!=web", {{"app", "web"}}, false},
        LabelCase{"tier in (fe, be)", {{"tier", "be"}}, true},
        LabelCase{"tier in (fe,be)", {{"tier", "db"}}, false},
        LabelCase{"tier in (fe,be)", json::object(), false},
        LabelCase{"tier notin (fe,be)", {{"tier", "db"}}, true},
        LabelCase{"tier notin (fe,be)", json::object(), true},
        LabelCase{"tier notin (fe,be)", {{"tier", "fe"}}, false},
        LabelCase{"canary", {{"canary", ""}}, true}, LabelCase{"canary", json::object(), false},
        LabelCase{"!canary", json::object(), true}, LabelCase{"!canary", {{"canary", "x"}}, false},
        LabelCase{"app=web,!canary,tier in (fe)", {{"app", "web"}, {"tier", "fe"}}, true},
        LabelCase{"app=web,!canary", {{"app", "web"}, {"canary", "1"}}, false},
        LabelCase{"example.com/team=platform", {{"example.com/team", "platform"}}, true},
        LabelCase{"replicas>2", {{"replicas", "3"}}, true},
        LabelCase{"replicas<2", {{"replicas", "3"}}, false}));

TEST(LabelSelectorTest, RejectsSyntaxErrors) {
  for (const char* bad :
       {"app=web,", "in (a)", "tier in fe", "tier in (a", "a=b c", "x>y", "a=(b"}) {
    auto sel = LabelSelector::Parse(bad);
    EXPECT_FALSE(sel.ok()) << bad;
    if (!sel.ok()) {
      EXPECT_EQ(sel.error().code, 400);
      EXPECT_EQ(sel.error().reason, "BadRequest");
    }
  }
}

TEST(FieldSelectorTest, MatchesNameAndNamespace) {
  json obj = {{"metadata", {{"name", "a"}, {"namespace", "ns1"}}},
              {"status", {{"phase", "Running"}}}};
  auto eq = FieldSelector::Parse("metadata.name=a,metadata.namespace==ns1");
  ASSERT_TRUE(eq.ok());
  EXPECT_TRUE(eq->Matches(obj));
  auto ne = FieldSelector::Parse("metadata.namespace!=ns1");
  ASSERT_TRUE(ne.ok());
  EXPECT_FALSE(ne->Matches(obj));
  auto phase = FieldSelector::Parse("status.phase=Running");
  ASSERT_TRUE(phase.ok());
  EXPECT_TRUE(phase->Matches(obj));
  auto empty = FieldSelector::Parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(FieldSelectorTest, EscapedValuesAndUnsupportedFields) {
  auto sel = FieldSelector::Parse(R"(metadata.name=a\,b)");
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->requirements().size(), 1u);
  EXPECT_EQ(sel->requirements()[0].value, "a,b");
  auto spec = FieldSelector::Parse("spec.foo=x");
  ASSERT_TRUE(spec.ok());
  bool ok = true;
  ApiError e = spec->CheckFields({"metadata.name", "metadata.namespace"}, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(e.code, 400);
  EXPECT_NE(e.message.find("spec.foo"), std::string::npos);
  EXPECT_FALSE(FieldSelector::Parse("metadata.name").ok());
}

}  // namespace
}  // namespace vmrelease::apiserver
