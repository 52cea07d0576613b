// Request bodies and response parsing checked against the official REST
// examples (embedded in the fake ARM from reference/azure).
#include <gtest/gtest.h>

#include "controller/azure/gallery.h"
#include "controller/azure/image_builder.h"
#include "controller/azure/virtual_machines.h"
#include "controller/common/crypto.h"
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
                                            .security_type = "Standard",
                                            .admin_password = "Adm1n-Passw0rd-xyz"});
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  ExpectSameShape(*body, ex["parameters"]["parameters"], "");
  const auto& p = (*body)["properties"];
  EXPECT_EQ(p["storageProfile"]["imageReference"]["id"], "/subscriptions/s/v/1.0.0");
  EXPECT_EQ(p["storageProfile"]["osDisk"]["createOption"], "FromImage");
  EXPECT_EQ(p["storageProfile"]["osDisk"]["name"], "validate-sql-1-3-0-osdisk");
  EXPECT_EQ(p["storageProfile"]["osDisk"]["deleteOption"], "Delete");
  // Windows: 15 characters, derived from the VM name.
  EXPECT_EQ(p["osProfile"]["computerName"], ComputerNameFor("validate-sql-1-3-0", "Windows"));
  EXPECT_EQ(p["osProfile"]["computerName"].get<std::string>().size(), 15u);
  EXPECT_EQ(p["osProfile"]["windowsConfiguration"]["provisionVMAgent"], true);
  EXPECT_FALSE(p["osProfile"].contains("linuxConfiguration"));
  EXPECT_EQ(p["securityProfile"], nlohmann::json({{"securityType", "Standard"}}));
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
  EXPECT_EQ((*body)["properties"]["securityProfile"]["securityType"], "Standard");
}

TEST(VmWireTest, RejectsAmbiguousOrIncompleteSpecs) {
  const VmSpec linux{.location = "l",
                     .size = "s",
                     .nic_id = "/n",
                     .gallery_image_version_id = "/v",
                     .os_type = "Linux",
                     .security_type = "Standard",
                     .ssh_public_key = "ssh-ed25519 AAAA"};
  ASSERT_TRUE(VmBody("vm", linux).ok());
  auto with = [&](auto change) {
    VmSpec s = linux;
    change(s);
    return VmBody("vm", s);
  };
  const std::vector<std::pair<std::string, StatusOr<nlohmann::json>>> bad = {
      {"no image source", with([](VmSpec& s) { s.gallery_image_version_id.clear(); })},
      {"two image sources", with([](VmSpec& s) { s.os_disk_id = "/d"; })},
      {"no credentials", with([](VmSpec& s) { s.ssh_public_key.clear(); })},
      {"no os type (no silent Linux)", with([](VmSpec& s) { s.os_type.clear(); })},
      {"unknown os type", with([](VmSpec& s) { s.os_type = "Plan9"; })},
      {"no security type for an image", with([](VmSpec& s) { s.security_type.clear(); })},
      {"unknown security type", with([](VmSpec& s) { s.security_type = "Shielded"; })},
      {"Windows without a password", with([](VmSpec& s) { s.os_type = "Windows"; })},
      {"Windows with an ssh key", with([](VmSpec& s) {
         s.os_type = "Windows";
         s.admin_password = "Adm1n-Passw0rd-xyz";
       })},
      {"16-character Windows name", with([](VmSpec& s) {
         s.os_type = "Windows";
         s.ssh_public_key.clear();
         s.admin_password = "Adm1n-Passw0rd-xyz";
         s.computer_name = "abcdefghijklmnop";
       })},
      {"numeric Windows name", with([](VmSpec& s) {
         s.os_type = "Windows";
         s.ssh_public_key.clear();
         s.admin_password = "Adm1n-Passw0rd-xyz";
         s.computer_name = "12345";
       })},
      {"65-character Linux name", with([](VmSpec& s) { s.computer_name = std::string(65, 'a'); })},
  };
  for (const auto& [what, body] : bad) {
    EXPECT_FALSE(body.ok()) << what;
    if (!body.ok()) {
      EXPECT_EQ(body.status().code(), StatusCode::kInvalidArgument) << what;
    }
  }

  auto ssh = VmBody("vm", linux);
  const auto& os = (*ssh)["properties"]["osProfile"];
  EXPECT_EQ(os["linuxConfiguration"]["disablePasswordAuthentication"], true);
  EXPECT_EQ(os["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"], "ssh-ed25519 AAAA");
  EXPECT_FALSE(os.contains("windowsConfiguration"));
  EXPECT_EQ(os["computerName"], "vm");
  auto specialized = with([](VmSpec& s) {
    s.specialized_image = true;
    s.ssh_public_key.clear();
  });
  ASSERT_TRUE(specialized.ok());
  EXPECT_FALSE((*specialized)["properties"].contains("osProfile"));

  // Trusted launch and confidential VMs: explicit UEFI settings (and the
  // confidential OS disk encryption Azure requires).
  auto tl = with([](VmSpec& s) { s.security_type = "trustedlaunch"; });
  ASSERT_TRUE(tl.ok());
  EXPECT_EQ(
      (*tl)["properties"]["securityProfile"],
      nlohmann::json({{"securityType", "TrustedLaunch"},
                      {"uefiSettings", {{"secureBootEnabled", true}, {"vTpmEnabled", true}}}}));
  auto cvm = with([](VmSpec& s) {
    s.security_type = "ConfidentialVM";
    s.secure_boot = false;
  });
  ASSERT_TRUE(cvm.ok());
  EXPECT_EQ((*cvm)["properties"]["securityProfile"]["uefiSettings"]["secureBootEnabled"], false);
  EXPECT_EQ((*cvm)["properties"]["storageProfile"]["osDisk"]["managedDisk"]["securityProfile"]
                  ["securityEncryptionType"],
            "VMGuestStateOnly");
}

TEST(VmWireTest, ComputerNamesAzureAccepts) {
  struct Case {
    std::string seed, os, want;
  };
  const std::string uid = "0f8fad5b-d9cb-469f-a165-70867728950e";
  const std::vector<Case> cases = {
      {"val-130", "Windows", "val-130"},
      {"VMR_SQL.Server", "Windows", "vmr-sql-server"},
      {"vmr-sql-server-1", "Windows", "vmr-sql-" + Sha256Hex("vmr-sql-server-1").substr(0, 6)},
      {uid, "Windows", "0f8fad5b-" + Sha256Hex(uid).substr(0, 6)},
      {uid, "Linux", uid},
      {"12345", "Windows", "vm-" + Sha256Hex("12345").substr(0, 6)},
      {"12345", "Linux", "vm-" + Sha256Hex("12345").substr(0, 6)},
      {"---", "Windows", "vm-" + Sha256Hex("---").substr(0, 6)},
      {"", "Linux", "vm-" + Sha256Hex("").substr(0, 6)},
      {"a--b__c", "Linux", "a-b-c"},
      {std::string(70, 'x'), "Linux",
       std::string(57, 'x') + "-" + Sha256Hex(std::string(70, 'x')).substr(0, 6)},
  };
  for (const auto& c : cases) {
    const std::string got = ComputerNameFor(c.seed, c.os);
    EXPECT_EQ(got, c.want) << c.seed << " " << c.os;
    EXPECT_TRUE(ValidateComputerName(got, c.os).ok()) << got;
    EXPECT_EQ(ComputerNameFor(c.seed, c.os), got);  // deterministic
  }
  // Seeds that share their first characters keep distinct names.
  EXPECT_NE(ComputerNameFor("vmr-sql-server-baseline-1-3-0", "Windows"),
            ComputerNameFor("vmr-sql-server-baseline-1-3-1", "Windows"));
  EXPECT_FALSE(ValidateComputerName("abcdefghijklmnop", "Windows").ok());  // 16
  EXPECT_TRUE(ValidateComputerName("abcdefghijklmno", "Windows").ok());    // 15
  EXPECT_FALSE(ValidateComputerName("sql.server", "Windows").ok());
  EXPECT_TRUE(ValidateComputerName("sql.server", "Linux").ok());
  EXPECT_FALSE(ValidateComputerName("sql_server", "Linux").ok());
}

TEST(GalleryWireTest, SecurityTypeFeatureAndTheVmSecurityTypeItNeeds) {
  ImageDefinition d{.location = "westeurope",
                    .os_type = "Windows",
                    .publisher = "p",
                    .offer = "o",
                    .sku = "s",
                    .security_type = "TrustedLaunchSupported"};
  const nlohmann::json body = ImageDefinitionBody(d);
  EXPECT_EQ(body["properties"]["features"],
            nlohmann::json::parse(R"([{"name":"SecurityType","value":"TrustedLaunchSupported"}])"));
  EXPECT_EQ(ParseImageDefinition(body).security_type, "TrustedLaunchSupported");
  d.security_type = "";
  EXPECT_FALSE(ImageDefinitionBody(d)["properties"].contains("features"));
  const std::vector<std::pair<std::string, std::string>> table = {
      {"", "Standard"},
      {"Standard", "Standard"},
      {"TrustedLaunch", "TrustedLaunch"},
      {"TrustedLaunchSupported", "TrustedLaunch"},
      {"TrustedLaunchAndConfidentialVmSupported", "TrustedLaunch"},
      {"ConfidentialVM", "ConfidentialVM"},
      {"ConfidentialVMSupported", "Standard"},
      {"trustedlaunch", "TrustedLaunch"},
  };
  for (const auto& [feature, vm] : table) {
    d.security_type = feature;
    EXPECT_EQ(VmSecurityTypeFor(d), vm) << feature;
  }
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
