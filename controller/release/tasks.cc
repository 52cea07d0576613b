#include "controller/release/tasks.h"

namespace vmrelease::release {

TaskRunner::TaskRunner(int threads, std::function<void(const std::string&)> on_done)
    : on_done_(std::move(on_done)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

TaskRunner::~TaskRunner() { Shutdown(); }

void TaskRunner::Shutdown() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
    on_done_ = nullptr;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void TaskRunner::SetOnDone(std::function<void(const std::string&)> on_done) {
  std::lock_guard g(mu_);
  on_done_ = std::move(on_done);
}

TaskRunner::State TaskRunner::Ensure(const std::string& key, Task task) {
  std::lock_guard g(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (it->second.done) {
      State s{.done = true, .result = std::move(it->second.result)};
      entries_.erase(it);
      return s;
    }
    it->second.abandoned = false;
    return {};
  }
  entries_[key].task = std::move(task);
  queue_.push_back(key);
  cv_.notify_one();
  return {};
}

bool TaskRunner::Busy(const std::string& key) const {
  std::lock_guard g(mu_);
  auto it = entries_.find(key);
  return it != entries_.end() && !it->second.done;
}

void TaskRunner::Forget(const std::string& key) {
  std::lock_guard g(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.done) {
    entries_.erase(it);
  } else {
    it->second.abandoned = true;  // dropped when it finishes
  }
}

void TaskRunner::Loop() {
  while (true) {
    std::string key;
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      key = std::move(queue_.front());
      queue_.pop_front();
      Entry& e = entries_[key];
      e.running = true;
      task = std::move(e.task);
    }
    TaskResult result;
    try {
      result = task();
    } catch (const std::exception& e) {
      result.status = InternalError(std::string("task failed: ") + e.what());
    }
    std::function<void(const std::string&)> notify;
    {
      std::lock_guard g(mu_);
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        if (it->second.abandoned) {
          entries_.erase(it);
        } else {
          it->second.running = false;
          it->second.done = true;
          it->second.result = std::move(result);
          notify = on_done_;
        }
      }
    }
    if (notify) notify(key);
  }
}

}  // namespace vmrelease::release
