// Request bodies and response parsing checked against the official REST
// examples (embedded in the fake ARM from reference/azure).
#include <gtest/gtest.h>

#include "controller/azure/gallery.h"
#include "controller/azure/image_builder.h"
#include "controller/azure/virtual_machines.h"
#include "controller/common/log.h"
#include "tests/support/fake_arm/fake_arm.h"

namespace vmrelease::azure {
namespace {

using fake_arm::Example;

// Every key path of `shape` that `j` also has must have the same JSON type.
void ExpectSameShape(const nlohmann::json& j, const nlohmann::json& shape, const std::string& at) {
  if (shape.is_object() && j.is_object()) {
    for (const auto& [k, v] : j.items())
      if (shape.contains(k)) ExpectSameShape(v, shape[k], at + "/" + k);
    return;
  }
  if (shape.is_array() && j.is_array()) {
    if (!shape.empty())
      for (const auto& e : j) ExpectSameShape(e, shape[0], at + "[]");
    return;
  }
  EXPECT_EQ(j.type_name(), std::string(shape.type_name())) << at;
}

TEST(GalleryWireTest, VersionBodyMatchesTheVhdExample) {
  const auto& ex = Example("GalleryImageVersion_Create_WithVHD.json");
  const nlohmann::json want = ex["parameters"]["galleryImageVersion"];
  WallTime eol;
  ASSERT_TRUE(ParseRfc3339("2027-01-01T00:00:00Z", &eol));
  const nlohmann::json body =
      ImageVersionBody({.location = "West US",
                        .source_storage_account_id = "/subscriptions/s/resourceGroups/r/providers/"
                                                     "Microsoft.Storage/storageAccounts/acct",
                        .source_vhd_uri = "https://acct.blob.core.windows.net/vhds/a.vhd",
                        .target_regions = {{.name = "West US", .regional_replica_count = 1},
                                           {.name = "East US",
                                            .regional_replica_count = 2,
                                            .storage_account_type = "Standard_ZRS",
                                            .exclude_from_latest = false}},
                        .replica_count = 1,
                        .exclude_from_latest = true,
                        .end_of_life = eol,
                        .safety = {.allow_deletion_of_replicated_locations = false,
                                   .block_deletion_before_end_of_life = true},
                        .owner_uid = "uid-1234"});
  ExpectSameShape(body, want, "");
  const auto& src = body["properties"]["storageProfile"]["osDiskImage"]["source"];
  EXPECT_EQ(src["uri"], "https://acct.blob.core.windows.net/vhds/a.vhd");
  EXPECT_TRUE(src["storageAccountId"].get<std::string>().find("storageAccounts/acct") !=
              std::string::npos);
  const auto& pub = body["properties"]["publishingProfile"];
  EXPECT_EQ(pub["targetRegions"][1]["storageAccountType"], "Standard_ZRS");
  EXPECT_EQ(pub["targetRegions"][1]["regionalReplicaCount"], 2);
  EXPECT_EQ(pub["excludeFromLatest"], true);
  // Regions carry their own flag: the version's unless they set one.
  EXPECT_EQ(pub["targetRegions"][0]["excludeFromLatest"], true);
  EXPECT_EQ(pub["targetRegions"][1]["excludeFromLatest"], false);
  EXPECT_EQ(body["tags"][kReleaseUidTag], "uid-1234");
  EXPECT_EQ(ParseImageVersion(body).spec.owner_uid, "uid-1234");
  EXPECT_EQ(pub["endOfLifeDate"], "2027-01-01T00:00:00Z");
  EXPECT_EQ(body["properties"]["safetyProfile"]["blockDeletionBeforeEndOfLife"], true);
  EXPECT_EQ(body["properties"]["safetyProfile"]["allowDeletionOfReplicatedLocations"], false);
}

TEST(GalleryWireTest, ParsesTheReplicationStatusExample) {
  const auto& ex = Example("GalleryImageVersion_Get_WithReplicationStatus.json");
  ImageVersion v = ParseImageVersion(ex["responses"]["200"]["body"]);
  EXPECT_EQ(v.name, "1.0.0");
  EXPECT_EQ(v.provisioning_state, "Succeeded");
  ASSERT_TRUE(v.replication.has_value());
  EXPECT_EQ(v.replication->aggregated_state, "Completed");
  ASSERT_EQ(v.replication->regions.size(), 2u);
  EXPECT_EQ(v.replication->regions[1].region, "East US");
  EXPECT_EQ(v.replication->regions[1].progress, 100);
  ASSERT_EQ(v.spec.target_regions.size(), 2u);
  EXPECT_EQ(v.spec.target_regions[1].regional_replica_count, 2);
  EXPECT_EQ(v.spec.replica_count, 1);
  ASSERT_TRUE(v.published_date.has_value());
  EXPECT_EQ(FormatRfc3339(*v.published_date), "2018-01-01T00:00:00Z");
}

TEST(GalleryWireTest, ParsesAVersionCreatedFromAVhd) {
  const auto& ex = Example("GalleryImageVersion_Create_WithVHD.json");
  ImageVersion v = ParseImageVersion(ex["responses"]["201"]["body"]);
  EXPECT_EQ(v.provisioning_state, "Creating");
  EXPECT_EQ(v.spec.source_vhd_uri,
            "https://gallerysourcencus.blob.core.windows.net/myvhds/"
            "Windows-Server-2012-R2-20171216-en.us-128GB.vhd");
  EXPECT_FALSE(v.replication.has_value());
}

TEST(GalleryWireTest, DefinitionBodyMatchesTheExample) {
  const auto& ex = Example("GalleryImage_Create.json");
  ImageDefinition d{.location = "West US",
                    .os_type = "Windows",
                    .os_state = "Generalized",
                    .hyper_v_generation = "V1",
                    .publisher = "myPublisherName",
                    .offer = "myOfferName",
                    .sku = "mySkuName"};
  EXPECT_EQ(ImageDefinitionBody(d), ex["parameters"]["galleryImage"]);
  ImageDefinition back = ParseImageDefinition(ex["responses"]["201"]["body"]);
  EXPECT_EQ(back.offer, "myOfferName");
  EXPECT_EQ(back.provisioning_state, "Creating");
}

TEST(GalleryWireTest, VersionNames) {
  for (const char* ok : {"1.0.0", "0.0.1", "2147483647.0.10"})
    EXPECT_TRUE(IsValidGalleryVersion(ok)) << ok;
  for (const char* bad :
       {"1.0", "1.0.0.0", "v1.0.0", "1..0", "1.0.-1", "2147483648.0.0", "", "1.0.0 "})
    EXPECT_FALSE(IsValidGalleryVersion(bad)) << bad;
}

TEST(VmWireTest, FromGalleryVersionFollowsTheSharedImageExample) {
  const auto& ex = Example("VirtualMachine_Create_FromAGeneralizedSharedImage.json");
  const std::string nic =
      "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/"
      "networkInterfaces/n";
  auto body = VmBody("validate-sql-1-3-0", {.location = "westus",
                                            .size = "Standard_D1_v2",
                                            .nic_id = nic,
                                            .gallery_image_version_id = "/subscriptions/s/v/1.0.0",
                                            .os_type = "Windows",
                                            .admin_password = "Adm1n-Passw0rd-xyz"});
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  ExpectSameShape(*body, ex["parameters"]["parameters"], "");
  const auto& p = (*body)["properties"];
  EXPECT_EQ(p["storageProfile"]["imageReference"]["id"], "/subscriptions/s/v/1.0.0");
  EXPECT_EQ(p["storageProfile"]["osDisk"]["createOption"], "FromImage");
  EXPECT_EQ(p["storageProfile"]["osDisk"]["name"], "validate-sql-1-3-0-osdisk");
  EXPECT_EQ(p["storageProfile"]["osDisk"]["deleteOption"], "Delete");
  EXPECT_EQ(p["osProfile"]["computerName"], "validate-sql-1");  // Windows: 15 characters
  EXPECT_EQ(p["networkProfile"]["networkInterfaces"][0]["id"], nic);
  EXPECT_EQ(p["networkProfile"]["networkInterfaces"][0]["properties"]["primary"], true);
  EXPECT_EQ(log::Redact("pw Adm1n-Passw0rd-xyz"), "pw REDACTED");
}

TEST(VmWireTest, FromImportedDiskAttachesWithoutOsProfile) {
  auto body = VmBody("vm", {.location = "westus",
                            .size = "Standard_D2s_v5",
                            .nic_id = "/n",
                            .os_disk_id = "/subscriptions/s/resourceGroups/g/providers/"
                                          "Microsoft.Compute/disks/imported",
                            .os_type = "Linux",
                            .delete_disk_and_nic_with_vm = false});
  ASSERT_TRUE(body.ok());
  const auto& os = (*body)["properties"]["storageProfile"]["osDisk"];
  EXPECT_EQ(os["createOption"], "Attach");
  EXPECT_EQ(os["osType"], "Linux");
  EXPECT_EQ(os["name"], "imported");
  EXPECT_EQ(os["deleteOption"], "Detach");
  EXPECT_FALSE((*body)["properties"].contains("osProfile"));
  EXPECT_FALSE((*body)["properties"]["storageProfile"].contains("imageReference"));
}

TEST(VmWireTest, RejectsAmbiguousOrIncompleteSpecs) {
  EXPECT_FALSE(VmBody("vm", {.location = "l", .size = "s", .nic_id = "/n"}).ok());
  EXPECT_FALSE(VmBody("vm", {.location = "l",
                             .size = "s",
                             .nic_id = "/n",
                             .gallery_image_version_id = "/v",
                             .os_disk_id = "/d"})
                   .ok());
  EXPECT_FALSE(
      VmBody("vm", {.location = "l", .size = "s", .nic_id = "/n", .gallery_image_version_id = "/v"})
          .ok());  // generalized image without credentials
  auto ssh = VmBody("vm", {.location = "l",
                           .size = "s",
                           .nic_id = "/n",
                           .gallery_image_version_id = "/v",
                           .ssh_public_key = "ssh-ed25519 AAAA"});
  ASSERT_TRUE(ssh.ok());
  EXPECT_EQ(
      (*ssh)["properties"]["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"],
      true);
  auto specialized = VmBody("vm", {.location = "l",
                                   .size = "s",
                                   .nic_id = "/n",
                                   .gallery_image_version_id = "/v",
                                   .specialized_image = true});
  ASSERT_TRUE(specialized.ok());
  EXPECT_FALSE((*specialized)["properties"].contains("osProfile"));
}

TEST(VmWireTest, ParsesInstanceViewStatuses) {
  nlohmann::json vm =
      Example("VirtualMachine_Create_FromAGeneralizedSharedImage.json")["responses"]["201"]["body"];
  vm["properties"]["instanceView"] =
      Example("VirtualMachine_Get_InstanceView.json")["responses"]["200"]["body"];
  VirtualMachine v = ParseVirtualMachine(vm);
  EXPECT_EQ(v.name, "myVM");
  EXPECT_EQ(v.power_state, "running");
  EXPECT_EQ(v.vm_id, "71aa3d5a-d73d-4970-9182-8580433b2865");
  ASSERT_EQ(v.nic_ids.size(), 1u);
  EXPECT_EQ(v.statuses.size(), 2u);
  EXPECT_EQ(v.os_disk_name, "myVMosdisk");
}

TEST(RunCommandWireTest, BodyUsesInlineScriptAndAsyncExecution) {
  const auto& ex = Example("VirtualMachineRunCommand_CreateOrUpdate.json");
  nlohmann::json body = RunCommandBody({.location = "West US",
                                        .script = "Invoke-Sqlcmd -Query 'SELECT 1'",
                                        .timeout_seconds = 300,
                                        .parameters = {{"param1", "value1"}}});
  ExpectSameShape(body, ex["parameters"]["runCommand"], "");
  EXPECT_EQ(body["properties"]["source"]["script"], "Invoke-Sqlcmd -Query 'SELECT 1'");
  EXPECT_EQ(body["properties"]["asyncExecution"], true);
  EXPECT_EQ(body["properties"]["timeoutInSeconds"], 300);
  EXPECT_EQ(body["properties"]["parameters"][0]["name"], "param1");
}

TEST(RunCommandWireTest, ParsesTheDocumentedInstanceView) {
  // The shape from reference/azure/virtual-machines/NOTES.md.
  nlohmann::json rc =
      Example("VirtualMachineRunCommand_CreateOrUpdate.json")["responses"]["200"]["body"];
  rc["properties"]["instanceView"] = nlohmann::json::parse(R"({
    "executionState": "Succeeded", "executionMessage": "", "exitCode": 0,
    "output": "stdout text", "error": "stderr text",
    "startTime": "2022-10-27T21:10:52+00:00", "endTime": "2022-10-27T21:10:55+00:00",
    "statuses": []})");
  RunCommandResult r = ParseRunCommand(rc);
  EXPECT_TRUE(r.finished());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "stdout text");
  EXPECT_EQ(r.error, "stderr text");
  ASSERT_TRUE(r.start_time && r.end_time);
  EXPECT_EQ(*r.end_time - *r.start_time, std::chrono::seconds(3));
  EXPECT_FALSE(
      ParseRunCommand(
          nlohmann::json::parse(R"({"properties":{"instanceView":{"executionState":"Running"}}})"))
          .finished());
}

TEST(ImageBuilderWireTest, TemplateBodyFollowsTheLinuxExample) {
  const auto& ex = Example("CreateImageTemplateLinux.json");
  const std::string identity =
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg1/providers/"
      "Microsoft.ManagedIdentity/userAssignedIdentities/identity_1";
  nlohmann::json body = ImageTemplateBody(
      {.location = "westus",
       .identity_id = identity,
       .source = PlatformImageSource("Canonical", "ubuntu-24_04-lts", "server", "latest"),
       .customize = nlohmann::json::array(
           {{{"name", "Shell Customizer Example"}, {"type", "Shell"}, {"inline", {"echo hi"}}}}),
       .vm_size = "Standard_D2s_v3",
       .os_disk_size_gb = 64,
       .subnet_id = "/subscriptions/s/subnets/x",
       .vhd_run_output_name = "vhd-out"});
  ExpectSameShape(body, ex["parameters"]["parameters"], "");
  EXPECT_EQ(body["identity"], ex["parameters"]["parameters"]["identity"]);
  EXPECT_EQ(body["properties"]["distribute"][0]["type"], "VHD");
  EXPECT_EQ(body["properties"]["distribute"][0]["runOutputName"], "vhd-out");
  EXPECT_EQ(body["properties"]["source"]["type"], "PlatformImage");
  EXPECT_EQ(body["properties"]["vmProfile"]["vnetConfig"]["subnetId"],
            "/subscriptions/s/subnets/x");
}

TEST(ImageBuilderWireTest, ParsesRunOutputAndLastRunStatus) {
  RunOutput out = ParseRunOutput(Example("GetRunOutput.json")["responses"]["200"]["body"]);
  EXPECT_EQ(out.name, "myManagedImageOutput");
  EXPECT_EQ(out.provisioning_state, "Succeeded");
  EXPECT_NE(out.artifact_id.find("output_managed_image"), std::string::npos);
  ImageTemplate t = ParseImageTemplate(nlohmann::json::parse(R"({"id":"/t","properties":{
      "provisioningState":"Succeeded","lastRunStatus":{"startTime":"2026-01-01T00:00:00Z",
      "runState":"Running","runSubState":"Customizing","message":""}}})"));
  ASSERT_TRUE(t.last_run.has_value());
  EXPECT_FALSE(t.last_run->finished());
  EXPECT_EQ(t.last_run->run_sub_state, "Customizing");
  for (const char* s : {"Succeeded", "PartiallySucceeded", "Failed", "Canceled"})
    EXPECT_TRUE(RunStatus{.run_state = s}.finished()) << s;
}

TEST(ResourceNameTest, RefusesPathTricks) {
  for (const char* ok : {"vm-1", "sql_server.baseline", "1.3.0", "A"})
    EXPECT_TRUE(ValidateResourceName(ok, "x").ok()) << ok;
  for (const char* bad : {"", "a/b", "a?b", "a#b", "a b", "..", "a%2Fb", "a\\b"})
    EXPECT_FALSE(ValidateResourceName(bad, "x").ok()) << bad;
  EXPECT_TRUE(
      SameResourceId("/subscriptions/A/resourceGroups/RG", "/SUBSCRIPTIONS/a/resourcegroups/rg"));
  EXPECT_EQ(ResourceName("/a/b/disks/os-1"), "os-1");
}

}  // namespace
}  // namespace vmrelease::azure
