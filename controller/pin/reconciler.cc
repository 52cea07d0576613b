#include "controller/pin/reconciler.h"

#include "controller/common/json_depth.h"
#include "controller/common/log.h"
#include "controller/kube/conditions.h"
#include "controller/kube/errors.h"
#include "controller/kube/patch.h"
#include "controller/kube/stall.h"
#include "controller/pin/export.h"

namespace vmrelease::pin {
namespace {

using api::ConditionStatus;

constexpr char kLogger[] = "pin";
constexpr Duration kCacheCatchUp = std::chrono::milliseconds(200);

class NoMetrics final : public PinMetrics {
 public:
  void SetPin(const PinSample&) override {}
  void ForgetPin(const std::string&, const std::string&) override {}
};

std::string SpecImage(const kube::Json& obj) {
  const kube::Json* v = kube::Find(obj, {"spec", "image"});
  return v && v->is_string() ? v->get<std::string>() : "";
}

// Sets a condition; a condition that already says the same thing (same status
// and reason, and a message that starts with `stable`) keeps its message, so a
// countdown in the message does not rewrite status on every look.
void SetCond(std::vector<api::Condition>& conds, const char* type, ConditionStatus status,
             const std::string& why, const std::string& message, const std::string& stable,
             std::optional<int64_t> generation, WallTime now) {
  std::string msg = message;
  if (const api::Condition* old = api::FindCondition(conds, type);
      old && old->status == status && old->reason == why && !stable.empty() &&
      old->message.rfind(stable, 0) == 0)
    msg = old->message;
  api::SetCondition(conds,
                    {.type = type,
                     .status = status,
                     .observed_generation = generation,
                     .reason = why,
                     .message = msg},
                    now);
}

struct PendingEvent {
  kube::EventType type;
  std::string reason, action, note;
};

}  // namespace

PinMetrics& NullPinMetrics() {
  static NoMetrics m;
  return m;
}

std::vector<std::string> ImageIndex(const kube::Json& obj) {
  const std::string image = SpecImage(obj);
  if (image.empty()) return {};
  return {kube::Namespace(obj) + "/" + image};
}

Reconciler::Reconciler(ReconcilerOptions options)
    : o_(std::move(options)), metrics_(o_.metrics ? *o_.metrics : NullPinMetrics()) {}

std::vector<kube::ObjectPtr> Reconciler::OfImage(const kube::Store& store, const std::string& ns,
                                                 const std::string& image) const {
  std::vector<kube::ObjectPtr> out = store.ByIndex(kImageIndex, ns + "/" + image);
  if (!out.empty()) return out;
  // A store without the index (or nothing of the image): filter the namespace.
  for (const kube::ObjectPtr& o : store.List(ns)) {
    if (SpecImage(*o) == image) out.push_back(o);
  }
  return out;
}

kube::ReconcileResult Reconciler::StallRaw(const kube::Json& obj, const std::string& message) {
  // The object cannot be handled as an EnvironmentPin: say so without copying it.
  const kube::ObjectRef ref = kube::ObjectRef::FromObject(obj);
  if (kube::IsDeleting(obj)) return kube::Action::AwaitChange();
  const std::string msg = log::Redact(message);
  auto written = kube::WriteRawStall(
      o_.client, o_.type, obj,
      {.reason = reason::kInvalidSpec, .message = msg, .now = api::FormatTime(o_.clock.WallNow())});
  if (!written.ok()) return written.status();
  if (!*written) return kube::Action::AwaitChange();
  log::Warn(kLogger, "pin stalled: it cannot be processed", {{"pin", ref.Key()}, {"error", msg}});
  if (o_.publish_event)
    o_.publish_event({.regarding = kube::ObjectReference::To(obj),
                      .type = kube::EventType::kWarning,
                      .reason = reason::kInvalidSpec,
                      .action = "Resolve",
                      .note = msg});
  return kube::ReconcileError::Stalled(InvalidArgumentError(msg));
}

kube::ReconcileResult Reconciler::Reconcile(const kube::ObjectRef& ref) {
  // 1. Fetch; gone → done.
  const kube::ObjectPtr obj = o_.pins.Get(ref);
  if (!obj) {
    metrics_.ForgetPin(ref.ns, ref.name);
    own_writes_.Forget(ref.Key());
    return kube::Action::AwaitChange();
  }
  if (own_writes_.CacheBehind(ref.Key(), *obj, o_.clock.Now()))
    return kube::Action::RequeueAfter(kCacheCatchUp);
  // 2. What cannot be handled; deleting.
  if (auto where = FindDeeperThan(*obj, kMaxObjectDepth, "")) {
    return StallRaw(*obj, *where + ": nested deeper than " + std::to_string(kMaxObjectDepth) +
                              " levels; vmrelease refuses objects this deep");
  }
  StatusOr<api::EnvironmentPin> parsed = api::ParseEnvironmentPin(*obj);
  if (!parsed.ok()) return StallRaw(*obj, parsed.status().message());
  const api::EnvironmentPin pin = std::move(*parsed);
  if (kube::IsDeleting(*obj)) return kube::Action::AwaitChange();

  // 3. Select: the world of this pin, from the caches.
  std::vector<ReleaseView> releases;
  for (const kube::ObjectPtr& r : OfImage(o_.releases, ref.ns, pin.spec.image)) {
    if (auto v = ViewOfRelease(*r)) releases.push_back(std::move(*v));
  }
  std::vector<api::EnvironmentPin> others;
  for (const kube::ObjectPtr& p : OfImage(o_.pins, ref.ns, pin.spec.image)) {
    if (kube::Name(*p) == ref.name || kube::IsDeleting(*p)) continue;
    auto other = api::ParseEnvironmentPin(*p);
    if (other.ok() && other->spec.image == pin.spec.image) others.push_back(std::move(*other));
  }
  const WallTime now = o_.clock.WallNow();
  const Decision d = Resolve(pin, releases, others, now);

  const api::EnvironmentPinStatus before = pin.status.value_or(api::EnvironmentPinStatus{});
  api::EnvironmentPinStatus status = before;
  std::vector<PendingEvent> events;
  const std::string env = pin.spec.environment;

  // Move.
  if (!d.stalled && d.target && d.move_reason) {
    const std::optional<std::string> from =
        before.resolved ? before.resolved->version : std::nullopt;
    Move(status, *d.target, *d.move_reason, releases, now);
    events.push_back(
        {kube::EventType::kNormal, *d.move_reason, "Move",
         from ? env + " moved from " + *from + " to " + d.target->version + " (" + d.target->name +
                    ")"
              : env + " resolves to " + d.target->version + " (" + d.target->name + ")"});
  }
  if (!d.stalled) {
    status.behind_by = d.behind_by;
    status.latest_version = d.latest_version;
  }

  // Export (compare, then write).
  std::optional<std::string> export_error;
  bool export_transient = false;
  if (!d.stalled && status.resolved && pin.spec.export_spec && pin.spec.export_spec->config_map) {
    const std::string& cm = pin.spec.export_spec->config_map->name;
    auto wrote = EnsureExport(o_.client, *obj, cm, ExportData(pin.spec.image, *status.resolved));
    if (!wrote.ok()) {
      export_error = wrote.status().message();
      export_transient = wrote.status().code() != StatusCode::kFailedPrecondition;
    } else if (*wrote) {
      events.push_back({kube::EventType::kNormal, "Exported", "Export",
                        "ConfigMap " + cm + " holds " + status.resolved->version.value_or("")});
    }
  }

  // A changed spec may have renamed or dropped the export: the ConfigMaps exported under
  // another name go (checked once per generation; on failure the status, observedGeneration
  // included, is not written, so the next attempt checks again).
  if (!pin.metadata.generation || pin.metadata.generation != before.observed_generation) {
    const std::string keep = pin.spec.export_spec && pin.spec.export_spec->config_map
                                 ? pin.spec.export_spec->config_map->name
                                 : std::string();
    auto removed = RemoveStaleExports(o_.client, *obj, keep);
    if (!removed.ok()) return kube::ReconcileError::Transient(removed.status());
    for (const std::string& name : *removed) {
      events.push_back({kube::EventType::kNormal, "ExportRemoved", "Export",
                        "ConfigMap " + name + " is no longer this pin's export; deleted"});
    }
  }

  // 4. Summarise: Ready, Stalled, Resolved; then one patch.
  const std::optional<int64_t> gen = pin.metadata.generation;
  status.observed_generation = gen;
  std::string ready_reason = d.reason;
  const api::Condition* old_ready = api::FindCondition(before.conditions, api::kConditionReady);
  const api::Condition old_ready_copy = old_ready ? *old_ready : api::Condition{};
  if (d.stalled) {
    SetCond(status.conditions, api::kConditionReady, ConditionStatus::kFalse, d.reason, d.message,
            d.stable_message, gen, now);
    SetCond(status.conditions, api::kConditionStalled, ConditionStatus::kTrue, d.reason, d.message,
            d.stable_message, gen, now);
  } else {
    api::RemoveCondition(status.conditions, api::kConditionStalled);
    if (export_error) {
      ready_reason = reason::kExportFailed;
      SetCond(status.conditions, api::kConditionReady, ConditionStatus::kFalse,
              reason::kExportFailed, *export_error, *export_error, gen, now);
    } else {
      SetCond(status.conditions, api::kConditionReady,
              d.ready ? ConditionStatus::kTrue : ConditionStatus::kFalse, d.reason, d.message,
              d.stable_message, gen, now);
    }
  }
  api::RemoveCondition(status.conditions, api::kConditionReconciling);
  if (status.resolved && status.resolved->version) {
    SetCond(status.conditions, api::kConditionResolved, ConditionStatus::kTrue, reason::kResolved,
            "resolves to " + *status.resolved->version, "resolves to " + *status.resolved->version,
            gen, now);
  } else {
    SetCond(status.conditions, api::kConditionResolved, ConditionStatus::kFalse,
            d.stalled ? d.reason : (d.reason.empty() ? reason::kNotResolved : d.reason),
            "no resolution yet: " + d.message, "no resolution yet: " + d.stable_message, gen, now);
  }
  const api::Condition* new_ready = api::FindCondition(status.conditions, api::kConditionReady);
  // A pin waiting for its release warns once; the release's own Events show its phases
  // (the message, which names the phase, still changes in status).
  const bool message_matters = new_ready && new_ready->reason != api::kReasonReleaseNotReady;
  const bool ready_changed =
      new_ready && (!old_ready || old_ready_copy.status != new_ready->status ||
                    old_ready_copy.reason != new_ready->reason ||
                    (message_matters && old_ready_copy.message != new_ready->message));
  if (ready_changed && new_ready->status != ConditionStatus::kTrue)
    events.push_back({kube::EventType::kWarning, ready_reason, "Resolve", new_ready->message});

  const kube::Json old_json = api::WriteJson(before), new_json = api::WriteJson(status);
  bool wrote_status = false;
  if (old_json != new_json) {
    kube::Json patch = {{"metadata", {{"resourceVersion", kube::ResourceVersion(*obj)}}},
                        {"status", kube::CreateMergePatch(old_json, new_json)}};
    auto written = o_.client.PatchStatus(o_.type, ref, kube::PatchType::kMerge, patch);
    if (!written.ok())
      return kube::ReconcileError::Transient(written.status().WithContext("writing status"));
    own_writes_.Remember(ref.Key(), *obj, o_.clock.Now());
    wrote_status = true;
    if (o_.publish_event) {
      const kube::ObjectReference regarding = kube::ObjectReference::To(*written);
      for (PendingEvent& e : events)
        o_.publish_event({.regarding = regarding,
                          .type = e.type,
                          .reason = std::move(e.reason),
                          .action = std::move(e.action),
                          .note = std::move(e.note)});
    }
    if (d.move_reason && d.target)
      log::Info(kLogger, "pin moved",
                {{"pin", ref.Key()},
                 {"environment", env},
                 {"version", d.target->version},
                 {"reason", *d.move_reason}});
  } else if (o_.publish_event) {
    // Only the ConfigMap changed (it was missing or edited): say so.
    for (PendingEvent& e : events) {
      if (e.reason != "Exported") continue;
      o_.publish_event({.regarding = kube::ObjectReference::To(*obj),
                        .type = e.type,
                        .reason = std::move(e.reason),
                        .action = std::move(e.action),
                        .note = std::move(e.note)});
    }
  }

  // A duplicate would share the labels of the pin it duplicates: it reports nothing.
  if (!(d.stalled && d.reason == reason::kDuplicatePin))
    metrics_.SetPin({.ns = ref.ns,
                     .name = ref.name,
                     .environment = env,
                     .image = pin.spec.image,
                     .version = status.resolved ? status.resolved->version : std::nullopt,
                     .ready = new_ready && new_ready->status == ConditionStatus::kTrue,
                     .behind_by = status.behind_by,
                     .revoked = d.revoked});

  if (export_error && export_transient)
    return kube::ReconcileError::Transient(UnavailableError(*export_error));
  if (d.stalled)
    return wrote_status ? kube::ReconcileResult(
                              kube::ReconcileError::Stalled(FailedPreconditionError(d.message)))
                        : kube::ReconcileResult(kube::Action::AwaitChange());
  if (d.requeue_after) return kube::Action::RequeueAfter(*d.requeue_after);
  return kube::Action::AwaitChange();
}

void WireWatches(kube::Controller& controller, kube::Store& pins, kube::Store& releases) {
  pins.AddIndex(kImageIndex, ImageIndex);
  releases.AddIndex(kImageIndex, ImageIndex);
  auto pins_of = [&controller, &pins](const kube::ObjectPtr& o, const std::string& except) {
    if (!o) return;
    for (const std::string& key : ImageIndex(*o)) {
      for (const kube::ObjectPtr& p : pins.ByIndex(kImageIndex, key)) {
        if (kube::Name(*p) != except) controller.Enqueue(kube::ObjectRef::FromObject(*p));
      }
    }
  };
  // Any change to a release of the image can change what its pins resolve to.
  auto release_changed = [pins_of](const kube::ObjectPtr& o) { pins_of(o, ""); };
  releases.AddHandler(
      {.on_add = release_changed,
       .on_update = [release_changed](const kube::ObjectPtr&,
                                      const kube::ObjectPtr& n) { release_changed(n); },
       .on_delete = release_changed});
  // A sibling's resolution decides gates; its coming or going decides duplicates.
  auto sibling = [pins_of](const kube::ObjectPtr& o) { pins_of(o, kube::Name(*o)); };
  pins.AddHandler({.on_add = sibling,
                   .on_update =
                       [sibling](const kube::ObjectPtr& a, const kube::ObjectPtr& b) {
                         const kube::Json* ra = kube::Find(*a, {"status", "resolved"});
                         const kube::Json* rb = kube::Find(*b, {"status", "resolved"});
                         const bool same =
                             (ra == nullptr) == (rb == nullptr) && (!ra || *ra == *rb);
                         if (!same || kube::IsDeleting(*a) != kube::IsDeleting(*b)) sibling(b);
                       },
                   .on_delete = sibling});
}

}  // namespace vmrelease::pin
