// Leader election on a coordination.k8s.io/v1 Lease, as client-go's
// tools/leaderelection does it, so one replica reconciles at a time.
//
//   KubeLeaseLock lock(client, "vmrelease-system", "vmrelease-controller", identity);
//   auto elector = LeaderElector::Create({.lock = &lock, .identity = identity,
//       .on_started_leading = [&] { StartControllers(); },
//       .on_stopped_leading = [&] { StopControllers(); }});
//   std::thread t([&] { (*elector)->Run(); });   // returns on Stop() or on loss
//   ...
//   (*elector)->Stop();  // stops leading, releases the lease, Run() returns
//
// Algorithm (api-semantics.md §8):
//   - Candidates try every retry_period (jittered up to +20%): GET the lease,
//     CREATE it if missing; take it over when it is free (empty holder) or when
//     its record has not changed for leaseDurationSeconds as measured by *our*
//     clock since we last saw it change (so clock skew between hosts does not
//     matter); every write is a PUT carrying the read resourceVersion, so two
//     candidates cannot both win (the loser gets 409 Conflict).
//   - The leader renews every retry_period; if it has not renewed successfully
//     for renew_deadline it stops leading (on_stopped_leading) and Run() returns.
//   - Stop() while leading: on_stopped_leading runs first (so reconciles finish),
//     then, with release_on_cancel, the lease is released by clearing the holder
//     (leaseDurationSeconds 1), so another candidate takes over at once.
// Errors: Create() rejects inconsistent durations like client-go does
// (lease_duration > renew_deadline > 1.2 × retry_period > 0).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/kube/client.h"
#include "controller/kube/metrics.h"

namespace vmrelease::kube {

// The lease's spec in our terms.
struct LeaderElectionRecord {
  std::string holder_identity;  // empty: free
  int lease_duration_seconds = 0;
  std::string acquire_time;  // MicroTime strings, kept as sent
  std::string renew_time;
  int leader_transitions = 0;
  bool operator==(const LeaderElectionRecord& o) const = default;
};

// Storage of the record: a Lease object, or a fake in tests.
class LeaseLock {
 public:
  virtual ~LeaseLock() = default;
  // The current record; IsNotFound() when there is no lease yet.
  virtual StatusOr<LeaderElectionRecord> Get() = 0;
  // Creates the lease; IsAlreadyExists() when someone else was first.
  virtual Status Create(const LeaderElectionRecord& record) = 0;
  // Replaces the record, conditional on it not having changed since our last
  // Get/Create/Update (IsConflict() otherwise).
  virtual Status Update(const LeaderElectionRecord& record) = 0;
  virtual std::string Describe() const = 0;  // e.g. "ns/name"
};

class KubeLeaseLock final : public LeaseLock {
 public:
  KubeLeaseLock(KubeClient& client, std::string ns, std::string name)
      : client_(client), ns_(std::move(ns)), name_(std::move(name)) {}
  StatusOr<LeaderElectionRecord> Get() override;
  Status Create(const LeaderElectionRecord& record) override;
  Status Update(const LeaderElectionRecord& record) override;
  std::string Describe() const override { return ns_ + "/" + name_; }

 private:
  KubeClient& client_;
  std::string ns_, name_;
  std::mutex mu_;
  std::optional<Json> lease_;  // last seen, for its resourceVersion
};

struct LeaderElectionConfig {
  LeaseLock* lock = nullptr;
  std::string identity;  // unique per process, e.g. "<hostname>_<random>"
  Duration lease_duration = std::chrono::seconds(15);
  Duration renew_deadline = std::chrono::seconds(10);
  Duration retry_period = std::chrono::seconds(2);
  bool release_on_cancel = true;
  Clock* clock = nullptr;  // RealClock when null
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& leader)> on_new_leader;  // optional
  MetricsProvider* metrics = nullptr;
  std::string name = "vmrelease-controller";  // metrics label
};

// client-go's checks: lease duration ≥ 1s and > renew deadline > 1.2 × retry
// period > 0. Create() applies them; flag parsing calls this to refuse bad
// settings before anything starts.
Status ValidateLeaderElectionTimings(Duration lease_duration, Duration renew_deadline,
                                     Duration retry_period);

class LeaderElector {
 public:
  static StatusOr<std::unique_ptr<LeaderElector>> Create(LeaderElectionConfig config);
  ~LeaderElector();

  // Campaigns, leads, and returns when Stop() is called or leadership is lost
  // (after on_stopped_leading). Call once.
  void Run();
  // Interrupts Run() (from any thread or a signal-handling thread).
  void Stop();
  bool IsLeader() const;
  // The holder we last observed ("" when unknown or free).
  std::string GetLeader() const;
  // True when Run() returned because the lease was lost rather than Stop().
  bool lost() const;

 private:
  explicit LeaderElector(LeaderElectionConfig config);
  // One attempt; true when we hold the lease afterwards.
  bool TryAcquireOrRenew();
  bool Acquire();
  void Renew();
  void Release();
  // Waits `d` on the clock; false when stopped meanwhile.
  bool Sleep(Duration d);
  bool stopping() const;
  void SetObserved(const LeaderElectionRecord& r);

  LeaderElectionConfig config_;
  Clock& clock_;
  std::unique_ptr<LeaderElectionMetrics> metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool leading_ = false;
  bool lost_ = false;
  LeaderElectionRecord observed_;
  TimePoint observed_time_{};
  bool have_observed_ = false;
};

}  // namespace vmrelease::kube
