#include "controller/release/vm_validation.h"

#include "controller/common/crypto.h"
#include "controller/common/duration.h"
#include "controller/common/log.h"

namespace vmrelease::release {
namespace {

constexpr char kLogger[] = "release.vm_validation";
using api::OperationStep;

std::string SubscriptionOf(const std::string& id) {
  // /subscriptions/<sub>/resourceGroups/...
  const std::string prefix = "/subscriptions/";
  if (id.rfind(prefix, 0) != 0) return "";
  const size_t end = id.find('/', prefix.size());
  return id.substr(prefix.size(),
                   end == std::string::npos ? std::string::npos : end - prefix.size());
}

std::map<std::string, std::string> Tags(const ReleaseContext& ctx) {
  std::map<std::string, std::string> tags = ctx.release.spec.validation.vm->tags;
  tags[azure::kReleaseUidTag] = ctx.release.metadata.uid;
  tags["vmrelease-release"] = ctx.names.key;
  tags["vmrelease-purpose"] = "validation";
  return tags;
}

// A password Azure's complexity rules accept; never stored (the VM is only ever
// reached through Run Command) and registered as a secret so no log shows it.
std::string GeneratedPassword() {
  std::string p = "Vr!" + RandomHex(20) + "Q9";
  log::RegisterSecret(p);
  return p;
}

}  // namespace

azure::ResourceGroupRef ValidationResourceGroup(const api::ValidationVm& vm) {
  return {SubscriptionOf(vm.subnet_id), vm.resource_group};
}

StepResult VmValidationBackend::Prepare(ReleaseContext& ctx) {
  const api::ValidationVm& spec = *ctx.release.spec.validation.vm;
  azure::VirtualMachines& vms = *ctx.env.vms;
  const azure::ResourceGroupRef rg = ValidationResourceGroup(spec);
  // 1. The NIC (an idempotent PUT; re-sent after a restart, it changes nothing).
  if (!ctx.Operation(OperationStep::kValidate, "CreateVm")) {
    StepResult nic = FollowOperation(
        ctx, vms, OperationStep::kValidate, "CreateNic",
        [&] {
          return vms.CreateNic(
              rg, ctx.names.nic,
              {.location = spec.location, .subnet_id = spec.subnet_id, .tags = Tags(ctx)});
        },
        reason::kValidationFailed);
    if (!nic.done()) return nic;
  }
  // 2. The VM. One that exists already (an earlier process created it) is adopted,
  // never PUT again: its OS profile (password) cannot change.
  StepResult vm = FollowOperation(
      ctx, vms, OperationStep::kValidate, "CreateVm",
      [&]() -> StatusOr<azure::Operation> {
        StatusOr<azure::VirtualMachine> existing = vms.GetVm(rg, ctx.names.vm, false);
        if (existing.ok()) {
          azure::Operation op;
          op.ref.method = "GET";
          const std::string& state = existing->provisioning_state;
          if (state == "Succeeded") {
            op.state = azure::OperationState::kSucceeded;
          } else if (state == "Failed") {
            op.state = azure::OperationState::kFailed;
            op.error = Status(StatusCode::kUnknown,
                              "test VM " + ctx.names.vm + " is in provisioning state Failed");
          } else {
            op.state = azure::OperationState::kInProgress;
            op.ref.resource_url = existing->id;
          }
          return op;
        }
        if (existing.status().code() != StatusCode::kNotFound) return existing.status();
        azure::VmSpec vs;
        vs.location = spec.location;
        vs.size = spec.size;
        vs.nic_id = rg.Id("Microsoft.Network/networkInterfaces", ctx.names.nic);
        vs.os_type = spec.os_type ? std::string(api::EnumName(*spec.os_type)) : "Linux";
        if (ctx.status.artifact && ctx.status.artifact->gallery_image_version_id) {
          // The image definition says what the VM must be (OS, security type), so a
          // changed platform default cannot make the creation fail.
          const api::GalleryTarget& g = *ctx.release.spec.publish.gallery;
          StatusOr<azure::ImageDefinition> def = ctx.env.gallery->GetImageDefinition(
              {g.subscription_id, g.resource_group, g.gallery, g.image_definition});
          if (!def.ok()) return def.status();
          if (!def->os_type.empty()) vs.os_type = def->os_type;
          vs.security_type = azure::VmSecurityTypeFor(*def);
          vs.gallery_image_version_id = *ctx.status.artifact->gallery_image_version_id;
          vs.os_disk_name = ctx.names.os_disk;
          vs.admin_password = GeneratedPassword();
        } else {
          vs.os_disk_id = rg.Id("Microsoft.Compute/disks", ctx.names.staged_disk);
        }
        vs.computer_name = azure::ComputerNameFor(ctx.names.vm, vs.os_type);
        vs.tags = Tags(ctx);
        return vms.CreateVm(rg, ctx.names.vm, vs);
      },
      reason::kValidationFailed);
  if (!vm.done()) return vm;
  ctx.status.validation->state = api::ValidationState::kRunningChecks;
  ctx.Event("TestVmReady", "Validate",
            "test VM " + ctx.names.vm + " is running in " + spec.location);
  return StepResult::Done();
}

StepResult VmValidationBackend::RunCheck(ReleaseContext& ctx, const api::Check& check) {
  const api::ValidationVm& spec = *ctx.release.spec.validation.vm;
  azure::VirtualMachines& vms = *ctx.env.vms;
  const azure::ResourceGroupRef rg = ValidationResourceGroup(spec);
  const std::string action = "RunCheck/" + check.name;
  const Duration timeout = check.TimeoutOrDefault();
  const api::PendingOperation* pending = ctx.Operation(OperationStep::kValidate, action);
  if (!pending) {
    azure::RunCommandSpec run{
        .location = spec.location,
        .script = check.script,
        .timeout_seconds =
            static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(timeout).count())};
    if (check.IsInventory() && WantsCheckInventory(ctx)) {
      // Its whole standard output is the inventory: Azure appends it to a blob
      // beside the staging VHD (instanceView keeps only a tail). Appended, so an
      // earlier attempt's output goes first.
      const azure::BlobRef blob = ctx.StagingInventoryRef();
      if (Status s = ctx.env.staging->Delete(blob); !s.ok() && s.code() != StatusCode::kNotFound)
        return StepResult::FromAzure(s, reason::kValidationFailed);
      azure::SasRequest sas{.permissions = "racw",
                            .start = ctx.now - std::chrono::minutes(5),
                            .expiry = ctx.now + timeout + std::chrono::minutes(30)};
      if (ctx.env.staging->BlobUrl(blob).rfind("http://", 0) == 0) sas.protocol = "";  // Azurite
      StatusOr<std::string> url = ctx.env.staging->GenerateSasUrl(blob, sas);
      if (!url.ok()) return StepResult::FromAzure(url.status(), reason::kValidationFailed);
      log::RegisterSecret(*url);
      run.output_blob_uri = *url;
    }
    StatusOr<azure::Operation> op = vms.StartRunCommand(rg, ctx.names.vm, check.name, run);
    if (!op.ok()) return StepResult::FromAzure(op.status(), reason::kValidationFailed);
    ctx.RecordOperation(OperationStep::kValidate, action, op->ref.Serialize());
    ctx.Event("CheckStarted", "Validate", "check " + check.name + " started on " + ctx.names.vm);
    return StepResult::Wait(ctx.env.poll_interval, "check " + check.name + " is running");
  }
  const WallTime started = api::ParseTime(pending->started_at.value_or("")).value_or(ctx.now);
  const double seconds = std::max(0.0, std::chrono::duration<double>(ctx.now - started).count());
  StatusOr<azure::RunCommandResult> rc = vms.GetRunCommand(rg, ctx.names.vm, check.name);
  if (!rc.ok() && rc.status().code() != StatusCode::kNotFound)
    return StepResult::FromAzure(rc.status(), reason::kValidationFailed);
  if (!rc.ok() || !rc->finished()) {
    // Azure enforces timeoutInSeconds; this is the backstop if it never reports.
    if (ctx.now - started < timeout + std::chrono::minutes(2))
      return StepResult::Wait(ctx.env.poll_interval, "check " + check.name + " is running");
    api::CheckResult r = EvaluateCheck(check, -1, "", seconds);
    r.exit_code.reset();
    r.message = "no result from Run Command within " + FormatDuration(timeout);
    ctx.status.validation->results.push_back(std::move(r));
    ctx.status.operation.reset();
    return StepResult::Done();
  }
  std::string output = rc->output;
  if (!rc->error.empty()) output += (output.empty() ? "" : "\n") + rc->error;
  api::CheckResult r;
  if (rc->exit_code) {
    r = EvaluateCheck(check, *rc->exit_code, output, seconds);
  } else {
    r = EvaluateCheck(check, -1, output, seconds);
    r.passed = false;
    r.exit_code.reset();
    r.message = "Run Command ended " + rc->execution_state +
                (rc->execution_message.empty() ? "" : ": " + rc->execution_message);
  }
  if (rc->execution_state == "TimedOut") {
    r.passed = false;
    r.message = "timed out after " + FormatDuration(timeout) + " (the check's timeout)";
  }
  ctx.status.validation->results.push_back(std::move(r));
  ctx.status.operation.reset();
  return StepResult::Done();
}

StepResult VmValidationBackend::Validate(ReleaseContext& ctx) {
  api::ValidationStatus& v = *ctx.status.validation;
  v.vm = ctx.names.vm;
  if (!v.state || *v.state == api::ValidationState::kPreparing) {
    v.state = api::ValidationState::kPreparing;
    StepResult r = Prepare(ctx);
    if (!r.done()) return r;
  }
  return RunChecksInOrder(ctx, /*pause_between=*/false,
                          [&](size_t, const api::Check& check) { return RunCheck(ctx, check); });
}

InventorySource VmValidationBackend::Inventory(const ReleaseContext& ctx,
                                               const api::Check& /*check*/) const {
  return {.blob = ctx.StagingInventoryRef()};
}

StepResult VmValidationBackend::Cleanup(ReleaseContext& ctx, bool keep) {
  const api::ValidationVm& spec = *ctx.release.spec.validation.vm;
  azure::VirtualMachines& vms = *ctx.env.vms;
  const azure::ResourceGroupRef rg = ValidationResourceGroup(spec);
  if (keep) {
    ctx.Event("TestVmKept", "Validate",
              "keepVmOnFailure: test VM " + ctx.names.vm + ", NIC " + ctx.names.nic + " and disk " +
                  // Without a gallery the VM boots from the disk imported from the VHD.
                  (ctx.release.spec.publish.gallery ? ctx.names.os_disk : ctx.names.staged_disk) +
                  " in resource group " + rg.resource_group +
                  " are kept for debugging; delete them by hand (or delete the release) when done",
              kube::EventType::kWarning);
    return StepResult::Done();
  }
  // VM first (its NIC and disk cannot go while attached), then NIC, then the OS
  // disk in case deleteOption did not take it along. Deleting what is missing succeeds.
  const bool nic_or_disk = ctx.Operation(OperationStep::kValidate, "DeleteNic") ||
                           ctx.Operation(OperationStep::kValidate, "DeleteOsDisk");
  if (!nic_or_disk) {
    StepResult r = FollowOperation(
        ctx, vms, OperationStep::kValidate, "DeleteVm",
        [&] { return vms.DeleteVm(rg, ctx.names.vm, /*force=*/true); }, reason::kValidationFailed);
    if (!r.done()) return r;
  }
  if (!ctx.Operation(OperationStep::kValidate, "DeleteOsDisk")) {
    StepResult r = FollowOperation(
        ctx, vms, OperationStep::kValidate, "DeleteNic",
        [&] { return vms.DeleteNic(rg, ctx.names.nic); }, reason::kValidationFailed);
    if (!r.done()) return r;
  }
  StepResult r = FollowOperation(
      ctx, vms, OperationStep::kValidate, "DeleteOsDisk",
      [&] { return vms.DeleteDisk(rg, ctx.names.os_disk); }, reason::kValidationFailed);
  if (!r.done()) return r;
  log::Info(kLogger, "test VM, NIC and disk deleted",
            {{"release", ctx.names.key}, {"vm", ctx.names.vm}});
  return StepResult::Done();
}

}  // namespace vmrelease::release
