#include "controller/kube/watcher.h"

#include <algorithm>

#include "controller/common/log.h"
#include "controller/kube/errors.h"

namespace vmrelease::kube {
namespace {

constexpr char kLogger[] = "kube.watcher";

int64_t Millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

Watcher::Watcher(KubeClient& client, WatchSink& sink, WatcherOptions options)
    : client_(client),
      sink_(sink),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Get()),
      backoff_(options_.backoff) {}

Watcher::~Watcher() { Stop(); }

void Watcher::Start() {
  std::lock_guard g(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void Watcher::Stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
    if (stream_ != nullptr) stream_->Cancel();
    cv_.notify_all();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

Watcher::Stats Watcher::stats() const {
  std::lock_guard g(mu_);
  return stats_;
}

bool Watcher::stopping() const {
  std::lock_guard g(mu_);
  return stopping_;
}

bool Watcher::Sleep(Duration d) {
  std::unique_lock lock(mu_);
  const TimePoint deadline = clock_.Now() + d;
  while (!stopping_ && clock_.Now() < deadline) clock_.WaitUntil(lock, cv_, deadline);
  return !stopping_;
}

Status Watcher::List() {
  ListOptions lo{.ns = options_.ns,
                 .label_selector = options_.label_selector,
                 .field_selector = options_.field_selector,
                 .limit = options_.page_size};
  std::vector<ObjectPtr> objects;
  std::string list_rv;
  // A continue token can expire mid-list (410): start over a few times, then back off.
  int expired_restarts = 0;
  while (true) {
    if (stopping()) return CancelledError("watcher stopped");
    StatusOr<ObjectList> page = client_.List(options_.type, lo);
    if (!page.ok()) {
      if (IsGone(page.status()) && !lo.continue_token.empty() && expired_restarts++ < 3) {
        log::Info(kLogger, "list continue token expired; listing again from the start",
                  {{"resource", options_.type.Name()}});
        objects.clear();
        list_rv.clear();
        lo.continue_token.clear();
        continue;
      }
      return page.status();
    }
    if (lo.continue_token.empty()) list_rv = page->resource_version;
    objects.reserve(objects.size() + page->items.size());
    for (Json& item : page->items) objects.push_back(std::make_shared<const Json>(std::move(item)));
    if (page->continue_token.empty()) break;
    lo.continue_token = page->continue_token;
  }
  const size_t n = objects.size();
  sink_.Replace(std::move(objects));
  rv_ = list_rv;
  {
    std::lock_guard g(mu_);
    ++stats_.lists;
    stats_.resource_version = rv_;
  }
  log::Debug(kLogger, "listed",
             {{"resource", options_.type.Name()}, {"objects", n}, {"resourceVersion", list_rv}});
  return Status::Ok();
}

Watcher::WatchOutcome Watcher::WatchOnce() {
  WatchOutcome out;
  const TimePoint started = clock_.Now();
  const double spread = RandomUnit();
  const int64_t timeout_s = std::max<int64_t>(
      1, static_cast<int64_t>(std::chrono::duration<double>(options_.min_watch_timeout).count() *
                              (1.0 + spread)));
  WatchOptions wo{.ns = options_.ns,
                  .label_selector = options_.label_selector,
                  .field_selector = options_.field_selector,
                  .resource_version = rv_,
                  .allow_bookmarks = true,
                  .timeout_seconds = timeout_s};
  StatusOr<std::unique_ptr<WatchStream>> opened = client_.Watch(options_.type, wo);
  if (!opened.ok()) {
    out.status = opened.status();
    out.lasted = clock_.Now() - started;
    return out;
  }
  std::unique_ptr<WatchStream> stream = std::move(*opened);
  out.opened = true;
  {
    std::lock_guard g(mu_);
    ++stats_.watches;
    if (stopping_) {
      out.status = CancelledError("watcher stopped");
      return out;
    }
    stream_ = stream.get();
  }
  while (true) {
    StatusOr<std::optional<WatchEvent>> next = stream->Next();
    if (!next.ok()) {
      out.status = next.status();
      break;
    }
    if (!next->has_value()) break;  // clean end: resume from rv_
    WatchEvent& ev = **next;
    std::string rv = ResourceVersion(ev.object);
    switch (ev.type) {
      case WatchEventType::kAdded:
      case WatchEventType::kModified:
        sink_.Apply(std::make_shared<const Json>(std::move(ev.object)));
        break;
      case WatchEventType::kDeleted:
        sink_.Delete(std::make_shared<const Json>(std::move(ev.object)));
        break;
      case WatchEventType::kBookmark:
        break;
    }
    ++out.events;
    if (!rv.empty()) rv_ = std::move(rv);
    std::lock_guard g(mu_);
    ++stats_.events;
    stats_.resource_version = rv_;
  }
  {
    std::lock_guard g(mu_);
    stream_ = nullptr;
  }
  out.lasted = clock_.Now() - started;
  return out;
}

void Watcher::Run() {
  const std::string resource = options_.type.Name();
  bool need_list = true;
  // Waits before the next attempt after a failure; false when stopped.
  auto fail = [&](const Status& s, const char* what) {
    Duration wait = backoff_.Next();
    if (s.detail().retry_after) wait = std::max<Duration>(wait, *s.detail().retry_after);
    {
      std::lock_guard g(mu_);
      ++stats_.errors;
    }
    std::string hint;
    if (IsNotFound(s)) hint = "is the CustomResourceDefinition installed?";
    log::Warn(kLogger, what,
              {{"resource", resource},
               {"error", s.message()},
               {"retry_in_ms", Millis(wait)},
               {"hint", hint}});
    return Sleep(wait);
  };

  while (!stopping()) {
    if (need_list) {
      Status s = List();
      if (stopping()) break;
      if (!s.ok()) {
        if (!fail(s, "list failed")) break;
        continue;
      }
      need_list = false;
      progress_since_list_ = false;
    }
    WatchOutcome w = WatchOnce();
    if (stopping()) break;
    if (w.events > 0) backoff_.Reset();
    if (w.events > 0 || (w.opened && w.lasted >= options_.short_watch)) {
      progress_since_list_ = true;
    }
    if (IsGone(w.status)) {
      need_list = true;
      {
        std::lock_guard g(mu_);
        ++stats_.relists;
      }
      log::Info(kLogger, "resourceVersion too old; relisting",
                {{"resource", resource}, {"resourceVersion", rv_}, {"error", w.status.message()}});
      // Straight to the list when we were making progress; back off when the
      // server keeps answering 410 to a version it has just given us.
      if (!progress_since_list_ && !fail(w.status, "watch expired right after a list")) break;
      continue;
    }
    if (!w.status.ok()) {
      if (!fail(w.status, "watch failed; resuming from last resourceVersion")) break;
      continue;
    }
    if (w.events == 0 && w.lasted < options_.short_watch) {
      if (!fail(UnavailableError("very short watch: ended after " +
                                 std::to_string(Millis(w.lasted)) + "ms with no events"),
                "watch ended early"))
        break;
    }
  }
}

}  // namespace vmrelease::kube
