// VMs, Run Command and Image Builder through the real clients against the
// fake ARM: a validation VM from a gallery version whose Run Commands report
// exit codes and stdout/stderr, then VM + NIC + disk deleted; a VM from a
// managed disk imported from a VHD; an Image Builder run producing a VHD.
#include <gtest/gtest.h>

#include "controller/azure/azure_error.h"
#include "tests/integration/arm/arm_flows.h"

namespace vmrelease::azure {
namespace {

using namespace testflows;

class ComputeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = ArmTestEnv::Start({.lro_polls = 3, .retry_after_seconds = 5, .run_command_polls = 2});
    gallery_ = std::make_unique<ArmGallery>(env_->arm());
    vms_ = std::make_unique<ArmVirtualMachines>(env_->arm());
    builder_ = std::make_unique<ArmImageBuilder>(env_->arm());
  }
  std::unique_ptr<ArmTestEnv> env_;
  std::unique_ptr<ArmGallery> gallery_;
  std::unique_ptr<ArmVirtualMachines> vms_;
  std::unique_ptr<ArmImageBuilder> builder_;
};

TEST_F(ComputeIntegrationTest, ValidationVmRunsChecksAndIsCleanedUp) {
  PublishVersion(*env_, *gallery_, "1.3.0", "1.3.0.vhd");
  env_->fake().AddRunCommandRule({.contains = "SELECT 1", .exit_code = 0, .stdout_text = "1\n"});
  env_->fake().AddRunCommandRule({.contains = "Get-BackupJob",
                                  .exit_code = 3,
                                  .stdout_text = "checking jobs\n",
                                  .stderr_text = "backup job 'nightly' is missing\n"});

  auto nic = vms_->CreateNic(kValidationRg, "val-130-nic",
                             {.location = "westeurope", .subnet_id = kSubnet});
  ASSERT_TRUE(nic.ok()) << nic.status().ToString();
  EXPECT_EQ(nic->state, OperationState::kSucceeded);  // NICs are created synchronously
  EXPECT_EQ(nic->result["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"],
            kSubnet);

  MustWait(*env_, vms_->CreateVm(kValidationRg, "val-130", VmFromVersion("val-130-nic", "1.3.0")));
  auto vm = vms_->GetVm(kValidationRg, "val-130", /*instance_view=*/true);
  ASSERT_TRUE(vm.ok()) << vm.status().ToString();
  EXPECT_EQ(vm->provisioning_state, "Succeeded");
  EXPECT_EQ(vm->power_state, "running");
  ASSERT_EQ(vm->nic_ids.size(), 1u);
  EXPECT_TRUE(SameResourceId(vm->nic_ids[0], NicId("val-130-nic")));
  EXPECT_EQ(vm->os_disk_name, "val-130-osdisk");
  const std::string disk_id = vm->os_disk_id;
  ASSERT_TRUE(env_->fake().Exists(disk_id));
  // ARM never echoes the admin password.
  EXPECT_EQ(env_->fake().Resource(vm->id)->dump().find("Vm-Adm1n-Pa55word-6f1e"),
            std::string::npos);

  // Check 1 passes.
  MustWait(*env_, vms_->StartRunCommand(kValidationRg, "val-130", "baseline-monitoring",
                                        {.location = "westeurope",
                                         .script = "Invoke-Sqlcmd -Query 'SELECT 1'",
                                         .timeout_seconds = 300}));
  int gets = 0;
  RunCommandResult ok = AwaitRunCommand(*vms_, "val-130", "baseline-monitoring", &gets);
  EXPECT_EQ(gets, 3);  // Running, Running, then the result
  EXPECT_EQ(ok.execution_state, "Succeeded");
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.output, "1\n");
  EXPECT_EQ(ok.error, "");
  ASSERT_TRUE(ok.start_time && ok.end_time);

  // Check 2 fails with its exit code and stderr.
  MustWait(*env_,
           vms_->StartRunCommand(kValidationRg, "val-130", "backup-job",
                                 {.location = "westeurope",
                                  .script = "if (-not (Get-BackupJob nightly)) { exit 3 }"}));
  RunCommandResult bad = AwaitRunCommand(*vms_, "val-130", "backup-job");
  EXPECT_EQ(bad.execution_state, "Failed");
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_EQ(bad.output, "checking jobs\n");
  EXPECT_EQ(bad.error, "backup job 'nightly' is missing\n");

  for (const char* rc : {"baseline-monitoring", "backup-job"})
    MustWait(*env_, vms_->DeleteRunCommand(kValidationRg, "val-130", rc));
  EXPECT_EQ(vms_->GetRunCommand(kValidationRg, "val-130", "backup-job").status().code(),
            StatusCode::kNotFound);

  // The NIC cannot go while the VM uses it.
  auto in_use = vms_->DeleteNic(kValidationRg, "val-130-nic");
  ASSERT_FALSE(in_use.ok());
  EXPECT_EQ(in_use.status().detail().reason, "NicInUse");

  MustWait(*env_, vms_->DeleteVm(kValidationRg, "val-130", /*force=*/true));
  EXPECT_EQ(env_->fake().RequestCount("DELETE Microsoft.Compute/virtualMachines"), 1);
  EXPECT_EQ(vms_->GetVm(kValidationRg, "val-130", false).status().code(), StatusCode::kNotFound);
  MustWait(*env_, vms_->DeleteNic(kValidationRg, "val-130-nic"));
  MustWait(*env_, vms_->DeleteDisk(kValidationRg, ResourceName(disk_id)));
  EXPECT_FALSE(env_->fake().Exists(NicId("val-130-nic")));
  EXPECT_FALSE(env_->fake().Exists(disk_id));
  EXPECT_FALSE(env_->fake().Exists(vm->id));
  // Cleanup is repeatable.
  for (auto op : {vms_->DeleteVm(kValidationRg, "val-130", true),
                  vms_->DeleteNic(kValidationRg, "val-130-nic"),
                  vms_->DeleteDisk(kValidationRg, ResourceName(disk_id))}) {
    ASSERT_TRUE(op.ok()) << op.status().ToString();
    EXPECT_EQ(op->state, OperationState::kSucceeded);
  }
}

TEST_F(ComputeIntegrationTest, VmFromAnImportedDiskTakesDiskAndNicAlongWhenDeleted) {
  auto disk = vms_->ImportDisk(kValidationRg, "imported-130",
                               {.location = "westeurope",
                                .source_uri = VhdUri("1.3.0.vhd"),
                                .storage_account_id = kStorageAccount,
                                .os_type = "Windows"});
  ASSERT_TRUE(disk.ok()) << disk.status().ToString();
  EXPECT_EQ(disk->ref.via(), OperationRef::Via::kLocation);
  Operation imported = MustWait(*env_, disk);
  EXPECT_EQ(imported.result["properties"]["provisioningState"], "Succeeded");
  EXPECT_EQ(imported.result["properties"]["creationData"]["createOption"], "Import");
  EXPECT_EQ(imported.result["properties"]["creationData"]["sourceUri"], VhdUri("1.3.0.vhd"));
  EXPECT_EQ(env_->fake().RequestCount("GET operationResults"), 3);

  ASSERT_TRUE(
      vms_->CreateNic(kValidationRg, "imp-nic", {.location = "westeurope", .subnet_id = kSubnet})
          .ok());
  MustWait(*env_, vms_->CreateVm(kValidationRg, "imp-vm",
                                 {.location = "westeurope",
                                  .size = "Standard_D2s_v5",
                                  .nic_id = NicId("imp-nic"),
                                  .os_disk_id = kValidationRg.Id(kDiskType, "imported-130"),
                                  .os_type = "Windows"}));
  auto vm = vms_->GetVm(kValidationRg, "imp-vm", true);
  ASSERT_TRUE(vm.ok());
  EXPECT_EQ(vm->power_state, "running");
  // The attached disk cannot be deleted underneath the VM.
  EXPECT_EQ(vms_->DeleteDisk(kValidationRg, "imported-130").status().detail().reason,
            "OperationNotAllowed");
  MustWait(*env_, vms_->DeleteVm(kValidationRg, "imp-vm", false));
  EXPECT_FALSE(env_->fake().Exists(kValidationRg.Id(kDiskType, "imported-130")));
  EXPECT_FALSE(env_->fake().Exists(NicId("imp-nic")));
}

// A definition + Succeeded version 1.0.0 of `image` in the test gallery.
GalleryImageRef PublishImage(ArmTestEnv& env, Gallery& gallery, const std::string& image,
                             const ImageDefinition& definition) {
  GalleryImageRef ref = kImage;
  ref.image = image;
  if (!env.fake().Exists(ref.GalleryId()))
    env.fake().AddGallery(ref.subscription_id, ref.resource_group, ref.gallery, "westeurope");
  MustWait(env, gallery.CreateImageDefinition(ref, definition));
  MustWait(env, gallery.CreateImageVersion(ref, "1.0.0", VersionSpec(image + ".vhd")));
  return ref;
}

// The VM body as the client would send it, for raw PUTs of variations.
nlohmann::json Body(const std::string& vm, const VmSpec& spec) {
  auto body = VmBody(vm, spec);
  EXPECT_TRUE(body.ok()) << body.status().ToString();
  return body.ok() ? *body : nlohmann::json();
}

TEST_F(ComputeIntegrationTest, WindowsValidationVmIsOneAzureAccepts) {
  ImageDefinition def = Definition();  // Windows
  def.security_type = "TrustedLaunch";
  const GalleryImageRef image = PublishImage(*env_, *gallery_, "win-tl", def);
  // Everything about the VM comes from the definition as read back.
  auto read = gallery_->GetImageDefinition(image);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->os_type, "Windows");
  EXPECT_EQ(read->security_type, "TrustedLaunch");

  const std::string vm = "vmr-sql-server-baseline-1-3-0";  // 29 characters
  ASSERT_TRUE(
      vms_->CreateNic(kValidationRg, "win-nic", {.location = "westeurope", .subnet_id = kSubnet})
          .ok());
  const VmSpec spec{.location = "westeurope",
                    .size = "Standard_D4s_v5",
                    .nic_id = NicId("win-nic"),
                    .gallery_image_version_id = image.VersionId("1.0.0"),
                    .os_type = read->os_type,
                    .security_type = VmSecurityTypeFor(*read),
                    .admin_password = "Vm-Adm1n-Pa55word-6f1e"};
  MustWait(*env_, vms_->CreateVm(kValidationRg, vm, spec));
  const auto stored = env_->fake().Resource(kValidationRg.Id(kVmType, vm));
  ASSERT_TRUE(stored.has_value());
  const nlohmann::json& props = (*stored)["properties"];
  const std::string computer_name = props["osProfile"]["computerName"];
  EXPECT_LE(computer_name.size(), 15u) << computer_name;
  EXPECT_EQ(computer_name, ComputerNameFor(vm, "Windows"));
  EXPECT_EQ(computer_name.rfind("vmr-sql-", 0), 0u) << computer_name;
  EXPECT_EQ(ComputerNameFor(vm, "Windows"), computer_name);  // deterministic
  EXPECT_NE(ComputerNameFor("vmr-sql-server-baseline-1-3-1", "Windows"), computer_name);
  EXPECT_EQ(props["osProfile"]["windowsConfiguration"]["provisionVMAgent"], true);
  EXPECT_FALSE(props["osProfile"].contains("linuxConfiguration"));
  EXPECT_EQ(props["securityProfile"]["securityType"], "TrustedLaunch");
  EXPECT_EQ(props["storageProfile"]["osDisk"]["osType"], "Windows");
  auto got = vms_->GetVm(kValidationRg, vm, true);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->power_state, "running");

  // What Azure refuses, the fake refuses, with Azure's words.
  const int puts = env_->fake().RequestCount("PUT Microsoft.Compute/virtualMachines");
  auto raw_put = [&](const std::string& name, nlohmann::json body) {
    ArmRequest req{.method = "PUT",
                   .path = kValidationRg.Id(kVmType, name),
                   .api_version = kComputeApiVersion,
                   .body = std::move(body)};
    return env_->arm().Begin(req);
  };
  ASSERT_TRUE(
      vms_->CreateNic(kValidationRg, "raw-nic", {.location = "westeurope", .subnet_id = kSubnet})
          .ok());
  VmSpec raw_spec = spec;
  raw_spec.nic_id = NicId("raw-nic");
  nlohmann::json sixteen = Body("raw", raw_spec);
  sixteen["properties"]["osProfile"]["computerName"] = "vmr-sql-1-3-0-ab";  // 16 characters
  auto too_long = raw_put("raw", sixteen);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().detail().http_status, 400);
  EXPECT_EQ(too_long.status().detail().reason, "InvalidParameter");
  EXPECT_NE(too_long.status().message().find(
                "Windows computer name cannot be more than 15 characters long, be entirely "
                "numeric, or contain the following characters"),
            std::string::npos)
      << too_long.status().message();
  EXPECT_EQ(ClassifyArmError(too_long.status()), ArmErrorKind::kInvalid);
  nlohmann::json fifteen = sixteen;
  fifteen["properties"]["osProfile"]["computerName"] = "vmr-sql-1-3-0-a";
  nlohmann::json linux_config = Body("raw", raw_spec);
  linux_config["properties"]["osProfile"]["linuxConfiguration"] = {
      {"disablePasswordAuthentication", false}};
  auto linux_on_windows = raw_put("raw", linux_config);
  ASSERT_FALSE(linux_on_windows.ok());
  EXPECT_NE(linux_on_windows.status().message().find(
                "The value of parameter linuxConfiguration is invalid."),
            std::string::npos)
      << linux_on_windows.status().message();
  // A TrustedLaunch-only image and a VM that leaves the security type to the
  // platform default (Standard here): refused.
  nlohmann::json no_security = Body("raw", raw_spec);
  no_security["properties"].erase("securityProfile");
  auto defaulted = raw_put("raw", no_security);
  ASSERT_FALSE(defaulted.ok());
  EXPECT_NE(defaulted.status().message().find(
                "The provided gallery image only supports creation of VMs and VM Scale Sets with "
                "'TrustedLaunch' security type."),
            std::string::npos)
      << defaulted.status().message();
  EXPECT_TRUE(raw_put("raw", fifteen).ok());  // the same body with 15 characters is fine
  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.Compute/virtualMachines"), puts + 4);

  // The client refuses a name Azure would refuse, before sending anything.
  VmSpec named = spec;
  named.computer_name = "vmr-sql-1-3-0-ab";
  auto refused = vms_->CreateVm(kValidationRg, "named", named);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("15 characters"), std::string::npos);
  VmSpec with_key = spec;
  with_key.ssh_public_key = "ssh-ed25519 AAAAC3Nza";
  EXPECT_EQ(vms_->CreateVm(kValidationRg, "named", with_key).status().code(),
            StatusCode::kInvalidArgument);
  VmSpec no_os = spec;
  no_os.os_type.clear();  // no silent Linux default
  EXPECT_EQ(vms_->CreateVm(kValidationRg, "named", no_os).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.Compute/virtualMachines"), puts + 4);
}

TEST_F(ComputeIntegrationTest, ExplicitSecurityTypeSurvivesAChangedPlatformDefault) {
  // The platform starts defaulting new VMs to TrustedLaunch; our image
  // definition has no SecurityType feature (Standard VMs only).
  env_->fake().SetVmDefaultSecurityType("TrustedLaunch");
  ImageDefinition def = Definition();
  def.os_type = "Linux";
  def.offer = "baseline-linux";
  const GalleryImageRef image = PublishImage(*env_, *gallery_, "linux-std", def);
  auto read = gallery_->GetImageDefinition(image);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->security_type, "");
  EXPECT_EQ(VmSecurityTypeFor(*read), "Standard");
  ASSERT_TRUE(
      vms_->CreateNic(kValidationRg, "lx-nic", {.location = "westeurope", .subnet_id = kSubnet})
          .ok());
  const VmSpec spec{.location = "westeurope",
                    .size = "Standard_D2s_v5",
                    .nic_id = NicId("lx-nic"),
                    .gallery_image_version_id = image.VersionId("1.0.0"),
                    .os_type = read->os_type,
                    .security_type = VmSecurityTypeFor(*read),
                    .computer_name = ComputerNameFor("2b7f0c1e-uid-of-a-release", read->os_type),
                    .ssh_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIvmrelease"};
  // Without the explicit type, this is what the new default would do:
  nlohmann::json defaulted = Body("lx", spec);
  defaulted["properties"].erase("securityProfile");
  auto refused = env_->arm().Begin({.method = "PUT",
                                    .path = kValidationRg.Id(kVmType, "lx"),
                                    .api_version = kComputeApiVersion,
                                    .body = defaulted});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("Use of TrustedLaunch setting is not supported for the "
                                            "provided image."),
            std::string::npos)
      << refused.status().message();

  MustWait(*env_, vms_->CreateVm(kValidationRg, "lx", spec));
  const auto stored = env_->fake().Resource(kValidationRg.Id(kVmType, "lx"));
  ASSERT_TRUE(stored.has_value());
  const nlohmann::json& props = (*stored)["properties"];
  EXPECT_EQ(props["securityProfile"]["securityType"], "Standard");
  EXPECT_EQ(props["osProfile"]["computerName"], "2b7f0c1e-uid-of-a-release");
  EXPECT_EQ(props["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"], true);
  EXPECT_FALSE(props["osProfile"].contains("windowsConfiguration"));
  EXPECT_EQ(props["storageProfile"]["osDisk"]["osType"], "Linux");

  // A Windows configuration on this Linux image is refused too.
  ASSERT_TRUE(
      vms_->CreateNic(kValidationRg, "lx2-nic", {.location = "westeurope", .subnet_id = kSubnet})
          .ok());
  VmSpec lx2 = spec;
  lx2.nic_id = NicId("lx2-nic");
  nlohmann::json windows_config = Body("lx2", lx2);
  windows_config["properties"]["osProfile"]["windowsConfiguration"] = {{"provisionVMAgent", true}};
  auto wrong = env_->arm().Begin({.method = "PUT",
                                  .path = kValidationRg.Id(kVmType, "lx2"),
                                  .api_version = kComputeApiVersion,
                                  .body = windows_config});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(
      wrong.status().message().find("The value of parameter windowsConfiguration is invalid."),
      std::string::npos)
      << wrong.status().message();
}

TEST_F(ComputeIntegrationTest, VmCreationErrorsAreTheRightKinds) {
  PublishVersion(*env_, *gallery_, "1.0.0", "1.0.0.vhd");
  // No NIC yet.
  auto no_nic = vms_->CreateVm(kValidationRg, "vm1", VmFromVersion("missing-nic", "1.0.0"));
  ASSERT_FALSE(no_nic.ok());
  EXPECT_EQ(ClassifyArmError(no_nic.status()), ArmErrorKind::kInvalid);
  EXPECT_EQ(no_nic.status().detail().reason, "InvalidResourceReference");
  // A VM that fails to provision reports the Azure error.
  ASSERT_TRUE(
      vms_->CreateNic(kValidationRg, "nic1", {.location = "westeurope", .subnet_id = kSubnet})
          .ok());
  env_->fake().FailNextOperation({.id_contains = "virtualMachines/vm1",
                                  .code = "OSProvisioningTimedOut",
                                  .message = "OS Provisioning for VM 'vm1' did not finish in the "
                                             "allotted time."});
  auto op = vms_->CreateVm(kValidationRg, "vm1", VmFromVersion("nic1", "1.0.0"));
  ASSERT_TRUE(op.ok());
  auto failed = env_->arm().Wait(*op, 1h);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().detail().reason, "OSProvisioningTimedOut");
  EXPECT_NE(failed.status().message().find("did not finish in the allotted time"),
            std::string::npos);
  EXPECT_EQ(vms_->GetVm(kValidationRg, "vm1", false)->provisioning_state, "Failed");
}

TEST_F(ComputeIntegrationTest, LocationPolledOperationFailureKeepsTheAzureError) {
  env_->fake().FailNextOperation({.id_contains = "disks/broken",
                                  .code = "InvalidVhd",
                                  .message = "The VHD footer is not valid.",
                                  .http_status = 400});
  auto op = vms_->ImportDisk(kValidationRg, "broken",
                             {.location = "westeurope",
                              .source_uri = VhdUri("broken.vhd"),
                              .storage_account_id = kStorageAccount,
                              .os_type = "Linux"});
  ASSERT_TRUE(op.ok());
  auto done = env_->arm().Wait(*op, 1h);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.status().detail().reason, "InvalidVhd");
  EXPECT_EQ(done.status().detail().http_status, 400);
  EXPECT_NE(done.status().message().find("The VHD footer is not valid."), std::string::npos);
}

TEST_F(ComputeIntegrationTest, ImageBuilderRunProducesAVhd) {
  const ImageTemplateRef t{ArmTestEnv::kSubscription, "builds", "sql-baseline-1-3-0"};
  ImageTemplateSpec spec{
      .location = "westeurope",
      .identity_id =
          "/subscriptions/sub-1234/resourceGroups/builds/providers/"
          "Microsoft.ManagedIdentity/userAssignedIdentities/builder",
      .source =
          PlatformImageSource("MicrosoftSQLServer", "sql2022-ws2022", "standard-gen2", "latest"),
      .customize = nlohmann::json::array(
          {{{"type", "PowerShell"}, {"name", "harden"}, {"inline", {"Set-Baseline"}}}}),
      .vm_size = "Standard_D4s_v5",
      .build_timeout_minutes = 120,
      .vhd_run_output_name = "vhd"};
  MustWait(*env_, builder_->CreateTemplate(t, spec));
  auto run = builder_->Run(t);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->ref.method, "POST");
  EXPECT_EQ(run->ref.via(), OperationRef::Via::kAsyncOperation);
  auto during = builder_->GetTemplate(t);
  ASSERT_TRUE(during.ok());
  ASSERT_TRUE(during->last_run.has_value());
  EXPECT_EQ(during->last_run->run_state, "Running");
  EXPECT_FALSE(during->last_run->run_sub_state.empty());
  EXPECT_FALSE(during->last_run->finished());
  MustWait(*env_, run);
  auto after = builder_->GetTemplate(t);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->last_run->succeeded());
  EXPECT_TRUE(after->last_run->end_time.has_value());
  auto out = builder_->GetRunOutput(t, "vhd");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->artifact_uri,
            "https://fakebuilds.blob.core.windows.net/vhds/sql-baseline-1-3-0-1.vhd");
  EXPECT_EQ(out->provisioning_state, "Succeeded");

  // Same template again: adopted. A different one under the same name: refused.
  auto same = builder_->CreateTemplate(t, spec);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->state, OperationState::kSucceeded);
  spec.customize[0]["inline"] = {"Set-Other"};
  auto changed = builder_->CreateTemplate(t, spec);
  EXPECT_EQ(changed.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.VirtualMachineImages/imageTemplates"), 1);

  MustWait(*env_, builder_->DeleteTemplate(t));
  EXPECT_EQ(builder_->GetTemplate(t).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(builder_->GetRunOutput(t, "vhd").status().code(), StatusCode::kNotFound);
}

TEST_F(ComputeIntegrationTest, ImageBuilderFailuresAndCancel) {
  const ImageTemplateRef t{ArmTestEnv::kSubscription, "builds", "broken"};
  ImageTemplateSpec spec{.location = "westeurope",
                         .identity_id = "/subscriptions/s/uami/builder",
                         .source = GalleryImageVersionSource(kImage.VersionId("1.2.0")),
                         .vm_size = "Standard_D2s_v5"};
  MustWait(*env_, builder_->CreateTemplate(t, spec));
  env_->fake().FailNextOperation({.id_contains = "imageTemplates/broken",
                                  .method = "POST",
                                  .code = "BuildCustomizationFailed",
                                  .message = "PowerShell customizer 'harden' exited with 1"});
  auto failed = env_->arm().Wait(*builder_->Run(t), 1h);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().detail().reason, "BuildCustomizationFailed");
  auto tpl = builder_->GetTemplate(t);
  EXPECT_EQ(tpl->last_run->run_state, "Failed");
  EXPECT_EQ(tpl->last_run->message, "PowerShell customizer 'harden' exited with 1");

  auto run = builder_->Run(t);
  ASSERT_TRUE(run.ok());
  MustWait(*env_, builder_->Cancel(t));
  EXPECT_EQ(builder_->GetTemplate(t)->last_run->run_state, "Canceled");
  auto canceled = env_->arm().Wait(*run, 1h);
  ASSERT_FALSE(canceled.ok());
  EXPECT_EQ(canceled.status().detail().reason, "Canceled");

  ImageTemplateSpec no_identity = spec;
  no_identity.identity_id.clear();
  EXPECT_EQ(builder_->CreateTemplate(t, no_identity).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vmrelease::azure
