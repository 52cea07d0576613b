#include "controller/kube/workqueue.h"

#include <algorithm>

namespace vmrelease::kube {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

WorkQueue::WorkQueue(Options options)
    : clock_(options.clock != nullptr ? *options.clock : RealClock::Get()),
      limiter_(options.rate_limiter ? std::move(options.rate_limiter)
                                    : DefaultControllerRateLimiter(clock_)),
      metrics_(options.metrics != nullptr ? options.metrics->NewWorkQueueMetrics(options.name)
                                          : nullptr),
      metrics_period_(options.metrics_update_period) {
  delay_thread_ = std::thread([this] { DelayLoop(); });
}

WorkQueue::~WorkQueue() {
  ShutDown();
  if (delay_thread_.joinable()) delay_thread_.join();
}

void WorkQueue::AddLocked(const std::string& item, TimePoint now, bool low) {
  if (shutting_down_) return;
  if (!dirty_.insert(item).second) {
    // Already queued and not yet handed out; a normal add moves a low one up.
    if (!low && low_.erase(item) > 0 && processing_.count(item) == 0) {
      low_queue_.erase(std::find(low_queue_.begin(), low_queue_.end(), item));
      queue_.push_back(item);
    }
    return;
  }
  if (low) low_.insert(item);
  if (metrics_) {
    metrics_->IncAdds();
    metrics_->SetDepth(static_cast<int64_t>(dirty_.size()));
  }
  added_at_.try_emplace(item, now);
  // An item being processed is queued again by Done(), never handed out twice.
  if (processing_.count(item) != 0) return;
  (low ? low_queue_ : queue_).push_back(item);
  cv_.notify_one();
}

void WorkQueue::Add(const std::string& item) {
  std::lock_guard g(mu_);
  AddLocked(item, clock_.Now());
}

void WorkQueue::AddLowPriority(const std::string& item) {
  std::lock_guard g(mu_);
  AddLocked(item, clock_.Now(), /*low=*/true);
}

void WorkQueue::AddAfter(const std::string& item, Duration delay) {
  std::lock_guard g(mu_);
  if (shutting_down_) return;
  const TimePoint now = clock_.Now();
  if (delay <= Duration::zero()) {
    AddLocked(item, now);
    return;
  }
  const TimePoint ready = now + delay;
  auto it = waiting_index_.find(item);
  if (it != waiting_index_.end()) {
    if (it->second->first <= ready) return;  // already due earlier
    waiting_.erase(it->second);
    waiting_index_.erase(it);
  }
  waiting_index_[item] = waiting_.emplace(ready, item);
  delay_cv_.notify_one();
}

void WorkQueue::AddRateLimited(const std::string& item, Duration at_least) {
  const Duration d = std::max(limiter_->When(item), at_least);
  if (metrics_) metrics_->IncRetries();
  AddAfter(item, d);
}

void WorkQueue::Forget(const std::string& item) { limiter_->Forget(item); }

int WorkQueue::NumRequeues(const std::string& item) { return limiter_->NumRequeues(item); }

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty() || !low_queue_.empty() || shutting_down_; });
  std::deque<std::string>& from = !queue_.empty() ? queue_ : low_queue_;
  if (from.empty()) return std::nullopt;
  std::string item = std::move(from.front());
  from.pop_front();
  const TimePoint now = clock_.Now();
  processing_[item] = now;
  dirty_.erase(item);
  low_.erase(item);
  auto added = added_at_.find(item);
  if (metrics_) {
    metrics_->SetDepth(static_cast<int64_t>(dirty_.size()));
    if (added != added_at_.end()) metrics_->ObserveQueueLatency(Seconds(now - added->second));
  }
  if (added != added_at_.end()) added_at_.erase(added);
  return item;
}

void WorkQueue::Done(const std::string& item) {
  std::lock_guard g(mu_);
  auto it = processing_.find(item);
  if (it == processing_.end()) return;
  if (metrics_) metrics_->ObserveWorkDuration(Seconds(clock_.Now() - it->second));
  processing_.erase(it);
  if (dirty_.count(item) != 0) {
    (low_.count(item) != 0 ? low_queue_ : queue_).push_back(item);
    cv_.notify_one();
  }
  if (processing_.empty()) cv_.notify_all();  // drain waiters
}

void WorkQueue::ShutDown() {
  std::lock_guard g(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_index_.clear();
  cv_.notify_all();
  delay_cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  ShutDown();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return processing_.empty(); });
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard g(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  std::lock_guard g(mu_);
  return queue_.size() + low_queue_.size();
}

size_t WorkQueue::NumWaiting() const {
  std::lock_guard g(mu_);
  return waiting_.size();
}

size_t WorkQueue::NumProcessing() const {
  std::lock_guard g(mu_);
  return processing_.size();
}

void WorkQueue::UpdateUnfinishedLocked(TimePoint now) {
  double total = 0, longest = 0;
  for (const auto& [item, started] : processing_) {
    const double s = Seconds(now - started);
    total += s;
    longest = std::max(longest, s);
  }
  metrics_->SetUnfinishedWork(total);
  metrics_->SetLongestRunningProcessor(longest);
}

void WorkQueue::DelayLoop() {
  std::unique_lock lock(mu_);
  TimePoint next_metrics = clock_.Now();
  while (!shutting_down_) {
    const TimePoint now = clock_.Now();
    while (!waiting_.empty() && waiting_.begin()->first <= now) {
      std::string item = std::move(waiting_.begin()->second);
      waiting_index_.erase(item);
      waiting_.erase(waiting_.begin());
      AddLocked(item, now);
    }
    TimePoint deadline = TimePoint::max();
    if (!waiting_.empty()) deadline = waiting_.begin()->first;
    if (metrics_) {
      if (now >= next_metrics) {
        UpdateUnfinishedLocked(now);
        next_metrics = now + metrics_period_;
      }
      deadline = std::min(deadline, next_metrics);
    }
    if (deadline == TimePoint::max()) {
      // Nothing timed to wait for: sleep until an AddAfter or ShutDown.
      delay_cv_.wait(lock);
    } else {
      clock_.WaitUntil(lock, delay_cv_, deadline);
    }
  }
}

}  // namespace vmrelease::kube
