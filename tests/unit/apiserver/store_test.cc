// Kubernetes write/read/watch semantics of the in-memory store, in process:
// resourceVersion, generation, status subresource, conflicts, finalizers,
// deletion propagation, namespaces, pagination snapshots and watch filtering.
#include "tests/support/apiserver/store.h"

#include <gtest/gtest.h>

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;
using std::chrono::seconds;

json WidgetCrd(bool status_subresource = true) {
  json version = {
      {"name", "v1"},
      {"served", true},
      {"storage", true},
      {"schema",
       {{"openAPIV3Schema",
         {{"type", "object"},
          {"properties",
           {{"spec",
             {{"type", "object"},
              {"required", {"image"}},
              {"properties",
               {{"image", {{"type", "string"}}},
                {"replicas", {{"type", "integer"}, {"minimum", 0}, {"default", 1}}}}}}},
            {"status",
             {{"type", "object"}, {"properties", {{"phase", {{"type", "string"}}}}}}}}}}}}}};
  if (status_subresource) version["subresources"] = {{"status", json::object()}};
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", "widgets.example.com"}}},
          {"spec",
           {{"group", "example.com"},
            {"scope", "Namespaced"},
            {"names",
             {{"plural", "widgets"},
              {"singular", "widget"},
              {"kind", "Widget"},
              {"shortNames", {"wg"}}}},
            {"versions", {version}}}}};
}

json Widget(const std::string& name, int replicas = 1) {
  return {{"apiVersion", "example.com/v1"},
          {"kind", "Widget"},
          {"metadata", {{"name", name}}},
          {"spec", {{"image", "img"}, {"replicas", replicas}}}};
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Init(true); }
  void Init(bool status_subresource, size_t history = 10000) {
    store_ = std::make_unique<Store>(clock_, Store::Options{history});
    auto crd = store_->Create(*Type("apiextensions.k8s.io", "customresourcedefinitions"), "",
                              WidgetCrd(status_subresource), {});
    ASSERT_TRUE(crd.ok()) << crd.error().message;
    widgets_ = store_->Lookup("example.com", "v1", "widgets");
    ASSERT_TRUE(widgets_);
    cms_ = Type("", "configmaps");
  }
  std::shared_ptr<const ResourceType> Type(const std::string& group, const std::string& plural) {
    return store_->Lookup(group, "v1", plural);
  }
  json MustCreate(const ResourceType& rt, json obj, const std::string& ns = "default") {
    auto r = store_->Create(rt, ns, std::move(obj), {.field_validation = "Strict"});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->object->obj : json();
  }
  json MustGet(const ResourceType& rt, const std::string& name, const std::string& ns = "default") {
    auto r = store_->Get(rt, ns, name);
    EXPECT_TRUE(r.ok());
    return r.ok() ? (*r)->obj : json();
  }
  std::vector<std::string> Drain(Watcher& w) {
    std::vector<std::string> out;
    while (auto ev = w.Next(std::chrono::steady_clock::now())) {
      std::string s = ev->type;
      if (ev->object) s += ":" + ev->object->obj["metadata"].value("name", "");
      out.push_back(s);
    }
    return out;
  }

  ManualClock clock_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<const ResourceType> widgets_;
  std::shared_ptr<const ResourceType> cms_;
};

TEST_F(StoreTest, CreateSetsServerFieldsAndDefaults) {
  json w = MustCreate(*widgets_, Widget("a"));
  EXPECT_EQ(w["metadata"]["generation"], 1);
  EXPECT_EQ(w["metadata"]["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(w["metadata"]["creationTimestamp"], FormatRfc3339(clock_.WallNow()));
  EXPECT_EQ(w["metadata"]["namespace"], "default");
  EXPECT_EQ(w["spec"]["replicas"], 1);
  json cm = MustCreate(*cms_, {{"metadata", {{"generateName", "cm-"}}}, {"data", {{"a", "b"}}}});
  const std::string name = cm["metadata"]["name"];
  EXPECT_EQ(name.rfind("cm-", 0), 0u);
  EXPECT_EQ(name.size(), 8u);
  EXPECT_FALSE(cm["metadata"].contains("generation"));
  // One monotonic resourceVersion across resource types.
  EXPECT_LT(std::stoll(w["metadata"]["resourceVersion"].get<std::string>()),
            std::stoll(cm["metadata"]["resourceVersion"].get<std::string>()));
}

TEST_F(StoreTest, CreateErrors) {
  MustCreate(*widgets_, Widget("a"));
  auto dup = store_->Create(*widgets_, "default", Widget("a"), {});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, 409);
  EXPECT_EQ(dup.error().reason, "AlreadyExists");
  EXPECT_EQ(dup.error().message, "widgets.example.com \"a\" already exists");
  auto no_ns = store_->Create(*widgets_, "missing", Widget("b"), {});
  ASSERT_FALSE(no_ns.ok());
  EXPECT_EQ(no_ns.error().code, 404);
  EXPECT_EQ(no_ns.error().message, "namespaces \"missing\" not found");
  auto bad_name = store_->Create(*widgets_, "default", Widget("Bad_Name"), {});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.error().code, 422);
  EXPECT_EQ(bad_name.error().details["causes"][0]["field"], "metadata.name");
  json invalid = Widget("c", -1);
  invalid["spec"].erase("image");
  auto inv = store_->Create(*widgets_, "default", invalid, {});
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.error().message,
            "Widget.example.com \"c\" is invalid: [spec.image: Required value, spec.replicas: "
            "Invalid value: -1: spec.replicas in body should be greater than or equal to 0]");
  json unknown = Widget("d");
  unknown["spec"]["foo"] = 1;
  auto strict = store_->Create(*widgets_, "default", unknown, {.field_validation = "Strict"});
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error().code, 400);
  EXPECT_NE(strict.error().message.find("strict decoding error: unknown field \"spec.foo\""),
            std::string::npos);
  auto warn = store_->Create(*widgets_, "default", unknown, {.field_validation = "Warn"});
  ASSERT_TRUE(warn.ok());
  EXPECT_EQ(warn->warnings, std::vector<std::string>{"unknown field \"spec.foo\""});
  EXPECT_FALSE(warn->object->obj["spec"].contains("foo"));
}

TEST_F(StoreTest, OptimisticConcurrency) {
  json w = MustCreate(*widgets_, Widget("a"));
  json stale = w;
  w["spec"]["replicas"] = 2;
  ASSERT_TRUE(store_->Update(*widgets_, "default", "a", w, {}).ok());
  stale["spec"]["replicas"] = 3;
  auto conflict = store_->Update(*widgets_, "default", "a", stale, {});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, 409);
  EXPECT_EQ(conflict.error().reason, "Conflict");
  EXPECT_EQ(conflict.error().message,
            "Operation cannot be fulfilled on widgets.example.com \"a\": the object has been "
            "modified; please apply your changes to the latest version and try again");
  stale["metadata"].erase("resourceVersion");
  auto no_rv = store_->Update(*widgets_, "default", "a", stale, {});
  ASSERT_FALSE(no_rv.ok());
  EXPECT_EQ(no_rv.error().code, 422);  // custom resources need a resourceVersion on PUT
  // Built-ins allow an unconditional PUT.
  json cm = MustCreate(*cms_, {{"metadata", {{"name", "c"}}}, {"data", {{"a", "1"}}}});
  cm["metadata"].erase("resourceVersion");
  cm["data"]["a"] = "2";
  ASSERT_TRUE(store_->Update(*cms_, "default", "c", cm, {}).ok());
}

TEST_F(StoreTest, GenerationAndStatusSubresource) {
  json w = MustCreate(*widgets_, Widget("a"));
  const std::string rv0 = w["metadata"]["resourceVersion"];
  // No-op write: same resourceVersion, no event.
  auto same = store_->Update(*widgets_, "default", "a", w, {});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->object->obj["metadata"]["resourceVersion"], rv0);
  // Main endpoint ignores status; labels do not bump generation.
  w["status"] = {{"phase", "Ready"}};
  w["metadata"]["labels"] = {{"x", "y"}};
  auto r1 = store_->Update(*widgets_, "default", "a", w, {});
  ASSERT_TRUE(r1.ok());
  EXPECT_FALSE(r1->object->obj.contains("status"));
  EXPECT_EQ(r1->object->obj["metadata"]["generation"], 1);
  EXPECT_NE(r1->object->obj["metadata"]["resourceVersion"], rv0);
  // Spec change bumps generation.
  auto r2 =
      store_->Patch(*widgets_, "default", "a", PatchType::kMerge, R"({"spec":{"replicas":5}})", {});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->object->obj["metadata"]["generation"], 2);
  // /status ignores everything but status, and does not bump generation.
  auto r3 = store_->Patch(
      *widgets_, "default", "a", PatchType::kMerge,
      R"({"spec":{"replicas":9},"metadata":{"labels":{"x":"z"}},"status":{"phase":"Ready"}})",
      {.status_subresource = true});
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->object->obj["status"]["phase"], "Ready");
  EXPECT_EQ(r3->object->obj["spec"]["replicas"], 5);
  EXPECT_EQ(r3->object->obj["metadata"]["labels"]["x"], "y");
  EXPECT_EQ(r3->object->obj["metadata"]["generation"], 2);
  // A patch carrying a stale resourceVersion conflicts.
  auto r4 = store_->Patch(
      *widgets_, "default", "a", PatchType::kMerge,
      R"({"metadata":{"resourceVersion":")" + rv0 + R"("},"spec":{"replicas":1}})", {});
  ASSERT_FALSE(r4.ok());
  EXPECT_EQ(r4.error().code, 409);
}

TEST_F(StoreTest, WithoutStatusSubresourceStatusChangesBumpGeneration) {
  Init(false);
  json w = MustCreate(*widgets_, Widget("a"));
  w["status"] = {{"phase", "Ready"}};
  auto r = store_->Update(*widgets_, "default", "a", w, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->object->obj["status"]["phase"], "Ready");
  EXPECT_EQ(r->object->obj["metadata"]["generation"], 2);
}

TEST_F(StoreTest, FinalizersHoldDeletion) {
  json w = Widget("a");
  w["metadata"]["finalizers"] = {"example.com/cleanup"};
  MustCreate(*widgets_, w);
  auto watch = store_->Watch(*widgets_, "default",
                             {.resource_version = std::to_string(store_->CurrentRv())});
  ASSERT_TRUE(watch.ok());
  clock_.Advance(seconds(10));
  auto del = store_->Delete(*widgets_, "default", "a", {});
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->http_status, 202);
  EXPECT_FALSE(del->removed);
  json cur = MustGet(*widgets_, "a");
  EXPECT_EQ(cur["metadata"]["deletionTimestamp"], FormatRfc3339(clock_.WallNow()));
  EXPECT_EQ(cur["metadata"]["generation"], 2);
  cur["metadata"]["finalizers"].push_back("example.com/other");
  auto added = store_->Update(*widgets_, "default", "a", cur, {});
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code, 422);
  EXPECT_EQ(added.error().details["causes"][0]["message"],
            "Forbidden: no new finalizers can be added if the object is being deleted, found new "
            "finalizers []string{\"example.com/other\"}");
  auto removed = store_->Patch(*widgets_, "default", "a", PatchType::kMerge,
                               R"({"metadata":{"finalizers":null}})", {});
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(store_->Get(*widgets_, "default", "a").ok());
  EXPECT_EQ(Drain(**watch), (std::vector<std::string>{"MODIFIED:a", "DELETED:a"}));
}

TEST_F(StoreTest, DeletePreconditions) {
  json w = MustCreate(*widgets_, Widget("a"));
  auto bad_uid = store_->Delete(*widgets_, "default", "a", {.precondition_uid = "nope"});
  ASSERT_FALSE(bad_uid.ok());
  EXPECT_EQ(bad_uid.error().code, 409);
  EXPECT_NE(bad_uid.error().message.find("Precondition failed: UID in precondition: nope"),
            std::string::npos);
  auto bad_rv = store_->Delete(*widgets_, "default", "a", {.precondition_rv = "1"});
  ASSERT_FALSE(bad_rv.ok());
  EXPECT_EQ(bad_rv.error().code, 409);
  auto ok =
      store_->Delete(*widgets_, "default", "a",
                     {.precondition_uid = w["metadata"]["uid"].get<std::string>(),
                      .precondition_rv = w["metadata"]["resourceVersion"].get<std::string>()});
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->removed);
  auto gone = store_->Delete(*widgets_, "default", "a", {});
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, 404);
}

json Owned(const std::string& name, const json& owner,
           const std::vector<std::string>& finalizers = {}) {
  json cm = {{"metadata",
              {{"name", name},
               {"ownerReferences",
                {{{"apiVersion", "example.com/v1"},
                  {"kind", "Widget"},
                  {"name", owner["metadata"]["name"]},
                  {"uid", owner["metadata"]["uid"]},
                  {"blockOwnerDeletion", true}}}}}}};
  if (!finalizers.empty()) cm["metadata"]["finalizers"] = finalizers;
  return cm;
}

TEST_F(StoreTest, PropagationPolicies) {
  json bg = MustCreate(*widgets_, Widget("bg"));
  MustCreate(*cms_, Owned("bg-dep", bg));
  ASSERT_TRUE(store_->Delete(*widgets_, "default", "bg", {.propagation = "Background"}).ok());
  EXPECT_FALSE(store_->Get(*cms_, "default", "bg-dep").ok());

  json orphan = MustCreate(*widgets_, Widget("orphan"));
  MustCreate(*cms_, Owned("orphan-dep", orphan));
  ASSERT_TRUE(store_->Delete(*widgets_, "default", "orphan", {.propagation = "Orphan"}).ok());
  json dep = MustGet(*cms_, "orphan-dep");
  EXPECT_FALSE(dep["metadata"].contains("ownerReferences"));

  json fg = MustCreate(*widgets_, Widget("fg"));
  MustCreate(*cms_, Owned("fg-dep", fg, {"example.com/hold"}));
  auto del = store_->Delete(*widgets_, "default", "fg", {.propagation = "Foreground"});
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->http_status, 202);
  json owner = MustGet(*widgets_, "fg");
  EXPECT_EQ(owner["metadata"]["finalizers"], json({"foregroundDeletion"}));
  EXPECT_TRUE(MustGet(*cms_, "fg-dep")["metadata"].contains("deletionTimestamp"));
  // The owner goes once its last dependent is gone.
  ASSERT_TRUE(store_
                  ->Patch(*cms_, "default", "fg-dep", PatchType::kMerge,
                          R"({"metadata":{"finalizers":[]}})", {})
                  .ok());
  EXPECT_FALSE(store_->Get(*cms_, "default", "fg-dep").ok());
  EXPECT_FALSE(store_->Get(*widgets_, "default", "fg").ok());
}

TEST_F(StoreTest, NamespaceDeletionRemovesContents) {
  auto ns_type = Type("", "namespaces");
  MustCreate(*ns_type, {{"metadata", {{"name", "team"}}}}, "");
  EXPECT_EQ(MustGet(*ns_type, "team", "")["status"]["phase"], "Active");
  MustCreate(*cms_, {{"metadata", {{"name", "c1"}}}}, "team");
  json held = {{"metadata", {{"name", "c2"}, {"finalizers", {"x/y"}}}}};
  MustCreate(*cms_, held, "team");
  auto del = store_->Delete(*ns_type, "", "team", {});
  ASSERT_TRUE(del.ok());
  EXPECT_FALSE(store_->Get(*cms_, "team", "c1").ok());
  EXPECT_EQ(MustGet(*ns_type, "team", "")["status"]["phase"], "Terminating");
  auto refused = store_->Create(*cms_, "team", {{"metadata", {{"name", "c3"}}}}, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, 403);
  ASSERT_TRUE(
      store_
          ->Patch(*cms_, "team", "c2", PatchType::kMerge, R"({"metadata":{"finalizers":null}})", {})
          .ok());
  EXPECT_FALSE(store_->Get(*ns_type, "", "team").ok());
  auto protected_ns = store_->Delete(*ns_type, "", "default", {});
  ASSERT_FALSE(protected_ns.ok());
  EXPECT_EQ(protected_ns.error().message,
            "namespaces \"default\" is forbidden: this namespace may not be deleted");
}

TEST_F(StoreTest, PaginationIsASnapshotAndExpiresOnCompaction) {
  for (int i = 0; i < 5; ++i)
    MustCreate(*cms_, {{"metadata", {{"name", "c" + std::to_string(i)}}}});
  auto p1 = store_->List(*cms_, "default", {.limit = 2});
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->items.size(), 2u);
  ASSERT_FALSE(p1->continue_token.empty());
  // Changes after the first page do not show in later pages.
  ASSERT_TRUE(store_->Delete(*cms_, "default", "c3", {}).ok());
  MustCreate(*cms_, {{"metadata", {{"name", "c9"}}}});
  auto p2 = store_->List(*cms_, "default", {.limit = 2, .continue_token = p1->continue_token});
  ASSERT_TRUE(p2.ok());
  auto p3 = store_->List(*cms_, "default", {.limit = 2, .continue_token = p2->continue_token});
  ASSERT_TRUE(p3.ok());
  std::vector<std::string> names;
  for (const auto* p : {&*p1, &*p2, &*p3})
    for (const auto& o : p->items) names.push_back(o->obj["metadata"]["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4"}));
  EXPECT_TRUE(p3->continue_token.empty());
  EXPECT_EQ(p1->rv, p3->rv);
  // Label selectors and all-namespace lists.
  auto all = store_->List(*cms_, "", {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 5u);
  store_->Compact();
  auto expired = store_->List(*cms_, "default", {.limit = 2, .continue_token = p1->continue_token});
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, 410);
  EXPECT_EQ(expired.error().reason, "Expired");
}

TEST_F(StoreTest, WatchFromVersionWithSelectors) {
  const std::string start = std::to_string(store_->CurrentRv());
  auto labels = LabelSelector::Parse("app=web");
  ASSERT_TRUE(labels.ok());
  auto w = store_->Watch(*cms_, "default", {.resource_version = start, .labels = *labels});
  ASSERT_TRUE(w.ok());
  MustCreate(*cms_, {{"metadata", {{"name", "a"}, {"labels", {{"app", "web"}}}}}});
  MustCreate(*cms_, {{"metadata", {{"name", "b"}}}});
  ASSERT_TRUE(store_
                  ->Patch(*cms_, "default", "b", PatchType::kMerge,
                          R"({"metadata":{"labels":{"app":"web"}}})", {})
                  .ok());
  ASSERT_TRUE(store_
                  ->Patch(*cms_, "default", "a", PatchType::kMerge,
                          R"({"metadata":{"labels":{"app":"db"}}})", {})
                  .ok());
  ASSERT_TRUE(
      store_->Patch(*cms_, "default", "b", PatchType::kMerge, R"({"data":{"k":"v"}})", {}).ok());
  ASSERT_TRUE(store_->Delete(*cms_, "default", "b", {}).ok());
  MustCreate(*cms_, {{"metadata", {{"name", "other"}, {"labels", {{"app", "web"}}}}}},
             "kube-system");
  EXPECT_EQ(Drain(**w), (std::vector<std::string>{"ADDED:a", "ADDED:b", "DELETED:a", "MODIFIED:b",
                                                  "DELETED:b"}));
  // A second watcher replays the same history from the same version.
  auto replay = store_->Watch(*cms_, "default", {.resource_version = start, .labels = *labels});
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(Drain(**replay).size(), 5u);
  // resourceVersion "0": the current state first.
  auto initial = store_->Watch(*cms_, "", {.resource_version = "0", .labels = *labels});
  ASSERT_TRUE(initial.ok());
  EXPECT_EQ(Drain(**initial), (std::vector<std::string>{"ADDED:other"}));
  store_->Bookmark(**initial);
  auto bm = (*initial)->Next(std::chrono::steady_clock::now());
  ASSERT_TRUE(bm.has_value());
  EXPECT_EQ(bm->type, "BOOKMARK");
  EXPECT_EQ(bm->rv, store_->CurrentRv());
}

TEST_F(StoreTest, WatchTooOldAfterHistoryWindowAndCompaction) {
  Init(true, /*history=*/3);
  const std::string start = std::to_string(store_->CurrentRv());
  for (int i = 0; i < 5; ++i)
    MustCreate(*cms_, {{"metadata", {{"name", "c" + std::to_string(i)}}}});
  auto old = store_->Watch(*cms_, "default", {.resource_version = start});
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().code, 410);
  EXPECT_EQ(old.error().reason, "Expired");
  EXPECT_EQ(old.error().message,
            "too old resource version: " + start + " (" + std::to_string(store_->OldestRv()) + ")");
  const int64_t now = store_->CurrentRv();
  ASSERT_TRUE(store_->Watch(*cms_, "default", {.resource_version = std::to_string(now - 2)}).ok());
  store_->Compact();
  EXPECT_FALSE(store_->Watch(*cms_, "default", {.resource_version = std::to_string(now - 1)}).ok());
  EXPECT_TRUE(store_->Watch(*cms_, "default", {.resource_version = std::to_string(now)}).ok());
}

TEST_F(StoreTest, SlowWatcherOverflowsAndIsClosedWithoutBlockingWriters) {
  auto slow = store_->Watch(
      *cms_, "", {.resource_version = std::to_string(store_->CurrentRv()), .max_queue = 10});
  auto fast = store_->Watch(*cms_, "", {.resource_version = std::to_string(store_->CurrentRv())});
  ASSERT_TRUE(slow.ok() && fast.ok());
  for (int i = 0; i < 50; ++i)
    MustCreate(*cms_, {{"metadata", {{"name", "c" + std::to_string(i)}}}});
  EXPECT_TRUE((*slow)->closed());
  EXPECT_TRUE((*slow)->overflowed());
  EXPECT_EQ(Drain(**fast).size(), 50u);
  store_->DropWatches();
  EXPECT_TRUE((*fast)->closed());
}

TEST_F(StoreTest, CrdLifecycle) {
  auto crds = Type("apiextensions.k8s.io", "customresourcedefinitions");
  json crd = MustGet(*crds, "widgets.example.com", "");
  std::map<std::string, std::string> conds;
  for (const auto& c : crd["status"]["conditions"]) conds[c["type"]] = c["status"];
  EXPECT_EQ(conds["Established"], "True");
  EXPECT_EQ(conds["NamesAccepted"], "True");
  EXPECT_EQ(crd["status"]["acceptedNames"]["shortNames"], json({"wg"}));
  MustCreate(*widgets_, Widget("a"));
  ASSERT_TRUE(store_->Delete(*crds, "", "widgets.example.com", {}).ok());
  EXPECT_FALSE(store_->Lookup("example.com", "v1", "widgets"));
  json broken = WidgetCrd();
  broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].erase("type");
  auto r = store_->Create(*crds, "", broken, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 422);
  EXPECT_NE(r.error().message.find("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: "
                                   "Required value"),
            std::string::npos);
}

TEST_F(StoreTest, SecretsAndEventsAdmission) {
  auto secrets = Type("", "secrets");
  json s = MustCreate(*secrets, {{"metadata", {{"name", "s"}}}, {"stringData", {{"k", "hi"}}}});
  EXPECT_EQ(s["data"]["k"], "aGk=");
  EXPECT_EQ(s["type"], "Opaque");
  EXPECT_FALSE(s.contains("stringData"));
  auto events = store_->Lookup("events.k8s.io", "v1", "events");
  auto bad =
      store_->Create(*events, "default", {{"metadata", {{"name", "e"}}}, {"type", "Odd"}}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, 422);
  EXPECT_EQ(bad.error().details["causes"][0]["field"], "eventTime");
  // events.k8s.io/v1 and core/v1 are two views of the same stored Events.
  json ev = {{"apiVersion", "events.k8s.io/v1"},
             {"kind", "Event"},
             {"metadata", {{"name", "w.1"}}},
             {"eventTime", "2026-01-01T00:00:00.000000Z"},
             {"reportingController", "vmrelease.io/controller"},
             {"reportingInstance", "pod-1"},
             {"action", "Build"},
             {"reason", "BuildStarted"},
             {"type", "Normal"},
             {"note", "started"},
             {"regarding", {{"kind", "Widget"}, {"name", "w"}}}};
  json wrong_kind = ev;
  wrong_kind["kind"] = "Lease";
  auto mismatch = store_->Create(*events, "default", wrong_kind, {});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, 400);
  EXPECT_NE(mismatch.error().message.find("does not match the expected kind (Event)"),
            std::string::npos)
      << mismatch.error().message;
  ASSERT_TRUE(store_->Create(*events, "default", ev, {}).ok());
  json core = MustGet(*Type("", "events"), "w.1");
  EXPECT_EQ(core["apiVersion"], "v1");
  EXPECT_EQ(core["message"], "started");
  EXPECT_EQ(core["involvedObject"]["name"], "w");
  EXPECT_EQ(core["reportingComponent"], "vmrelease.io/controller");
  auto patched = store_->Patch(
      *events, "default", "w.1", PatchType::kMerge,
      R"({"series":{"count":2,"lastObservedTime":"2026-01-01T00:01:00.000000Z"}})", {});
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(patched->object->obj["series"]["count"], 2);
  EXPECT_EQ(patched->object->obj["message"], "started");
  EXPECT_EQ(store_->List(*events, "default", {})->items.size(), 1u);
}

}  // namespace
}  // namespace vmrelease::apiserver
