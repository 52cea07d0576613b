#include "controller/inventory/inventory.h"

#include <gtest/gtest.h>

#include "controller/common/crypto.h"
#include "controller/inventory/store.h"
#include "controller/kube/resource.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::inventory {
namespace {

using Json = nlohmann::json;

Json Doc(Json packages, Json files, std::string version = "1.0.0") {
  return {{"schemaVersion", 1},
          {"image", "app"},
          {"version", version},
          {"packages", std::move(packages)},
          {"files", std::move(files)}};
}

std::string Sha(char c) { return std::string(64, c); }

TEST(ParseInventory, SortsAndKeepsOnlyTheKnownFields) {
  Json doc = Doc({{{"name", "zlib"}, {"version", "1.2"}}, {{"name", "bash"}, {"version", "5.2"}}},
                 {{{"path", "/usr/bin/z"}, {"sha256", Sha('a')}, {"size", 3}, {"mode", "0755"}},
                  {{"path", "/etc/a"}, {"sha256", Sha('b')}, {"size", 1}, {"extra", true}}});
  doc["builtBy"] = "someone";
  auto inv = ParseInventory(doc.dump(2));
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  ASSERT_EQ(inv->packages.size(), 2u);
  EXPECT_EQ(inv->packages[0].name, "bash");
  EXPECT_EQ(inv->files[0].path, "/etc/a");
  EXPECT_EQ(inv->files[1].mode, "0755");
  // The same content in another order and layout has the same canonical bytes.
  Json shuffled = doc;
  std::swap(shuffled["packages"][0], shuffled["packages"][1]);
  std::swap(shuffled["files"][0], shuffled["files"][1]);
  auto again = ParseInventory(shuffled.dump());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(CanonicalJson(*inv), CanonicalJson(*again));
  EXPECT_EQ(CanonicalJson(*inv).find("builtBy"), std::string::npos);
  EXPECT_EQ(CanonicalJson(*inv).find("extra"), std::string::npos);
  // Canonical JSON parses back to the same inventory.
  auto round = ParseInventory(CanonicalJson(*inv));
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(CanonicalJson(*round), CanonicalJson(*inv));
}

TEST(ParseInventory, RefusesWhatIsNotAnInventoryNamingTheField) {
  struct Case {
    std::string text, want;
  };
  const Json pkg = {{"name", "bash"}, {"version", "5.2"}};
  std::vector<Case> cases = {
      {"not json", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {Json{{"schemaVersion", 2}}.dump(), "schemaVersion: must be 1"},
      {[&] {
         Json d = Doc(Json::array(), Json::array());
         d.erase("image");
         return d.dump();
       }(),
       "image: required"},
      {Doc({{{"name", "bash"}, {"version", 5}}}, Json::array()).dump(),
       "packages[0].version: must be a string"},
      {Doc({pkg, pkg}, Json::array()).dump(), "bash is listed twice"},
      {Doc({{{"name", "a\nb"}, {"version", "1"}}}, Json::array()).dump(), "control character"},
      {Doc(Json::array(), {{{"path", "/a"}, {"sha256", "xyz"}}}).dump(), "files[0].sha256"},
      {Doc(Json::array(), {{{"path", "/a"}, {"size", -1}}}).dump(), "files[0].size"},
      {Doc(Json::array(), {{{"path", "/a"}, {"mode", "0999"}}}).dump(), "files[0].mode"},
      {Doc(Json::array(), {{{"path", "/a"}}, {{"path", "/a"}}}).dump(), "/a is listed twice"},
      {Doc({{{"name", std::string(600, 'n')}, {"version", "1"}}}, Json::array()).dump(),
       "longer than 512"},
      {Doc("x", Json::array()).dump(), "packages: must be an array"},
      // Deeply nested: refused before anything recursive sees it.
      {"{\"schemaVersion\":1,\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}",
       "nested deeper than"},
  };
  for (const Case& c : cases) {
    auto inv = ParseInventory(c.text);
    ASSERT_FALSE(inv.ok()) << c.text.substr(0, 200);
    EXPECT_EQ(inv.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(inv.status().message().find(c.want), std::string::npos)
        << inv.status().message() << " (wanted " << c.want << ")";
  }
}

TEST(Gzip, RoundTripsAndRefusesBombsAndGarbage) {
  const std::string text(200000, 'x');
  auto gz = Gzip(text);
  ASSERT_TRUE(gz.ok());
  EXPECT_LT(gz->size(), 2000u);
  EXPECT_EQ(gz->substr(0, 2), std::string("\x1f\x8b"));  // a gzip header
  auto back = Gunzip(*gz);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
  auto bounded = Gunzip(*gz, 1000);
  ASSERT_FALSE(bounded.ok());
  EXPECT_NE(bounded.status().message().find("more than 1000"), std::string::npos);
  EXPECT_FALSE(Gunzip("not gzip at all").ok());
  EXPECT_FALSE(Gunzip(gz->substr(0, gz->size() / 2)).ok()) << "truncated";
}

Inventory Synthetic(size_t packages, const std::string& version) {
  Inventory inv{.image = "big", .version = version};
  for (size_t i = 0; i < packages; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "pkg-%05zu", i);
    inv.packages.push_back({name, "1." + std::to_string(i % 7)});
    inv.files.push_back({std::string("/usr/share/") + name + "/README",
                         Sha256Hex(std::string(name) + version), static_cast<int64_t>(i), "0644"});
  }
  return inv;
}

TEST(DiffInventories, AddedRemovedAndChangedPackagesAndFiles) {
  auto a = ParseInventory(Doc({{{"name", "bash"}, {"version", "5.1"}},
                               {{"name", "curl"}, {"version", "7.88"}},
                               {{"name", "libc6"}, {"version", "2.36-9"}}},
                              {{{"path", "/etc/a"}, {"sha256", Sha('a')}, {"size", 1}},
                               {{"path", "/etc/b"}, {"sha256", Sha('b')}, {"size", 2}},
                               {{"path", "/etc/c"}, {"sha256", Sha('c')}, {"size", 3}}})
                              .dump());
  auto b = ParseInventory(Doc({{{"name", "bash"}, {"version", "5.2"}},
                               {{"name", "libc6"}, {"version", "2.36-9"}},
                               {{"name", "zstd"}, {"version", "1.5"}}},
                              {{{"path", "/etc/a"}, {"sha256", Sha('a')}, {"size", 1}},
                               {{"path", "/etc/b"}, {"sha256", Sha('d')}, {"size", 4}},
                               {{"path", "/etc/d"}, {"sha256", Sha('e')}, {"size", 5}}},
                              "1.1.0")
                              .dump());
  ASSERT_TRUE(a.ok() && b.ok());
  InventoryDiff d = DiffInventories(*a, *b);
  ASSERT_EQ(d.packages_added.size(), 1u);
  EXPECT_EQ(d.packages_added[0].name, "zstd");
  ASSERT_EQ(d.packages_removed.size(), 1u);
  EXPECT_EQ(d.packages_removed[0].name, "curl");
  ASSERT_EQ(d.packages_changed.size(), 1u);
  EXPECT_EQ(d.packages_changed[0].name, "bash");
  EXPECT_EQ(d.packages_changed[0].from, "5.1");
  EXPECT_EQ(d.packages_changed[0].to, "5.2");
  ASSERT_EQ(d.files_added.size(), 1u);
  EXPECT_EQ(d.files_added[0].path, "/etc/d");
  ASSERT_EQ(d.files_removed.size(), 1u);
  EXPECT_EQ(d.files_removed[0].path, "/etc/c");
  ASSERT_EQ(d.files_changed.size(), 1u);
  EXPECT_EQ(d.files_changed[0].to.size, 4);
  Json j = DiffToJson(d);
  EXPECT_EQ(j["packages"]["changed"][0], (Json{{"name", "bash"}, {"from", "5.1"}, {"to", "5.2"}}));
  EXPECT_EQ(j["files"]["changed"][0]["from"]["sha256"], Sha('b'));
  EXPECT_TRUE(DiffInventories(*a, *a).empty());
  // Reversed: added and removed swap.
  InventoryDiff r = DiffInventories(*b, *a);
  EXPECT_EQ(r.packages_added[0].name, "curl");
  EXPECT_EQ(r.packages_removed[0].name, "zstd");
}

TEST(DiffInventories, FiveThousandPackages) {
  Inventory a = Synthetic(5000, "1.0.0"), b = Synthetic(5000, "1.1.0");
  b.packages.erase(b.packages.begin() + 10);  // pkg-00010 removed
  b.packages[100].version = "9.9";            // pkg-00101 changed
  b.packages.push_back({"zz-new", "1.0"});    // added (stays sorted)
  InventoryDiff d = DiffInventories(a, b);
  ASSERT_EQ(d.packages_removed.size(), 1u);
  EXPECT_EQ(d.packages_removed[0].name, "pkg-00010");
  ASSERT_EQ(d.packages_changed.size(), 1u);
  EXPECT_EQ(d.packages_changed[0].name, "pkg-00101");
  ASSERT_EQ(d.packages_added.size(), 1u);
  EXPECT_EQ(d.files_changed.size(), 5000u);  // every file's content names the version
}

// --- the ConfigMap store, against the in-memory API ---------------------------------------

class StoreTest : public ::testing::Test {
 protected:
  kube::testing::MemoryClient client_;
  Owner owner_{.ns = "default", .name = "big-1-0-0", .uid = "uid-1"};
};

TEST_F(StoreTest, CreatesThenAdoptsThenReplacesAndReadsBackWithTheDigest) {
  Inventory inv = Synthetic(5000, "1.0.0");
  auto first = StoreInventory(client_, owner_, "big-1-0-0-inventory", inv);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->sha256, Sha256Hex(CanonicalJson(inv)));
  EXPECT_EQ(first->packages, 5000);
  EXPECT_LT(first->compressed_bytes, kMaxCompressedBytes);
  auto cm = client_.Get(kube::ConfigMapResource(), {"default", "big-1-0-0-inventory"});
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)["metadata"]["labels"]["vmrelease.io/image"], "big");
  EXPECT_EQ((*cm)["metadata"]["labels"]["vmrelease.io/version"], "1.0.0");
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["uid"], "uid-1");
  EXPECT_EQ((*cm)["metadata"]["annotations"][kDigestAnnotation], first->sha256);

  // A second attempt (the controller was killed before recording the status): adopted.
  auto second = StoreInventory(client_, owner_, "big-1-0-0-inventory", inv);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->sha256, first->sha256);

  auto read = ReadInventory(client_, "default", "big-1-0-0-inventory", first->sha256);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(CanonicalJson(*read), CanonicalJson(inv));
  auto wrong = ReadInventory(client_, "default", "big-1-0-0-inventory", Sha('0'));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(wrong.status().message().find("not the one the release recorded"), std::string::npos);

  // A rebuild with other content replaces it.
  Inventory rebuilt = inv;
  rebuilt.packages[0].version = "2.0";
  auto third = StoreInventory(client_, owner_, "big-1-0-0-inventory", rebuilt);
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->sha256, first->sha256);
  auto reread = ReadInventory(client_, "default", "big-1-0-0-inventory", third->sha256);
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread->packages[0].version, "2.0");
}

TEST_F(StoreTest, NeverTouchesSomeoneElsesConfigMap) {
  client_.Put(kube::ConfigMapResource(),
              {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"namespace", "default"}, {"name", "big-1-0-0-inventory"}}},
               {"data", {{"mine", "yes"}}}});
  auto s = StoreInventory(client_, owner_, "big-1-0-0-inventory", Synthetic(3, "1.0.0"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("not owned by this release"), std::string::npos);
  auto cm = client_.Get(kube::ConfigMapResource(), {"default", "big-1-0-0-inventory"});
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)["data"]["mine"], "yes");
}

TEST_F(StoreTest, RefusesAnInventoryTooLargeForAConfigMap) {
  // Random-looking hashes do not compress: ~20,000 files are over the limit.
  Inventory inv = Synthetic(30000, "1.0.0");
  auto s = StoreInventory(client_, owner_, "big-1-0-0-inventory", inv);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.status().message().find("a ConfigMap holds at most 1000000"), std::string::npos)
      << s.status().message();
  EXPECT_FALSE(client_.Get(kube::ConfigMapResource(), {"default", "big-1-0-0-inventory"}).ok());
}

}  // namespace
}  // namespace vmrelease::inventory
