#include "controller/kube/leader_election.h"

#include "controller/common/backoff.h"
#include "controller/common/log.h"
#include "controller/kube/errors.h"

namespace vmrelease::kube {
namespace {

constexpr char kLogger[] = "kube.leaderelection";
// Candidates wait retry_period plus up to this fraction of it between attempts.
constexpr double kJitter = 0.2;

LeaderElectionRecord FromLease(const Json& lease) {
  LeaderElectionRecord r;
  const Json* spec = Find(lease, {"spec"});
  if (spec == nullptr || !spec->is_object()) return r;
  auto str = [&](const char* k) {
    auto it = spec->find(k);
    return it != spec->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k) {
    auto it = spec->find(k);
    return it != spec->end() && it->is_number_integer() ? it->get<int>() : 0;
  };
  r.holder_identity = str("holderIdentity");
  r.lease_duration_seconds = num("leaseDurationSeconds");
  r.acquire_time = str("acquireTime");
  r.renew_time = str("renewTime");
  r.leader_transitions = num("leaseTransitions");
  return r;
}

Json ToSpec(const LeaderElectionRecord& r) {
  Json spec = {{"holderIdentity", r.holder_identity},
               {"leaseDurationSeconds", r.lease_duration_seconds},
               {"leaseTransitions", r.leader_transitions}};
  if (!r.acquire_time.empty()) spec["acquireTime"] = r.acquire_time;
  if (!r.renew_time.empty()) spec["renewTime"] = r.renew_time;
  return spec;
}

}  // namespace

// --- KubeLeaseLock ------------------------------------------------------------------

StatusOr<LeaderElectionRecord> KubeLeaseLock::Get() {
  ASSIGN_OR_RETURN(Json lease, client_.Get(LeaseResource(), {ns_, name_}));
  LeaderElectionRecord r = FromLease(lease);
  std::lock_guard g(mu_);
  lease_ = std::move(lease);
  return r;
}

Status KubeLeaseLock::Create(const LeaderElectionRecord& record) {
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", name_}, {"namespace", ns_}}},
                {"spec", ToSpec(record)}};
  ASSIGN_OR_RETURN(Json created, client_.Create(LeaseResource(), lease));
  std::lock_guard g(mu_);
  lease_ = std::move(created);
  return Status::Ok();
}

Status KubeLeaseLock::Update(const LeaderElectionRecord& record) {
  Json lease;
  {
    std::lock_guard g(mu_);
    if (!lease_) return FailedPreconditionError("lease " + Describe() + " not read yet");
    lease = *lease_;
  }
  lease["spec"] = ToSpec(record);  // metadata.resourceVersion stays: the write is conditional
  ASSIGN_OR_RETURN(Json updated, client_.Update(LeaseResource(), lease));
  std::lock_guard g(mu_);
  lease_ = std::move(updated);
  return Status::Ok();
}

// --- LeaderElector ----------------------------------------------------------------

Status ValidateLeaderElectionTimings(Duration lease_duration, Duration renew_deadline,
                                     Duration retry_period) {
  if (lease_duration < std::chrono::seconds(1))
    return InvalidArgumentError("leader election: lease duration must be at least 1s");
  if (retry_period <= Duration::zero())
    return InvalidArgumentError("leader election: retry period must be positive");
  if (lease_duration <= renew_deadline)
    return InvalidArgumentError(
        "leader election: lease duration must be greater than the "
        "renew deadline");
  if (std::chrono::duration<double>(renew_deadline).count() <=
      1.2 * std::chrono::duration<double>(retry_period).count())
    return InvalidArgumentError(
        "leader election: renew deadline must be greater than 1.2 × the "
        "retry period");
  return Status::Ok();
}

StatusOr<std::unique_ptr<LeaderElector>> LeaderElector::Create(LeaderElectionConfig config) {
  if (config.lock == nullptr) return InvalidArgumentError("leader election: no lock");
  if (config.identity.empty()) return InvalidArgumentError("leader election: empty identity");
  RETURN_IF_ERROR(ValidateLeaderElectionTimings(config.lease_duration, config.renew_deadline,
                                                config.retry_period));
  return std::unique_ptr<LeaderElector>(new LeaderElector(std::move(config)));
}

LeaderElector::LeaderElector(LeaderElectionConfig config)
    : config_(std::move(config)),
      clock_(config_.clock != nullptr ? *config_.clock : RealClock::Get()),
      metrics_(config_.metrics != nullptr ? config_.metrics->NewLeaderElectionMetrics(config_.name)
                                          : nullptr) {
  if (metrics_) metrics_->SetLeader(false);
}

LeaderElector::~LeaderElector() = default;

void LeaderElector::Stop() {
  std::lock_guard g(mu_);
  stopping_ = true;
  cv_.notify_all();
}

bool LeaderElector::stopping() const {
  std::lock_guard g(mu_);
  return stopping_;
}

bool LeaderElector::IsLeader() const {
  std::lock_guard g(mu_);
  return leading_;
}

std::string LeaderElector::GetLeader() const {
  std::lock_guard g(mu_);
  return observed_.holder_identity;
}

bool LeaderElector::lost() const {
  std::lock_guard g(mu_);
  return lost_;
}

bool LeaderElector::Sleep(Duration d) {
  std::unique_lock lock(mu_);
  const TimePoint deadline = clock_.Now() + d;
  while (!stopping_ && clock_.Now() < deadline) clock_.WaitUntil(lock, cv_, deadline);
  return !stopping_;
}

void LeaderElector::SetObserved(const LeaderElectionRecord& r) {
  std::string new_leader;
  {
    std::lock_guard g(mu_);
    const bool holder_changed = !have_observed_ || observed_.holder_identity != r.holder_identity;
    observed_ = r;
    observed_time_ = clock_.Now();
    have_observed_ = true;
    if (!holder_changed) return;
    new_leader = r.holder_identity;
  }
  log::Info(kLogger, "observed lease holder",
            {{"lease", config_.lock->Describe()},
             {"holder", new_leader},
             {"self", new_leader == config_.identity}});
  if (config_.on_new_leader) config_.on_new_leader(new_leader);
}

bool LeaderElector::TryAcquireOrRenew() {
  const std::string now = FormatRfc3339(clock_.WallNow(), /*micros=*/true);
  LeaderElectionRecord desired;
  desired.holder_identity = config_.identity;
  desired.lease_duration_seconds = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());
  desired.renew_time = now;
  desired.acquire_time = now;

  LeaderElectionRecord observed;
  bool observed_valid, self_holder;
  {
    std::lock_guard g(mu_);
    observed = observed_;
    self_holder = have_observed_ && observed_.holder_identity == config_.identity;
    observed_valid =
        have_observed_ &&
        clock_.Now() < observed_time_ + std::chrono::seconds(observed_.lease_duration_seconds);
  }
  // Fast path: the leader renews optimistically with the version it last wrote.
  if (self_holder && observed_valid) {
    desired.acquire_time = observed.acquire_time;
    desired.leader_transitions = observed.leader_transitions;
    Status s = config_.lock->Update(desired);
    if (s.ok()) {
      SetObserved(desired);
      return true;
    }
    // Only a conflict means the record moved and is worth re-reading now; after
    // a timeout or an unreachable server a Get and a second Update would only
    // stretch this attempt past the renew deadline.
    if (!IsConflict(s)) {
      log::Info(kLogger, "renewing the lease failed", {{"error", s.message()}});
      return false;
    }
    log::Debug(kLogger, "optimistic renew conflicted; re-reading the lease",
               {{"error", s.message()}});
  }

  StatusOr<LeaderElectionRecord> current = config_.lock->Get();
  if (!current.ok()) {
    if (!IsNotFound(current.status())) {
      log::Warn(kLogger, "reading the lease failed",
                {{"lease", config_.lock->Describe()}, {"error", current.status().message()}});
      return false;
    }
    Status s = config_.lock->Create(desired);
    if (!s.ok()) {
      log::Info(kLogger, "creating the lease failed", {{"error", s.message()}});
      return false;
    }
    SetObserved(desired);
    return true;
  }
  {
    bool changed;
    {
      std::lock_guard g(mu_);
      changed = !have_observed_ || !(observed_ == *current);
    }
    // The expiry clock restarts only when the record changes (client-go semantics).
    if (changed) SetObserved(*current);
  }
  bool held_by_other_and_valid, we_hold;
  {
    std::lock_guard g(mu_);
    we_hold = observed_.holder_identity == config_.identity;
    const bool valid =
        clock_.Now() < observed_time_ + std::chrono::seconds(observed_.lease_duration_seconds);
    held_by_other_and_valid = !observed_.holder_identity.empty() && valid && !we_hold;
  }
  if (held_by_other_and_valid) return false;

  if (we_hold) {
    desired.acquire_time = current->acquire_time;
    desired.leader_transitions = current->leader_transitions;
  } else {
    desired.leader_transitions = current->leader_transitions + 1;
  }
  Status s = config_.lock->Update(desired);
  if (!s.ok()) {
    log::Info(kLogger, "updating the lease failed", {{"error", s.message()}});
    return false;
  }
  SetObserved(desired);
  return true;
}

bool LeaderElector::Acquire() {
  log::Info(kLogger, "attempting to acquire leader lease",
            {{"lease", config_.lock->Describe()}, {"identity", config_.identity}});
  while (!stopping()) {
    if (TryAcquireOrRenew()) {
      log::Info(kLogger, "successfully acquired lease",
                {{"lease", config_.lock->Describe()}, {"identity", config_.identity}});
      return true;
    }
    const Duration jitter =
        std::chrono::duration_cast<Duration>(config_.retry_period * (kJitter * RandomUnit()));
    if (!Sleep(config_.retry_period + jitter)) return false;
  }
  return false;
}

void LeaderElector::Renew() {
  while (!stopping()) {
    const TimePoint deadline = clock_.Now() + config_.renew_deadline;
    bool renewed = false;
    while (true) {
      if (TryAcquireOrRenew()) {
        renewed = true;
        break;
      }
      // Checked before sleeping: an attempt that itself ran long must not be
      // followed by another retry period of believing we still lead while
      // other candidates may already see the lease as expired.
      if (clock_.Now() >= deadline) break;
      if (!Sleep(config_.retry_period)) return;
      if (clock_.Now() >= deadline) break;
    }
    if (!renewed) {
      std::lock_guard g(mu_);
      lost_ = true;
      return;
    }
    if (!Sleep(config_.retry_period)) return;
  }
}

void LeaderElector::Release() {
  LeaderElectionRecord observed;
  {
    std::lock_guard g(mu_);
    if (observed_.holder_identity != config_.identity) return;
    observed = observed_;
  }
  const std::string now = FormatRfc3339(clock_.WallNow(), /*micros=*/true);
  LeaderElectionRecord released;
  released.leader_transitions = observed.leader_transitions;
  released.lease_duration_seconds = 1;
  released.renew_time = now;
  released.acquire_time = now;
  Status s = config_.lock->Update(released);
  if (!s.ok()) {
    log::Warn(kLogger, "releasing the lease failed; it will expire instead",
              {{"lease", config_.lock->Describe()}, {"error", s.message()}});
    return;
  }
  SetObserved(released);
  log::Info(kLogger, "released leader lease", {{"lease", config_.lock->Describe()}});
}

void LeaderElector::Run() {
  if (!Acquire()) return;
  {
    std::lock_guard g(mu_);
    leading_ = true;
  }
  if (metrics_) metrics_->SetLeader(true);
  if (config_.on_started_leading) config_.on_started_leading();
  Renew();
  {
    std::lock_guard g(mu_);
    leading_ = false;
  }
  if (metrics_) metrics_->SetLeader(false);
  if (lost()) {
    log::Error(kLogger, "leader lease lost: could not renew within the renew deadline",
               {{"lease", config_.lock->Describe()}, {"identity", config_.identity}});
    if (config_.on_stopped_leading) config_.on_stopped_leading();
    return;
  }
  // Clean stop: let the controllers finish first, then hand the lease over.
  if (config_.on_stopped_leading) config_.on_stopped_leading();
  if (config_.release_on_cancel) Release();
}

}  // namespace vmrelease::kube
