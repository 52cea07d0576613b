// The imageBuilder build backend against the fake ARM (real ArmClient and
// ArmImageBuilder, one ManualClock) and an in-memory staging store: the
// template's shape, one run per release across lost status writes, a template
// that is not ours, a delete Image Builder refuses while the template is busy, a
// failed run's Azure error in status, and the controller's own timeout.
#include "controller/release/image_builder_build.h"

#include <gtest/gtest.h>

#include <set>

#include "controller/azure/arm_image_builder.h"
#include "controller/azure/gallery.h"
#include "tests/support/azurite/fake_blob_store.h"
#include "tests/support/fake_arm/arm_test_env.h"

namespace vmrelease::release {
namespace {

using Json = nlohmann::json;
using fake_arm::ArmTestEnv;
using namespace std::chrono_literals;

constexpr char kIdentity[] =
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/id/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/builder";
constexpr char kSubnet[] =
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/net/providers/"
    "Microsoft.Network/virtualNetworks/v/subnets/builds";

class ImageBuilderBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    arm_ = ArmTestEnv::Start({.lro_polls = 2, .retry_after_seconds = 5});
    ASSERT_NE(arm_, nullptr);
    builder_ = std::make_unique<azure::ArmImageBuilder>(arm_->arm());
    backend_ = std::make_unique<ImageBuilderBuildBackend>(*builder_);
    ASSERT_TRUE(staging_.CreateContainer("vmrelease-staging").ok());
    // Image Builder's output: a blob the staging store can copy from (with a SAS).
    ASSERT_TRUE(staging_.CreateContainer("outputs").ok());
    output_ = std::string(1 << 20, 'v') + std::string(512, 'f');
    ASSERT_TRUE(staging_.PutBlockBlob({"outputs", "run.vhd"}, output_, {}).ok());
    const std::string url =
        staging_.BlobUrl({"outputs", "run.vhd"}) + "?sv=x&sig=output-sas-secret";
    arm_->fake().SetImageBuilderVhdOutput([url](const std::string&, int) { return url; });
    staging_.set_copy_pending_polls(1);
    env_.clock = &arm_->clock();
    env_.staging = &staging_;
    env_.poll_interval = 10s;
    rel_.metadata.ns = "default";
    rel_.metadata.name = "app-1-0-0";
    rel_.metadata.uid = "uid-1";
    rel_.spec.image = "app";
    rel_.spec.version = "1.0.0";
    rel_.spec.source.platform_image =
        api::PlatformImage{.publisher = "Debian", .offer = "debian-12", .sku = "12"};
    rel_.spec.build.image_builder = api::ImageBuilderBackend{
        .location = "westeurope",
        .subscription_id = ArmTestEnv::kSubscription,
        .resource_group = "builds",
        .identity_id = kIdentity,
        .vm_size = "Standard_D4s_v5",
        .subnet_id = kSubnet,
        .customize = {Json{{"type", "Shell"}, {"name", "hello"}, {"inline", {"echo hi"}}}}};
    rel_.spec.build.timeout = "90m";
    names_ = ReleaseNames::For(rel_);
  }

  StepResult Build() {
    ReleaseContext ctx{rel_, status_, names_, env_, arm_->clock().WallNow()};
    StepResult r = backend_->Build(ctx);
    for (const PendingEvent& e : ctx.events) events_.push_back(e.reason);
    return r;
  }
  StepResult Cleanup() {
    ReleaseContext ctx{rel_, status_, names_, env_, arm_->clock().WallNow()};
    return backend_->Cleanup(ctx);
  }
  // Reconciles until the build is no longer waiting (at most `max` times).
  StepResult BuildUntilSettled(int max = 30) {
    StepResult r = Build();
    for (int i = 0; i < max && r.kind() == StepResult::Kind::kWait; ++i) {
      arm_->clock().Advance(r.requeue());
      r = Build();
    }
    return r;
  }
  StepResult CleanupUntilDone(int max = 30) {
    StepResult r = Cleanup();
    for (int i = 0; i < max && r.kind() == StepResult::Kind::kWait; ++i) {
      arm_->clock().Advance(r.requeue());
      r = Cleanup();
    }
    return r;
  }
  azure::ImageTemplateRef Ref() const {
    return ImageBuilderBuildBackend::TemplateRef(rel_, names_);
  }
  std::optional<Json> Template() { return arm_->fake().Resource(Ref().Id()); }
  int Runs() {
    auto runs = arm_->fake().ImageBuilderRuns();
    auto it = runs.find(names_.image_template);
    return it == runs.end() ? 0 : it->second;
  }

  std::unique_ptr<ArmTestEnv> arm_;
  std::unique_ptr<azure::ArmImageBuilder> builder_;
  std::unique_ptr<ImageBuilderBuildBackend> backend_;
  testing::FakeBlobStore staging_;
  std::string output_;
  Environment env_;
  api::ImageRelease rel_;
  ReleaseNames names_;
  api::ImageReleaseStatus status_;
  std::vector<std::string> events_;
};

TEST_F(ImageBuilderBuildTest, TemplateFromTheReleaseRunOnceAndItsVhdCopiedIntoStaging) {
  StepResult r = Build();
  ASSERT_EQ(r.kind(), StepResult::Kind::kWait) << r.message();
  ASSERT_TRUE(status_.operation.has_value());
  EXPECT_EQ(status_.operation->action, "CreateTemplate");
  std::optional<Json> t = Template();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(names_.image_template.rfind("vmr-app-1-0-0-", 0), 0u) << names_.image_template;
  EXPECT_EQ((*t)["tags"][azure::kReleaseUidTag], "uid-1");
  const Json& p = (*t)["properties"];
  EXPECT_EQ(p["source"]["type"], "PlatformImage");
  EXPECT_EQ(p["source"]["offer"], "debian-12");
  EXPECT_EQ(p["source"]["version"], "latest");
  EXPECT_EQ(p["customize"][0]["inline"][0], "echo hi");
  EXPECT_EQ(p["distribute"].size(), 1u);
  EXPECT_EQ(p["distribute"][0]["type"], "VHD");
  EXPECT_EQ(p["distribute"][0]["runOutputName"], "vhd");
  EXPECT_EQ(p["vmProfile"]["vmSize"], "Standard_D4s_v5");
  EXPECT_EQ(p["vmProfile"]["vnetConfig"]["subnetId"], kSubnet);
  EXPECT_EQ(p["buildTimeoutInMinutes"], 90);
  EXPECT_TRUE((*t)["identity"]["userAssignedIdentities"].contains(kIdentity));

  r = BuildUntilSettled();
  ASSERT_EQ(r.kind(), StepResult::Kind::kDone) << r.message();
  EXPECT_EQ(Runs(), 1);
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "BuildStarted"), 1);
  auto staged = staging_.GetBlob({"vmrelease-staging", names_.staging_blob});
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  EXPECT_EQ(*staged, output_);
  ASSERT_TRUE(status_.build.has_value());
  EXPECT_EQ(status_.build->exit_code, 0);
  EXPECT_EQ(status_.build->name, names_.image_template);
  EXPECT_FALSE(status_.operation.has_value());
  api::ImageRelease with_status = rel_;
  with_status.status = status_;
  EXPECT_EQ(api::ToJson(with_status).dump().find("output-sas-secret"), std::string::npos);
  // Done stays done without a remote call.
  const int before = arm_->fake().TotalRequests();
  EXPECT_TRUE(Build().done());
  EXPECT_EQ(arm_->fake().TotalRequests(), before);

  ASSERT_TRUE(CleanupUntilDone().done());
  EXPECT_FALSE(Template().has_value());
  EXPECT_TRUE(Cleanup().done()) << "cleanup is idempotent";
}

TEST_F(ImageBuilderBuildTest, LostStatusWritesAdoptTheTemplateAndItsRunNeverRunTwice) {
  arm_->fake().SetImageBuilderRunDuration(5min);
  // The status write of the first reconcile that moves the build on, at each step
  // (template created, run started, copy started, copied), is lost (a kill -9 before
  // the write): the next reconcile starts again from the status before it.
  auto action = [](const api::ImageReleaseStatus& st) {
    return st.operation ? st.operation->action : std::string("-");
  };
  std::set<std::string> lost;
  StepResult r = StepResult::Wait(Duration::zero());
  for (int i = 0; i < 100 && r.kind() == StepResult::Kind::kWait; ++i) {
    arm_->clock().Advance(r.requeue());
    const api::ImageReleaseStatus saved = status_;
    r = Build();
    const std::string move = action(saved) + ">" + action(status_) + (r.done() ? ">done" : "");
    if (action(saved) != action(status_) && lost.insert(move).second) {
      status_ = saved;
      r = StepResult::Wait(Duration::zero());
    }
  }
  std::set<std::string> lost_before;  // what each lost write would have recorded
  for (const std::string& m : lost) lost_before.insert(m.substr(m.find('>') + 1));
  EXPECT_EQ(lost_before,
            (std::set<std::string>{"CreateTemplate", "RunTemplate", "CopyRunOutput", "->done"}));
  ASSERT_TRUE(r.done()) << r.message();
  EXPECT_EQ(Runs(), 1);
  EXPECT_EQ(arm_->fake().ImageBuilderOverlappingRuns(), 0);
  EXPECT_EQ(arm_->fake().RequestCount("POST Microsoft.VirtualMachineImages/imageTemplates/run"), 1);
  ASSERT_TRUE(CleanupUntilDone().done());
  EXPECT_FALSE(Template().has_value());
}

TEST_F(ImageBuilderBuildTest, TemplateThatIsNotOursStallsAndIsNeverTouched) {
  azure::ImageTemplateSpec foreign = ImageBuilderBuildBackend::TemplateSpec(
      rel_, azure::PlatformImageSource("Debian", "debian-12", "12", "latest"));
  foreign.tags = {{azure::kReleaseUidTag, "someone-else"}};
  auto op = builder_->CreateTemplate(Ref(), foreign);
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  ASSERT_TRUE(arm_->arm().Wait(*op, 1h).ok());
  const int puts = arm_->fake().RequestCount("PUT Microsoft.VirtualMachineImages/imageTemplates");

  StepResult r = Build();
  ASSERT_EQ(r.kind(), StepResult::Kind::kStalled) << r.message();
  EXPECT_NE(r.message().find("does not belong to this release"), std::string::npos);
  EXPECT_NE(r.message().find(names_.image_template), std::string::npos);
  EXPECT_TRUE(Cleanup().done());
  EXPECT_TRUE(Template().has_value()) << "a template that is not ours was deleted";
  EXPECT_EQ(arm_->fake().RequestCount("PUT Microsoft.VirtualMachineImages/imageTemplates"), puts);
  EXPECT_EQ(arm_->fake().RequestCount("DELETE Microsoft.VirtualMachineImages/imageTemplates"), 0);
  EXPECT_EQ(Runs(), 0);
}

TEST_F(ImageBuilderBuildTest, DeleteRefusedWhileTheTemplateIsBusyIsRetried) {
  arm_->fake().SetLroPolls(4);
  ASSERT_EQ(Build().kind(), StepResult::Kind::kWait);  // the template is being created
  // Like Azure, the fake refuses to delete a template that is being created.
  auto refused = builder_->DeleteTemplate(Ref());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().detail().reason, "OperationNotAllowed");
  StepResult r = Cleanup();
  ASSERT_EQ(r.kind(), StepResult::Kind::kWait) << r.message();
  EXPECT_NE(r.message().find("refuses to delete"), std::string::npos) << r.message();
  ASSERT_TRUE(CleanupUntilDone().done());
  EXPECT_FALSE(Template().has_value());
  EXPECT_GE(arm_->fake().RequestCount("DELETE Microsoft.VirtualMachineImages/imageTemplates"), 3);
}

TEST_F(ImageBuilderBuildTest, RunningBuildIsCancelledBeforeItsTemplateIsDeleted) {
  arm_->fake().SetImageBuilderRunDuration(1h);
  StepResult r = Build();
  for (int i = 0; i < 10 && Runs() == 0; ++i) {
    arm_->clock().Advance(r.requeue());
    r = Build();
  }
  ASSERT_EQ(Runs(), 1);
  auto refused = builder_->DeleteTemplate(Ref());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().detail().reason, "OperationNotAllowed");
  EXPECT_NE(refused.status().message().find("run state: running"), std::string::npos)
      << refused.status().message();
  ASSERT_TRUE(CleanupUntilDone().done());
  EXPECT_FALSE(Template().has_value());
  EXPECT_EQ(arm_->fake().RequestCount("POST Microsoft.VirtualMachineImages/imageTemplates/cancel"),
            1);
}

TEST_F(ImageBuilderBuildTest, FailedRunFailsTheReleaseWithAzuresCodeAndMessage) {
  arm_->fake().FailImageBuilderRuns("", "CustomizerFailed",
                                    "customizer 'hello' failed: script exited with code 3");
  StepResult r = BuildUntilSettled();
  ASSERT_EQ(r.kind(), StepResult::Kind::kFailed) << r.message();
  EXPECT_EQ(r.reason(), reason::kBuildFailed);
  EXPECT_NE(r.message().find("CustomizerFailed"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("script exited with code 3"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("ended Failed"), std::string::npos) << r.message();
  // The reconciler may need several passes to clean up before it records the
  // failure: each one reports the same failure.
  const StepResult again = Build();
  EXPECT_EQ(again.kind(), StepResult::Kind::kFailed);
  EXPECT_EQ(again.message(), r.message());
  ASSERT_TRUE(status_.build.has_value());
  EXPECT_NE(status_.build->output_tail.value_or("").find("script exited with code 3"),
            std::string::npos);
  EXPECT_EQ(status_.build->exit_code, 1);
  EXPECT_FALSE(staging_.GetProperties({"vmrelease-staging", names_.staging_blob}).ok());
  ASSERT_TRUE(CleanupUntilDone().done());
  EXPECT_FALSE(Template().has_value());
}

TEST_F(ImageBuilderBuildTest, BuildStoppedAtTheControllersTimeoutThenCancelledAndDeleted) {
  rel_.spec.build.timeout = "10m";
  arm_->fake().SetImageBuilderRunDuration(2h);
  StepResult r = Build();
  const WallTime start = arm_->clock().WallNow();
  while (r.kind() == StepResult::Kind::kWait && arm_->clock().WallNow() - start < 11min) {
    arm_->clock().Advance(r.requeue());
    r = Build();
  }
  ASSERT_EQ(r.kind(), StepResult::Kind::kFailed) << r.message();
  EXPECT_EQ(r.reason(), reason::kBuildTimedOut);
  EXPECT_LE(arm_->clock().WallNow() - start, 10min + 10s);
  EXPECT_EQ(Runs(), 1);
  ASSERT_TRUE(CleanupUntilDone().done());
  EXPECT_FALSE(Template().has_value());
  EXPECT_EQ(arm_->fake().RequestCount("POST Microsoft.VirtualMachineImages/imageTemplates/cancel"),
            1);
}

}  // namespace
}  // namespace vmrelease::release
