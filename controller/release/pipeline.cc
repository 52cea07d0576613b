#include "controller/release/pipeline.h"

#include <algorithm>
#include <regex>

#include "controller/azure/azure_error.h"
#include "controller/common/log.h"
#include "controller/kube/errors.h"

namespace vmrelease::release {

StepResult StepResult::FromAzure(const Status& status, const std::string& failed_reason) {
  const ErrorDetail& d = status.detail();
  // A resource busy with an earlier operation (ours, started by a controller that
  // was killed before it recorded it): wait for it and try again.
  if (d.reason == "AnotherOperationInProgress" || d.reason == "OperationPreempted" ||
      d.reason == "RetryableError") {
    const Duration after = d.retry_after ? Duration(*d.retry_after) : std::chrono::seconds(5);
    return Wait(after, "Azure is busy with an earlier operation on this resource: " +
                           log::Redact(status.message()));
  }
  switch (azure::ClassifyArmError(status)) {
    case azure::ArmErrorKind::kThrottled: {
      const Duration after = d.retry_after ? Duration(*d.retry_after) : std::chrono::seconds(30);
      return Wait(after, "Azure is throttling requests: " + log::Redact(status.message()));
    }
    case azure::ArmErrorKind::kServer:
    case azure::ArmErrorKind::kTransport:
      return Error(status);
    default:
      break;
  }
  if (status.code() == StatusCode::kInternal || status.code() == StatusCode::kCancelled ||
      (d.http_status >= 500 && d.http_status != 501 && d.http_status != 505))
    return Error(status);
  return Failed(failed_reason, log::Redact(status.message()));
}

namespace {

class NullMetrics final : public PipelineMetrics {
 public:
  void SetPhase(const std::string&, const std::string&, const std::string&, const std::string&,
                std::string_view) override {}
  void ForgetRelease(const std::string&, const std::string&) override {}
  void ObserveStep(std::string_view, std::string_view, std::string_view, double) override {}
};

}  // namespace

PipelineMetrics& NullPipelineMetrics() {
  static NullMetrics metrics;
  return metrics;
}

std::string ReleaseKeyOfTask(std::string_view task_key) {
  const size_t a = task_key.find('|');
  if (a == std::string_view::npos) return "";
  const size_t b = task_key.find('|', a + 1);
  if (b == std::string_view::npos) return "";
  return std::string(task_key.substr(a + 1, b - a - 1));
}

const api::Check* InventoryCheck(const api::ImageRelease& release) {
  for (const api::Check& c : release.spec.validation.checks)
    if (c.IsInventory()) return &c;
  return nullptr;
}

bool WantsCheckInventory(const ReleaseContext& ctx) {
  return InventoryCheck(ctx.release) && !(ctx.status.inventory && ctx.status.inventory->sha256);
}

StatusOr<ResolvedSource> ResolveSource(const ReleaseContext& ctx) {
  const api::ReleaseSource& src = ctx.release.spec.source;
  ResolvedSource out;
  if (src.platform_image) {
    const api::PlatformImage& p = *src.platform_image;
    const std::string version = p.version.value_or(api::kDefaultPlatformImageVersion);
    out.env = {{"VMRELEASE_SOURCE_KIND", "platformImage"},
               {"VMRELEASE_SOURCE_PUBLISHER", p.publisher},
               {"VMRELEASE_SOURCE_OFFER", p.offer},
               {"VMRELEASE_SOURCE_SKU", p.sku},
               {"VMRELEASE_SOURCE_VERSION", version}};
    if (version != api::kDefaultPlatformImageVersion) out.version = version;
    return out;
  }
  if (src.gallery_image_version_id) {
    const std::string& id = *src.gallery_image_version_id;
    out.env = {{"VMRELEASE_SOURCE_KIND", "galleryImageVersion"},
               {"VMRELEASE_SOURCE_GALLERY_IMAGE_VERSION_ID", id}};
    out.gallery_image_version_id = id;
    out.version = id.substr(id.rfind('/') + 1);
    return out;
  }
  if (!src.release) return FailedPreconditionError("spec.source: no source image");
  const std::string& name = *src.release;
  const kube::ResourceType releases{api::kGroup, api::kGroupVersion, api::kImageReleasePlural,
                                    api::kImageReleaseKind, true};
  StatusOr<kube::Json> other = ctx.env.kube->Get(releases, {ctx.release.metadata.ns, name});
  if (!other.ok()) {
    if (kube::IsNotFound(other.status()))
      return FailedPreconditionError("spec.source.release: ImageRelease " + name +
                                     " does not exist in namespace " + ctx.release.metadata.ns);
    return other.status();
  }
  const auto text = [&](std::initializer_list<std::string_view> path) -> std::string {
    const kube::Json* v = kube::Find(*other, path);
    return v && v->is_string() ? v->get<std::string>() : "";
  };
  const std::string phase = text({"status", "phase"});
  if (phase != "Released")
    return FailedPreconditionError(
        "spec.source.release: ImageRelease " + name + " is " +
        (phase.empty() ? std::string("not reconciled yet") : phase) +
        ", not Released: a release builds only on a validated, published one (this one goes on "
        "once it is Released)");
  out.env = {{"VMRELEASE_SOURCE_KIND", "release"},
             {"VMRELEASE_SOURCE_RELEASE", name},
             {"VMRELEASE_SOURCE_RELEASE_VERSION", text({"spec", "version"})}};
  if (std::string id = text({"status", "artifact", "galleryImageVersionId"}); !id.empty()) {
    out.env["VMRELEASE_SOURCE_GALLERY_IMAGE_VERSION_ID"] = id;
    out.gallery_image_version_id = id;
  }
  if (std::string url = text({"status", "artifact", "vhdUri"}); !url.empty())
    out.env["VMRELEASE_SOURCE_VHD_URL"] = url;
  out.version = text({"spec", "version"});
  return out;
}

std::string LastLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const size_t nl = text.rfind('\n');
  std::string line(nl == std::string_view::npos ? text : text.substr(nl + 1));
  if (line.size() > 300) line = line.substr(line.size() - 300);
  return log::Redact(line);
}

std::string LastLineOf(const std::optional<std::string>& output_tail) {
  const std::string last = output_tail ? LastLine(*output_tail) : "";
  return last.empty() ? "" : ": " + last;
}

std::string TailForStatus(std::string_view text, size_t max_bytes) {
  // Redact first: a secret cut in half by the tail would no longer be recognised.
  std::string redacted = log::Redact(text);
  if (redacted.size() <= max_bytes) return redacted;
  std::string tail = redacted.substr(redacted.size() - max_bytes);
  const size_t nl = tail.find('\n');
  if (nl != std::string::npos && nl + 1 < tail.size()) tail.erase(0, nl + 1);
  // Never cut a UTF-8 sequence in half (the API server rejects invalid UTF-8).
  size_t start = 0;
  while (start < tail.size() && (static_cast<unsigned char>(tail[start]) & 0xC0) == 0x80) ++start;
  return tail.substr(start);
}

StepResult RunChecksInOrder(ReleaseContext& ctx, bool pause_between,
                            const std::function<StepResult(size_t, const api::Check&)>& run) {
  api::ValidationStatus& v = *ctx.status.validation;
  const std::vector<api::Check>& checks = ctx.release.spec.validation.checks;
  for (size_t i = 0; i < checks.size(); ++i) {
    const api::Check& check = checks[i];
    auto have = std::find_if(v.results.begin(), v.results.end(),
                             [&](const api::CheckResult& r) { return r.name == check.name; });
    if (have != v.results.end()) {
      if (!have->passed) return StepResult::Done();
      continue;
    }
    StepResult r = run(i, check);
    if (!r.done()) return r;
    const api::CheckResult& last = v.results.back();
    ctx.Event(last.passed ? "CheckPassed" : "CheckFailed", "Validate", CheckEventNote(last),
              last.passed ? kube::EventType::kNormal : kube::EventType::kWarning);
    if (!last.passed || i + 1 == checks.size()) return StepResult::Done();
    if (pause_between) return StepResult::Wait(Duration::zero(), "check " + last.name + " passed");
  }
  return StepResult::Done();
}

std::string CheckEventNote(const api::CheckResult& r) {
  std::string out = r.output_tail.value_or("");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  const size_t nl = out.rfind('\n');
  std::string last = nl == std::string::npos ? out : out.substr(nl + 1);
  if (last.size() > 120) last = last.substr(0, 117) + "...";
  std::string note = "check " + r.name;
  if (r.passed) {
    note += " passed";
    if (r.exit_code) note += " (exit " + std::to_string(*r.exit_code) + ")";
  } else {
    note += " failed: " + r.message.value_or("");
  }
  if (!last.empty()) note += ": " + last;
  return note;
}

api::CheckResult EvaluateCheck(const api::Check& check, int64_t exit_code,
                               const std::string& output, double duration_seconds) {
  api::CheckResult r;
  r.name = check.name;
  r.exit_code = exit_code;
  r.output_tail = TailForStatus(output);
  r.duration_seconds = duration_seconds;
  const int64_t want = check.ExpectedExitCode();
  if (exit_code != want) {
    r.passed = false;
    r.message = "exit code " + std::to_string(exit_code) + ", expected " + std::to_string(want);
    return r;
  }
  if (check.expect && check.expect->output_matches) {
    // libstdc++'s regex engine recurses per character: match the last 16 KiB only.
    constexpr size_t kMaxSubject = 16 * 1024;
    const std::string subject =
        output.size() > kMaxSubject ? output.substr(output.size() - kMaxSubject) : output;
    bool matched = false;
    try {
      const std::regex re(*check.expect->output_matches,
                          std::regex::ECMAScript | std::regex::multiline);
      matched = std::regex_search(subject, re);
    } catch (const std::regex_error&) {
      matched = false;  // Validate() refuses such a spec; be safe anyway
    }
    if (!matched) {
      r.passed = false;
      r.message = "output does not match " + *check.expect->output_matches;
      return r;
    }
  }
  r.passed = true;
  return r;
}

}  // namespace vmrelease::release

namespace vmrelease::release {

StepResult FollowOperation(ReleaseContext& ctx, azure::OperationPoller& poller,
                           api::OperationStep step, const std::string& action,
                           const std::function<StatusOr<azure::Operation>()>& start,
                           const std::string& failed_reason, nlohmann::json* result) {
  auto finish = [&](const azure::Operation& op) -> StepResult {
    if (op.state == azure::OperationState::kInProgress) {
      const Duration after =
          op.retry_after > Duration::zero() ? op.retry_after : ctx.env.poll_interval;
      return StepResult::Wait(std::min<Duration>(after, std::chrono::minutes(1)),
                              action + " in progress");
    }
    ctx.status.operation.reset();
    if (op.state == azure::OperationState::kFailed)
      return StepResult::FromAzure(op.error.WithContext(action), failed_reason);
    if (result) *result = op.result;
    return StepResult::Done();
  };
  if (const api::PendingOperation* pending = ctx.Operation(step, action); pending && pending->ref) {
    StatusOr<azure::OperationRef> ref = azure::OperationRef::Parse(*pending->ref);
    if (ref.ok()) {
      StatusOr<azure::Operation> polled = poller.Poll(*ref);
      if (!polled.ok())
        return StepResult::FromAzure(polled.status().WithContext(action), failed_reason);
      return finish(*polled);
    }
    log::Warn("release", "unreadable operation reference in status; starting it again",
              {{"release", ctx.names.key}, {"action", action}});
  }
  StatusOr<azure::Operation> started = start();
  if (!started.ok())
    return StepResult::FromAzure(started.status().WithContext(action), failed_reason);
  if (!started->done()) ctx.RecordOperation(step, action, started->ref.Serialize());
  return finish(*started);
}

}  // namespace vmrelease::release
