// Shared setup for the ARM integration tests: the names, specs and waits that
// several tests repeat (a gallery image definition, a version from a VHD, a
// NIC + VM ready for Run Command).
#pragma once

#include <gtest/gtest.h>

#include "controller/azure/arm_gallery.h"
#include "controller/azure/arm_image_builder.h"
#include "controller/azure/arm_virtual_machines.h"
#include "tests/support/fake_arm/arm_test_env.h"

namespace vmrelease::azure::testflows {

using namespace std::chrono_literals;
using fake_arm::ArmTestEnv;

inline const ResourceGroupRef kImagesRg{ArmTestEnv::kSubscription, "images"};
inline const ResourceGroupRef kValidationRg{ArmTestEnv::kSubscription, "validation"};
inline const GalleryImageRef kImage{ArmTestEnv::kSubscription, "images", "releases",
                                    "sql-server-baseline"};
inline const std::string kStorageAccount =
    "/subscriptions/sub-1234/resourceGroups/images/providers/Microsoft.Storage/storageAccounts/"
    "imgstore";
inline const std::string kSubnet =
    "/subscriptions/sub-1234/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/"
    "subnets/validation";

// The uid of the release the tests act for, and of another one.
inline const std::string kReleaseUid = "5f0c2a9e-1c4b-4d0e-9a57-3b8e2f6d7a10";
inline const std::string kOtherReleaseUid = "c3d1e7b2-88a0-4f5e-b1c9-0a2e6f4d9b33";

inline std::string VhdUri(const std::string& name) {
  return "https://imgstore.blob.core.windows.net/staging/sql-server-baseline/" + name;
}

inline ImageVersionSpec VersionSpec(const std::string& vhd,
                                    const std::string& owner_uid = kReleaseUid) {
  return ImageVersionSpec{.location = "westeurope",
                          .source_storage_account_id = kStorageAccount,
                          .source_vhd_uri = VhdUri(vhd),
                          .target_regions = {{.name = "westeurope",
                                              .regional_replica_count = 1,
                                              .storage_account_type = "Standard_ZRS"}},
                          .exclude_from_latest = true,
                          .owner_uid = owner_uid};
}

inline ImageDefinition Definition() {
  return ImageDefinition{.location = "westeurope",
                         .os_type = "Windows",
                         .os_state = "Generalized",
                         .hyper_v_generation = "V2",
                         .publisher = "contoso",
                         .offer = "sql2022-ws2022",
                         .sku = "baseline"};
}

// Waits through the env's sleeper; fails the test on error.
inline Operation MustWait(ArmTestEnv& env, StatusOr<Operation> op,
                          OperationPoller* poller = nullptr) {
  EXPECT_TRUE(op.ok()) << op.status().ToString();
  if (!op.ok()) return {};
  auto done = WaitForOperation(poller ? *poller : env.arm(), *op, env.clock(), env.sleeper(), 24h);
  EXPECT_TRUE(done.ok()) << done.status().ToString();
  return done.ok() ? *done : Operation{};
}

// Gallery + definition + a Succeeded version `version` from `vhd`.
inline void PublishVersion(ArmTestEnv& env, Gallery& gallery, const std::string& version,
                           const std::string& vhd) {
  if (!env.fake().Exists(kImage.GalleryId()))
    env.fake().AddGallery(kImage.subscription_id, kImage.resource_group, kImage.gallery,
                          "westeurope");
  MustWait(env, gallery.CreateImageDefinition(kImage, Definition()));
  MustWait(env, gallery.CreateImageVersion(kImage, version, VersionSpec(vhd)));
}

inline std::string NicId(const std::string& name) {
  return kValidationRg.Id("Microsoft.Network/networkInterfaces", name);
}

inline VmSpec VmFromVersion(const std::string& nic, const std::string& version) {
  return VmSpec{.location = "westeurope",
                .size = "Standard_D4s_v5",
                .nic_id = NicId(nic),
                .gallery_image_version_id = kImage.VersionId(version),
                .os_type = Definition().os_type,
                .security_type = VmSecurityTypeFor(Definition()),
                .admin_password = "Vm-Adm1n-Pa55word-6f1e",
                .delete_disk_and_nic_with_vm = false};
}

// Polls the run command's instance view until it has finished (bounded).
inline RunCommandResult AwaitRunCommand(VirtualMachines& vms, const std::string& vm,
                                        const std::string& name, int* gets = nullptr) {
  for (int i = 1; i <= 20; ++i) {
    auto r = vms.GetRunCommand(kValidationRg, vm, name);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    if (r->finished()) {
      if (gets) *gets = i;
      return *r;
    }
  }
  ADD_FAILURE() << "run command " << name << " never finished";
  return {};
}

}  // namespace vmrelease::azure::testflows
