#include "controller/release/reconciler.h"

#include <algorithm>

#include "controller/common/json_depth.h"
#include "controller/common/log.h"
#include "controller/kube/conditions.h"
#include "controller/kube/errors.h"
#include "controller/kube/finalizer.h"
#include "controller/kube/patch.h"
#include "controller/kube/stall.h"

namespace vmrelease::release {
namespace {

using api::ConditionStatus;
using api::ReleasePhase;

constexpr char kLogger[] = "release";
constexpr Duration kCacheCatchUp = std::chrono::milliseconds(200);

void Cond(ReleaseContext& ctx, const char* type, ConditionStatus status, const std::string& reason,
          const std::string& message) {
  api::SetCondition(ctx.status.conditions,
                    {.type = type,
                     .status = status,
                     .observed_generation = ctx.release.metadata.generation,
                     .reason = reason,
                     .message = TailForStatus(message, 32 * 1024)},
                    ctx.now);
}

std::string PhaseName(ReleasePhase p) { return std::string(api::EnumName(p)); }

std::string DefaultMessage(ReleasePhase p) {
  switch (p) {
    case ReleasePhase::kPending:
      return "accepted; the pipeline starts";
    case ReleasePhase::kBuilding:
      return "building the image";
    case ReleasePhase::kStaging:
      return "staging the image for validation";
    case ReleasePhase::kValidating:
      return "running the checks";
    case ReleasePhase::kPublishing:
      return "publishing";
    default:
      return "";
  }
}

std::string StepOf(ReleasePhase p) {
  switch (p) {
    case ReleasePhase::kBuilding:
      return "Build";
    case ReleasePhase::kStaging:
      return "Stage";
    case ReleasePhase::kValidating:
      return "Validate";
    case ReleasePhase::kPublishing:
      return "Publish";
    default:
      return "";
  }
}

}  // namespace

Reconciler::Reconciler(ReconcilerOptions options)
    : o_(std::move(options)), steps_(o_.env, o_.backends, o_.releases, o_.pins) {}

kube::ReconcileResult Reconciler::StallRaw(const kube::Json& obj, const std::string& message) {
  // The object cannot be handled as an ImageRelease: say so without copying it.
  const kube::ObjectRef ref = kube::ObjectRef::FromObject(obj);
  if (kube::IsDeleting(obj)) {
    // Nothing was ever started for it: let it go.
    if (kube::HasFinalizer(obj, kFinalizer)) {
      auto removed = kube::RemoveFinalizer(o_.client, o_.type, obj, kFinalizer);
      if (!removed.ok()) return removed.status();
    }
    return kube::Action::AwaitChange();
  }
  const std::string msg = TailForStatus(message, 4096);
  kube::Json first_phase = kube::Json::object();
  if (!kube::Find(obj, {"status", "phase"})) first_phase["phase"] = "Pending";
  auto written = kube::WriteRawStall(o_.client, o_.type, obj,
                                     {.reason = reason::kInvalidSpec,
                                      .message = msg,
                                      .now = api::FormatTime(o_.env.clock->WallNow()),
                                      .extra_status = std::move(first_phase)});
  if (!written.ok()) return written.status();
  if (!*written) return kube::Action::AwaitChange();
  log::Warn(kLogger, "release stalled: it cannot be processed",
            {{"release", ref.Key()}, {"error", msg}});
  if (o_.publish_event)
    o_.publish_event({.regarding = kube::ObjectReference::To(obj),
                      .type = kube::EventType::kWarning,
                      .reason = reason::kInvalidSpec,
                      .action = "CheckSpec",
                      .note = msg});
  return kube::ReconcileError::Stalled(InvalidArgumentError(msg));
}

kube::ReconcileResult Reconciler::Reconcile(const kube::ObjectRef& ref) {
  const kube::ObjectPtr obj = o_.releases.Get(ref);
  if (!obj) {
    o_.env.metrics->ForgetRelease(ref.ns, ref.name);
    own_writes_.Forget(ref.Key());
    return kube::Action::AwaitChange();
  }
  // 1b. Never act on a state older than what this process last wrote.
  if (own_writes_.CacheBehind(ref.Key(), *obj, o_.env.clock->Now()))
    return kube::Action::RequeueAfter(kCacheCatchUp);
  // 2. What cannot be handled safely is refused before anything copies it.
  if (auto where = FindDeeperThan(*obj, kMaxObjectDepth, "")) {
    return StallRaw(*obj, *where + ": nested deeper than " + std::to_string(kMaxObjectDepth) +
                              " levels; vmrelease refuses objects this deep");
  }
  StatusOr<api::ImageRelease> parsed = api::ParseImageRelease(*obj);
  if (!parsed.ok()) return StallRaw(*obj, parsed.status().message());
  api::ImageRelease release = std::move(*parsed);
  api::SetDefaults(release);
  const ReleaseNames names = ReleaseNames::For(release);
  const api::ImageReleaseStatus before = release.status.value_or(api::ImageReleaseStatus{});
  api::ImageReleaseStatus status = before;
  ReleaseContext ctx{.release = release,
                     .status = status,
                     .names = names,
                     .env = o_.env,
                     .now = o_.env.clock->WallNow()};

  // Where it runs (status.pinnedBy): the pins' own view, whatever else happens.
  if (!kube::IsDeleting(*obj) || kube::HasFinalizer(*obj, kFinalizer))
    status.pinned_by = steps_.PinnedByRefs(release);
  // 3. Deleting: cleanup, then the finalizer goes; nothing else runs.
  if (kube::IsDeleting(*obj)) {
    if (!kube::HasFinalizer(*obj, kFinalizer)) return kube::Action::AwaitChange();
    StepResult r = steps_.Delete(ctx);
    if (!r.done()) return Finish(ctx, *obj, before, r, std::nullopt);
    if (WriteJson(status) != WriteJson(before)) {
      kube::Json patch = {{"metadata", {{"resourceVersion", kube::ResourceVersion(*obj)}}},
                          {"status", kube::CreateMergePatch(WriteJson(before), WriteJson(status))}};
      auto written = o_.client.PatchStatus(o_.type, ref, kube::PatchType::kMerge, patch);
      if (!written.ok()) return written.status();
      auto removed = kube::RemoveFinalizer(o_.client, o_.type, *written, kFinalizer);
      if (!removed.ok()) return removed.status();
    } else {
      auto removed = kube::RemoveFinalizer(o_.client, o_.type, *obj, kFinalizer);
      if (!removed.ok()) return removed.status();
    }
    log::Info(kLogger, "release deleted", {{"release", names.key}});
    {
      std::lock_guard g(mu_);
      transient_.erase(release.metadata.uid);
      phase_started_.erase(release.metadata.uid);
    }
    o_.env.metrics->ForgetRelease(ref.ns, ref.name);
    return kube::Action::AwaitChange();
  }
  // 4. The finalizer first: nothing remote happens before it is in place. The
  // same reconcile goes on from the updated object, so a new release shows its
  // first status (Pending) at once, not after a second pass through a busy queue.
  kube::ObjectPtr current = obj;
  if (!kube::HasFinalizer(*obj, kFinalizer)) {
    auto added = kube::AddFinalizer(o_.client, o_.type, *obj, kFinalizer);
    if (!added.ok()) return added.status();
    own_writes_.Remember(ref.Key(), *added, o_.env.clock->Now());
    current = std::make_shared<const kube::Json>(std::move(*added));
  }
  // 5. A requested retry of a Failed release.
  steps_.HandleRetry(ctx);
  // 6. The steps, in order.
  using StepFn = StepResult (Steps::*)(ReleaseContext&);
  static constexpr std::pair<StepFn, api::ReleaseStep> kPipeline[] = {
      {&Steps::Build, api::ReleaseStep::kBuild},
      {&Steps::Stage, api::ReleaseStep::kStage},
      {&Steps::Validate, api::ReleaseStep::kValidate},
      {&Steps::Publish, api::ReleaseStep::kPublish},
  };
  StepResult result = steps_.CheckSpec(ctx);
  std::optional<api::ReleaseStep> step;
  if (result.done() && ctx.phase() != ReleasePhase::kFailed) {
    for (const auto& [fn, which] : kPipeline) {
      step = which;
      result = (steps_.*fn)(ctx);
      if (!result.done()) break;
      if (!ctx.transitions.empty()) {
        // Persist every phase boundary before the next step acts on it: a kill
        // after this line must find the decision recorded, not redo or undo it.
        result = StepResult::Wait(Duration::zero());
        break;
      }
    }
    if (result.done()) {
      step.reset();
      result = steps_.Revoke(ctx);
    }
  }
  return Finish(ctx, *current, before, std::move(result), step);
}

void Reconciler::Summarize(ReleaseContext& ctx, const StepResult& result) {
  const ReleasePhase phase = ctx.phase();
  ctx.status.observed_generation = ctx.release.metadata.generation;
  if (kube::IsDeleting(api::ToJson(ctx.release))) return;
  if (result.kind() == StepResult::Kind::kStalled) {
    Cond(ctx, api::kConditionReady, ConditionStatus::kFalse, result.reason(), result.message());
    Cond(ctx, api::kConditionStalled, ConditionStatus::kTrue, result.reason(), result.message());
    api::RemoveCondition(ctx.status.conditions, api::kConditionReconciling);
    return;
  }
  // A revocation (or its withdrawal) the steps are still carrying out: not Ready as Released
  // while the gallery version is still in `latest`, and not settled either way.
  const bool revoking = phase == ReleasePhase::kReleased && ctx.release.spec.revocation;
  const bool restoring = phase == ReleasePhase::kRevoked && !ctx.release.spec.revocation;
  if (revoking || restoring) {
    const std::string why = revoking ? "Revoking" : "Restoring";
    const std::string msg = result.message().empty()
                                ? (revoking ? "revoking: excluding the version from latest and "
                                              "tagging its blob"
                                            : "withdrawing the revocation")
                                : result.message();
    Cond(ctx, api::kConditionReady, ConditionStatus::kFalse, why, msg);
    Cond(ctx, api::kConditionReconciling, ConditionStatus::kTrue, why, msg);
    api::RemoveCondition(ctx.status.conditions, api::kConditionStalled);
    return;
  }
  switch (phase) {
    case ReleasePhase::kReleased:
      Cond(ctx, api::kConditionReady, ConditionStatus::kTrue, reason::kReleased,
           "version " + ctx.release.spec.version + " of " + ctx.release.spec.image +
               " is validated and published");
      api::RemoveCondition(ctx.status.conditions, api::kConditionReconciling);
      api::RemoveCondition(ctx.status.conditions, api::kConditionStalled);
      break;
    case ReleasePhase::kRevoked:
      Cond(ctx, api::kConditionReady, ConditionStatus::kFalse, reason::kRevoked,
           "revoked: " + (ctx.release.spec.revocation ? ctx.release.spec.revocation->reason : ""));
      api::RemoveCondition(ctx.status.conditions, api::kConditionReconciling);
      api::RemoveCondition(ctx.status.conditions, api::kConditionStalled);
      break;
    case ReleasePhase::kFailed: {
      const api::Condition* stalled =
          api::FindCondition(ctx.status.conditions, api::kConditionStalled);
      const std::string why = stalled ? stalled->reason : "Failed";
      const std::string msg = stalled ? stalled->message : "the release failed";
      Cond(ctx, api::kConditionReady, ConditionStatus::kFalse, why, msg);
      api::RemoveCondition(ctx.status.conditions, api::kConditionReconciling);
      break;
    }
    default: {
      const std::string msg = result.message().empty() ? DefaultMessage(phase) : result.message();
      Cond(ctx, api::kConditionReady, ConditionStatus::kFalse, PhaseName(phase), msg);
      Cond(ctx, api::kConditionReconciling, ConditionStatus::kTrue, PhaseName(phase), msg);
      api::RemoveCondition(ctx.status.conditions, api::kConditionStalled);
      break;
    }
  }
}

void Reconciler::ObservePhaseChange(ReleaseContext& ctx, ReleasePhase from, ReleasePhase to) {
  // `from` is the phase the release left, `to` the one it entered.
  const std::string uid = ctx.release.metadata.uid;
  std::optional<WallTime> began;
  {
    std::lock_guard g(mu_);
    auto it = phase_started_.find(uid);
    if (it != phase_started_.end()) began = it->second;
    phase_started_[uid] = ctx.now;
  }
  const bool failed = to == ReleasePhase::kFailed;
  const std::string step = failed && ctx.status.failed_step
                               ? std::string(api::EnumName(*ctx.status.failed_step))
                               : StepOf(from);
  if (began && !step.empty() && StepOf(from) == step) {
    std::string backend = step == "Build"      ? BuildBackendName(ctx.release)
                          : step == "Validate" ? ValidationBackendName(ctx.release)
                                               : "azure";
    o_.env.metrics->ObserveStep(step, backend, failed ? "failure" : "success",
                                std::chrono::duration<double>(ctx.now - *began).count());
  }
  std::string note;
  if (failed) {
    const api::Condition* stalled =
        api::FindCondition(ctx.status.conditions, api::kConditionStalled);
    note = "step " + step + " failed" + (stalled ? ": " + stalled->message : "");
  } else if (to == ReleasePhase::kReleased && from == ReleasePhase::kRevoked) {
    return;  // ReleaseRestored says it
  } else if (to == ReleasePhase::kRevoked) {
    return;  // ReleaseRevoked says it
  } else if (to == ReleasePhase::kReleased) {
    note = "version " + ctx.release.spec.version + " is validated and published";
  } else {
    note = DefaultMessage(to);
  }
  ctx.events.push_back({failed ? kube::EventType::kWarning : kube::EventType::kNormal,
                        PhaseName(to), "Phase", note});
}

kube::ReconcileResult Reconciler::Finish(ReleaseContext& ctx, const kube::Json& obj,
                                         const api::ImageReleaseStatus& before, StepResult result,
                                         std::optional<api::ReleaseStep> step) {
  const std::string uid = ctx.release.metadata.uid;
  // Bounded transient retries: a step that keeps failing fails for good.
  if (result.kind() == StepResult::Kind::kError) {
    int failures = 0;
    {
      std::lock_guard g(mu_);
      failures = ++transient_[uid];
    }
    log::Warn(kLogger, "transient failure",
              {{"release", ctx.names.key}, {"attempt", failures}, {"error", result.message()}});
    if (failures >= kMaxTransientFailures && step) {
      result = StepResult::Failed(reason::kAzureError,
                                  "gave up after " + std::to_string(failures) +
                                      " attempts: " + log::Redact(result.message()));
    }
  } else {
    std::lock_guard g(mu_);
    transient_.erase(uid);
  }
  // A step failed for good: clean up what it left running, then record it.
  bool newly_failed = false;
  if (result.kind() == StepResult::Kind::kFailed && step) {
    StepResult cleaned = steps_.CleanupFailed(ctx, *step);
    if (cleaned.done()) {
      ctx.SetPhase(ReleasePhase::kFailed);
      ctx.status.failed_step = *step;
      ctx.status.operation.reset();
      Cond(ctx, api::kConditionStalled, ConditionStatus::kTrue, result.reason(), result.message());
      newly_failed = true;
    } else {
      result = cleaned;
    }
  }
  if (result.kind() == StepResult::Kind::kFailed && !step) {
    // Only pipeline steps fail a release; elsewhere (revocation, deletion) retry.
    result = StepResult::Error(UnavailableError(result.message()));
  }
  Summarize(ctx, result);
  if (result.kind() == StepResult::Kind::kStalled) {
    // A Warning for every stall, once per reason and message (CheckSpec's stalls say their
    // own): a backend's "a Job named ... does not belong to this release" reaches
    // `kubectl get events` as well as the condition.
    const api::Condition* was = api::FindCondition(before.conditions, api::kConditionStalled);
    const api::Condition* now = api::FindCondition(ctx.status.conditions, api::kConditionStalled);
    const bool changed = now && (!was || was->status != now->status || was->reason != now->reason ||
                                 was->message != now->message);
    const bool told = std::any_of(ctx.events.begin(), ctx.events.end(), [&](const auto& e) {
      return e.type == kube::EventType::kWarning && e.reason == result.reason();
    });
    if (changed && !told)
      ctx.Event(result.reason(), step ? std::string(api::EnumName(*step)) : "Reconcile",
                result.message(), kube::EventType::kWarning);
  }

  const ReleasePhase from = before.phase.value_or(ReleasePhase::kPending);
  const ReleasePhase to = ctx.phase();
  ReleasePhase left = from;
  for (ReleasePhase entered : ctx.transitions) {  // one Event per phase, none skipped
    ObservePhaseChange(ctx, left, entered);
    left = entered;
  }
  const kube::Json old_json = WriteJson(before), new_json = WriteJson(ctx.status);
  if (old_json != new_json) {
    kube::Json patch = {{"metadata", {{"resourceVersion", kube::ResourceVersion(obj)}}},
                        {"status", kube::CreateMergePatch(old_json, new_json)}};
    auto written = o_.client.PatchStatus(o_.type, kube::ObjectRef::FromObject(obj),
                                         kube::PatchType::kMerge, patch);
    if (!written.ok()) {
      // A stale cache (conflict) or a blip: nothing was lost, the next run redoes it.
      return kube::ReconcileError::Transient(written.status().WithContext("writing status"));
    }
    own_writes_.Remember(kube::ObjectRef::FromObject(obj).Key(), obj, o_.env.clock->Now());
    if (o_.publish_event) {
      const kube::ObjectReference regarding = kube::ObjectReference::To(*written);
      for (PendingEvent& e : ctx.events)
        o_.publish_event({.regarding = regarding,
                          .type = e.type,
                          .reason = std::move(e.reason),
                          .action = std::move(e.action),
                          .note = std::move(e.note)});
    }
    if (from != to)
      log::Info(kLogger, "phase changed",
                {{"release", ctx.names.key}, {"from", PhaseName(from)}, {"to", PhaseName(to)}});
  }
  if (ctx.status.phase)
    o_.env.metrics->SetPhase(ctx.release.metadata.ns, ctx.release.metadata.name,
                             ctx.release.spec.image, ctx.release.spec.version, PhaseName(to));

  switch (result.kind()) {
    case StepResult::Kind::kDone:
      return kube::Action::AwaitChange();
    case StepResult::Kind::kWait:
      return kube::Action::RequeueAfter(result.requeue());
    case StepResult::Kind::kError:
      return kube::ReconcileError::Transient(
          result.status().ok() ? UnavailableError(result.message()) : result.status());
    case StepResult::Kind::kStalled:
      // A step's stall (someone else's Job or template in the way, a source release not
      // published yet) depends on objects nothing watches: look again now and then. A spec
      // stall waits for the spec (or the duplicate) to change, which wakes the release.
      if (step)
        return kube::Action::RequeueAfter(
            std::min<Duration>(kStepStallRecheck, 15 * o_.env.poll_interval));
      [[fallthrough]];
    case StepResult::Kind::kFailed:
      if (newly_failed || old_json != new_json)
        return kube::ReconcileError::Stalled(FailedPreconditionError(result.message()));
      return kube::Action::AwaitChange();
  }
  return kube::Action::AwaitChange();
}

}  // namespace vmrelease::release
