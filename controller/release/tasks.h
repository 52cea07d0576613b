// TaskRunner: blocking work (uploading or downloading a VHD, hashing it) on a
// small pool of its own threads, so reconcile workers never wait for it.
//
//   auto state = tasks.Ensure(key, [=] { return Upload(...); });   // starts once per key
//   if (!state.done) return Wait(5s);       // the task's completion requeues the object
//   Status result = state.result;           // consumed: the next Ensure starts afresh
//
// Guarantees: at most one task per key runs at a time; a finished task's result
// is kept until Take() (or Ensure after it was seen) and handed out once; when
// a task finishes, `on_done(key)` is called (the reconciler enqueues the object,
// so nothing waits for a poll interval). Tasks are in memory only: after a
// controller restart the step starts its task again (the work they do resumes:
// the VHD upload continues from its checkpoint, a download is verified by hash).
// Thread-safe. The destructor waits for running tasks (tasks should watch
// `cancelled()` and return early).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::release {

struct TaskResult {
  Status status;
  std::string value;  // a small result (e.g. a sha256), task-defined
};

class TaskRunner {
 public:
  using Task = std::function<TaskResult()>;
  explicit TaskRunner(int threads = 2, std::function<void(const std::string&)> on_done = {});
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  void SetOnDone(std::function<void(const std::string&)> on_done);
  // Stops taking tasks and joins the threads (running tasks see cancelled() and
  // should return soon). Idempotent; the destructor calls it.
  void Shutdown();

  struct State {
    bool done = false;
    TaskResult result;  // when done
  };
  // Starts `task` under `key` unless one is queued, running or finished-and-unread;
  // returns its state. A finished result is handed out (and forgotten) here.
  State Ensure(const std::string& key, Task task);
  // Whether a task is queued or running under `key`.
  bool Busy(const std::string& key) const;
  // Forgets a finished result and marks a queued/running one as abandoned.
  void Forget(const std::string& key);
  // Set while the runner shuts down: long tasks should check it.
  const std::atomic<bool>& cancelled() const { return stopping_; }

 private:
  void Loop();
  struct Entry {
    Task task;
    bool running = false;
    bool done = false;
    bool abandoned = false;
    TaskResult result;
  };
  std::function<void(const std::string&)> on_done_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> queue_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace vmrelease::release
