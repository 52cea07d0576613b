#include "controller/kube/events.h"

#include <cstdio>

#include "controller/common/log.h"
#include "controller/kube/errors.h"

namespace vmrelease::kube {
namespace {

constexpr char kLogger[] = "kube.events";
constexpr size_t kMaxNote = 1024;

const char* TypeName(EventType t) { return t == EventType::kWarning ? "Warning" : "Normal"; }

// Cuts at `max` bytes without splitting a UTF-8 sequence.
std::string Truncate(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

std::string AggregationKey(const Event& e) {
  const ObjectReference& r = e.regarding;
  return r.api_version + "|" + r.kind + "|" + r.ns + "|" + r.name + "|" + r.uid + "|" + e.reason +
         "|" + e.action + "|" + TypeName(e.type) + "|" + e.note;
}

}  // namespace

ObjectReference ObjectReference::To(const Json& obj) {
  ObjectReference r;
  if (obj.is_object()) {
    r.api_version = obj.value("apiVersion", "");
    r.kind = obj.value("kind", "");
  }
  r.ns = Namespace(obj);
  r.name = Name(obj);
  r.uid = Uid(obj);
  r.resource_version = ResourceVersion(obj);
  return r;
}

Json ObjectReference::ToJson() const {
  Json j = Json::object();
  auto put = [&](const char* k, const std::string& v) {
    if (!v.empty()) j[k] = v;
  };
  put("apiVersion", api_version);
  put("kind", kind);
  put("namespace", ns);
  put("name", name);
  put("uid", uid);
  put("resourceVersion", resource_version);
  put("fieldPath", field_path);
  return j;
}

EventRecorder::EventRecorder(KubeClient& client, EventRecorderOptions options)
    : client_(client),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Get()) {}

EventRecorder::~EventRecorder() { Stop(); }

void EventRecorder::Start() {
  std::lock_guard g(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void EventRecorder::Stop() {
  {
    std::lock_guard g(mu_);
    if (stopping_) return;
    stopping_ = true;
    stats_.dropped += static_cast<int64_t>(queue_.size());
    queue_.clear();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void EventRecorder::Publish(Event event) {
  event.note = Truncate(log::Redact(event.note), kMaxNote);
  std::lock_guard g(mu_);
  if (stopping_) return;
  if (queue_.size() >= options_.max_queue) {
    ++stats_.dropped;
    log::Warn(
        kLogger, "event queue full; dropping event",
        {{"reason", event.reason}, {"object", event.regarding.ns + "/" + event.regarding.name}});
    return;
  }
  queue_.push_back({std::move(event), clock_.WallNow()});
  cv_.notify_all();
}

bool EventRecorder::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !busy_; });
}

EventRecorder::Stats EventRecorder::stats() const {
  std::lock_guard g(mu_);
  return stats_;
}

void EventRecorder::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    Post(std::move(p));
    lock.lock();
    busy_ = false;
    cv_.notify_all();  // WaitIdle
  }
}

void EventRecorder::Evict(WallTime now) {
  if (cache_.size() <= options_.max_cache) return;
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (now - it->second.last_observed >= options_.series_window) {
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
  while (cache_.size() > options_.max_cache) {
    auto oldest = cache_.begin();
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->second.last_observed < oldest->second.last_observed) oldest = it;
    }
    cache_.erase(oldest);
  }
}

void EventRecorder::Post(Pending p) {
  const Event& e = p.event;
  const std::string key = AggregationKey(e);
  const std::string ns = e.regarding.ns.empty() ? "default" : e.regarding.ns;
  const std::string when = FormatRfc3339(p.observed, /*micros=*/true);

  auto cached = cache_.find(key);
  if (cached != cache_.end() &&
      p.observed - cached->second.last_observed < options_.series_window) {
    CacheEntry& entry = cached->second;
    const int64_t count = entry.count + 1;
    Json patch = {{"series", {{"count", count}, {"lastObservedTime", when}}}};
    auto r = client_.Patch(EventResource(), {entry.ns, entry.name}, PatchType::kMerge, patch);
    if (r.ok()) {
      entry.count = count;
      entry.last_observed = p.observed;
      std::lock_guard g(mu_);
      ++stats_.series_updates;
      return;
    }
    if (!IsNotFound(r.status())) {
      log::Warn(kLogger, "updating event series failed; dropping",
                {{"event", entry.name}, {"error", r.status().message()}});
      std::lock_guard g(mu_);
      ++stats_.dropped;
      return;
    }
    cache_.erase(cached);  // the Event expired: start a new one
  }

  const auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(p.observed.time_since_epoch()).count();
  char suffix[48];
  std::snprintf(suffix, sizeof(suffix), ".%llx%llx", static_cast<unsigned long long>(nanos),
                static_cast<unsigned long long>(name_counter_++ & 0xfff));
  const std::string base = e.regarding.name.empty() ? "event" : e.regarding.name;
  const std::string name = Truncate(base, 253 - sizeof(suffix)) + suffix;
  Json ev = {{"apiVersion", "events.k8s.io/v1"},
             {"kind", "Event"},
             {"metadata", {{"name", name}, {"namespace", ns}}},
             {"eventTime", when},
             {"reportingController", options_.reporting_controller},
             {"reportingInstance", options_.reporting_instance},
             {"action", e.action},
             {"reason", e.reason},
             {"type", TypeName(e.type)},
             {"note", e.note},
             {"regarding", e.regarding.ToJson()}};
  if (e.related) ev["related"] = e.related->ToJson();
  auto created = client_.Create(EventResource(), ev);
  if (!created.ok()) {
    log::Warn(kLogger, "creating event failed; dropping",
              {{"reason", e.reason}, {"error", created.status().message()}});
    std::lock_guard g(mu_);
    ++stats_.dropped;
    return;
  }
  cache_[key] = CacheEntry{name, ns, 1, p.observed};
  Evict(p.observed);
  std::lock_guard g(mu_);
  ++stats_.created;
}

}  // namespace vmrelease::kube
