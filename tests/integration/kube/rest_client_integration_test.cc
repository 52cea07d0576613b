// RestClient and the helpers built on it (finalizers, leases, events) against
// the local API server over HTTPS: verbs, optimistic concurrency, preconditions,
// pagination, the status subresource, auth and fault handling.
#include <gtest/gtest.h>

#include "controller/kube/errors.h"
#include "controller/kube/events.h"
#include "controller/kube/finalizer.h"
#include "controller/kube/leader_election.h"
#include "controller/kube/store.h"
#include "tests/integration/kube/kube_test_util.h"

namespace vmrelease::kube {
namespace {

using itest::ClientFor;
using itest::Gadget;
using itest::kGadgets;
using itest::StartServer;

class RestClientIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartServer();
    ASSERT_NE(server_, nullptr);
    client_ = ClientFor(*server_);
    ASSERT_NE(client_, nullptr);
  }
  std::unique_ptr<::vmrelease::testing::LocalApiServer> server_;
  std::unique_ptr<RestClient> client_;
};

TEST_F(RestClientIntegrationTest, CreateGetUpdateAndStaleUpdateConflict) {
  auto created = client_->Create(kGadgets, Gadget("default", "g1", {{"size", 1}}));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE(Uid(*created).empty());
  EXPECT_FALSE(ResourceVersion(*created).empty());
  EXPECT_EQ(Generation(*created), 1);

  auto again = client_->Create(kGadgets, Gadget("default", "g1"));
  EXPECT_TRUE(IsAlreadyExists(again.status())) << again.status().ToString();
  EXPECT_FALSE(IsConflict(again.status()));

  auto got = client_->Get(kGadgets, {"default", "g1"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["spec"]["size"], 1);

  Json edit = *got;
  edit["spec"]["size"] = 2;
  auto updated = client_->Update(kGadgets, edit);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(Generation(*updated), 2);
  EXPECT_NE(ResourceVersion(*updated), ResourceVersion(*got));

  // Writing with the old resourceVersion loses: 409 Conflict, its own error kind.
  edit["spec"]["size"] = 3;
  auto stale = client_->Update(kGadgets, edit);
  EXPECT_TRUE(IsConflict(stale.status())) << stale.status().ToString();
  EXPECT_FALSE(IsAlreadyExists(stale.status()));
  EXPECT_EQ(stale.status().detail().http_status, 409);
  EXPECT_NE(stale.status().message().find("the object has been modified"), std::string::npos);
  EXPECT_EQ((*client_->Get(kGadgets, {"default", "g1"}))["spec"]["size"], 2);

  EXPECT_TRUE(IsNotFound(client_->Get(kGadgets, {"default", "nope"}).status()));
}

TEST_F(RestClientIntegrationTest, ListsWithSelectorsAndPages) {
  for (int i = 0; i < 7; ++i) {
    Json g = Gadget("default", "p" + std::to_string(i));
    g["metadata"]["labels"] = {{"tier", i % 2 == 0 ? "even" : "odd"}};
    ASSERT_TRUE(client_->Create(kGadgets, g).ok());
  }
  ASSERT_TRUE(client_->Create(kGadgets, Gadget("kube-system", "other")).ok());

  auto even = ListAll(*client_, kGadgets, {.ns = "default", .label_selector = "tier=even"});
  ASSERT_TRUE(even.ok()) << even.status().ToString();
  EXPECT_EQ(even->items.size(), 4u);
  auto named = client_->List(kGadgets, {.field_selector = "metadata.name=p3"});
  ASSERT_TRUE(named.ok());
  ASSERT_EQ(named->items.size(), 1u);
  EXPECT_EQ(Name(named->items[0]), "p3");

  // Pages of 3: 3 + 3 + 2 across all namespaces, every object exactly once.
  auto first = client_->List(kGadgets, {.limit = 3});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->items.size(), 3u);
  EXPECT_FALSE(first->continue_token.empty());
  auto all = ListAll(*client_, kGadgets, {.limit = 3});
  ASSERT_TRUE(all.ok());
  std::set<std::string> keys;
  for (const Json& o : all->items) keys.insert(KeyOf(o));
  EXPECT_EQ(keys.size(), 8u);
  EXPECT_EQ(all->items.size(), 8u);
  EXPECT_FALSE(all->resource_version.empty());

  // A continue token from before a compaction is expired: 410, IsGone.
  ASSERT_TRUE(client_->Create(kGadgets, Gadget("default", "later")).ok());
  ASSERT_TRUE(server_->Compact().ok());
  auto expired = client_->List(kGadgets, {.limit = 3, .continue_token = first->continue_token});
  EXPECT_TRUE(IsGone(expired.status())) << expired.status().ToString();
}

TEST_F(RestClientIntegrationTest, PatchesAndTheStatusSubresource) {
  ASSERT_TRUE(client_->Create(kGadgets, Gadget("default", "s", {{"a", 1}, {"b", 2}})).ok());
  auto merged =
      client_->Patch(kGadgets, {"default", "s"}, PatchType::kMerge, {{"spec", {{"b", nullptr}}}});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ((*merged)["spec"], (Json{{"a", 1}}));

  Json ops = Json::array(
      {{{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", ResourceVersion(*merged)}},
       {{"op", "add"}, {"path", "/spec/c"}, {"value", "x"}}});
  auto jp = client_->Patch(kGadgets, {"default", "s"}, PatchType::kJson, ops);
  ASSERT_TRUE(jp.ok()) << jp.status().ToString();
  EXPECT_EQ((*jp)["spec"]["c"], "x");
  // The same guarded patch again: the test op fails, nothing changes.
  auto stale = client_->Patch(kGadgets, {"default", "s"}, PatchType::kJson, ops);
  EXPECT_FALSE(stale.ok());
  EXPECT_TRUE(IsInvalid(stale.status()) || IsConflict(stale.status())) << stale.status().ToString();

  // Status writes go to /status; the main endpoint ignores status and vice versa.
  Json with_status = *jp;
  with_status["status"] = {{"phase", "Building"}};
  with_status["spec"]["c"] = "ignored-by-status";
  auto st = client_->UpdateStatus(kGadgets, with_status);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ((*st)["status"]["phase"], "Building");
  EXPECT_EQ((*st)["spec"]["c"], "x");
  EXPECT_EQ(Generation(*st), Generation(*jp));  // status does not bump generation
  auto sp = client_->PatchStatus(kGadgets, {"default", "s"}, PatchType::kMerge,
                                 {{"status", {{"phase", "Released"}}}});
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  EXPECT_EQ((*sp)["status"]["phase"], "Released");
  auto main = client_->Patch(kGadgets, {"default", "s"}, PatchType::kMerge,
                             {{"status", {{"phase", "Hacked"}}}});
  ASSERT_TRUE(main.ok());
  EXPECT_EQ((*main)["status"]["phase"], "Released");
}

TEST_F(RestClientIntegrationTest, DeletePreconditionsAndFinalizers) {
  auto g = client_->Create(kGadgets, Gadget("default", "d"));
  ASSERT_TRUE(g.ok());
  auto wrong_uid = client_->Delete(kGadgets, {"default", "d"}, {.uid = "not-the-uid"});
  EXPECT_TRUE(IsConflict(wrong_uid.status())) << wrong_uid.status().ToString();
  auto wrong_rv = client_->Delete(kGadgets, {"default", "d"}, {.resource_version = "1"});
  EXPECT_TRUE(IsConflict(wrong_rv.status())) << wrong_rv.status().ToString();

  // A finalizer holds the object after delete until it is removed.
  auto with_fin = AddFinalizer(*client_, kGadgets, *g, "vmrelease.io/cleanup");
  ASSERT_TRUE(with_fin.ok()) << with_fin.status().ToString();
  EXPECT_TRUE(HasFinalizer(*with_fin, "vmrelease.io/cleanup"));
  auto del = client_->Delete(kGadgets, {"default", "d"},
                             {.uid = Uid(*g), .propagation_policy = "Background"});
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  auto held = client_->Get(kGadgets, {"default", "d"});
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(IsDeleting(*held));

  bool cleaned = false;
  ReconcileResult r = Finalize(
      *client_, kGadgets, "vmrelease.io/cleanup", *held,
      [](const Json&) -> ReconcileResult { return Action::AwaitChange(); },
      [&](const Json&) -> ReconcileResult {
        cleaned = true;
        return Action::AwaitChange();
      });
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(cleaned);
  EXPECT_TRUE(IsNotFound(client_->Get(kGadgets, {"default", "d"}).status()));
}

TEST_F(RestClientIntegrationTest, RetriesReadsButNotWritesOnServerErrors) {
  ASSERT_TRUE(client_->Create(kGadgets, Gadget("default", "r")).ok());
  ASSERT_TRUE(server_->SetFaults({{"failNext", 2}, {"failNextCode", 500}}).ok());
  auto got = client_->Get(kGadgets, {"default", "r"});
  EXPECT_TRUE(got.ok()) << got.status().ToString();  // third attempt succeeds

  ASSERT_TRUE(server_->SetFaults({{"failNext", 1}, {"failNextCode", 503}}).ok());
  auto created = client_->Create(kGadgets, Gadget("default", "w"));
  EXPECT_TRUE(IsServerError(created.status())) << created.status().ToString();
  EXPECT_TRUE(IsNotFound(client_->Get(kGadgets, {"default", "w"}).status()));

  // 429 carries Retry-After: 1 and the server did nothing, so even a write is retried.
  ASSERT_TRUE(server_->SetFaults({{"failNext", 1}, {"failNextCode", 429}}).ok());
  auto throttled = client_->Create(kGadgets, Gadget("default", "w"));
  EXPECT_TRUE(throttled.ok()) << throttled.status().ToString();
}

TEST_F(RestClientIntegrationTest, WrongTokenIsUnauthorized) {
  auto cfg = LoadKubeconfig({.path = server_->kubeconfig()});
  ASSERT_TRUE(cfg.ok());
  cfg->token = TokenSource::Static("definitely-not-the-token");
  auto client = RestClient::FromConfig(*cfg);
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Get(kGadgets, {"default", "x"});
  EXPECT_TRUE(IsUnauthorized(r.status())) << r.status().ToString();
  EXPECT_EQ(r.status().message().find("definitely-not-the-token"), std::string::npos);
}

TEST_F(RestClientIntegrationTest, LeaseLockAgainstTheServer) {
  KubeLeaseLock a(*client_, "default", "ctl-lease");
  KubeLeaseLock b(*client_, "default", "ctl-lease");
  EXPECT_TRUE(IsNotFound(a.Get().status()));
  LeaderElectionRecord rec{.holder_identity = "a",
                           .lease_duration_seconds = 15,
                           .acquire_time = "2026-01-01T00:00:00.000000Z",
                           .renew_time = "2026-01-01T00:00:00.000000Z"};
  ASSERT_TRUE(a.Create(rec).ok());
  EXPECT_TRUE(IsAlreadyExists(b.Create(rec)));
  ASSERT_TRUE(b.Get().ok());
  EXPECT_EQ(b.Get()->holder_identity, "a");
  rec.renew_time = "2026-01-01T00:00:02.000000Z";
  ASSERT_TRUE(a.Update(rec).ok());
  rec.holder_identity = "b";
  EXPECT_TRUE(IsConflict(b.Update(rec)));  // b read an older version
  auto lease = client_->Get(LeaseResource(), {"default", "ctl-lease"});
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*lease)["spec"]["renewTime"], "2026-01-01T00:00:02.000000Z");
}

TEST_F(RestClientIntegrationTest, EventsAreCreatedAndAggregated) {
  auto g = client_->Create(kGadgets, Gadget("default", "evented"));
  ASSERT_TRUE(g.ok());
  EventRecorder recorder(*client_, {.reporting_instance = "itest"});
  recorder.Start();
  for (int i = 0; i < 3; ++i) {
    recorder.Publish({.regarding = ObjectReference::To(*g),
                      .type = EventType::kNormal,
                      .reason = "Observed",
                      .action = "Reconcile",
                      .note = "saw it"});
  }
  ASSERT_TRUE(recorder.WaitIdle(std::chrono::seconds(30)));
  auto events = ListAll(*client_, EventResource(), {.ns = "default"});
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->items.size(), 1u);
  const Json& e = events->items[0];
  EXPECT_EQ(e["regarding"]["name"], "evented");
  EXPECT_EQ(e["reason"], "Observed");
  EXPECT_EQ(e["series"]["count"], 3);
  EXPECT_EQ(recorder.stats().created, 1);
  EXPECT_EQ(recorder.stats().series_updates, 2);
}

TEST(RestClientClientCertTest, MutualTlsFromTheKubeconfig) {
  auto server = itest::StartServer({"--auth", "client-cert"});
  ASSERT_NE(server, nullptr);
  auto cfg = LoadKubeconfig({.path = server->kubeconfig()});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->token, nullptr);
  EXPECT_FALSE(cfg->tls.client_cert_pem.empty());
  auto client = RestClient::FromConfig(*cfg);
  ASSERT_TRUE(client.ok());
  auto created = (*client)->Create(kGadgets, Gadget("default", "mtls"));
  EXPECT_TRUE(created.ok()) << created.status().ToString();
}

}  // namespace
}  // namespace vmrelease::kube
