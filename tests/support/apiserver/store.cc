#include "tests/support/apiserver/store.h"

#include <algorithm>
#include <regex>

#include "controller/common/crypto.h"
#include "tests/support/apiserver/store_internal.h"

namespace vmrelease::apiserver {
using nlohmann::json;
using namespace internal;  // NOLINT(google-build-using-namespace): private helpers

// --- helpers -------------------------------------------------------------------

std::string ValidateDns1123Subdomain(const std::string& name) {
  static const std::regex re(
      R"(^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)");
  if (name.size() > 253) return "must be no more than 253 characters";
  if (!std::regex_match(name, re))
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
           "'-' or '.', and must start and end with an alphanumeric character (e.g. "
           "'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  return "";
}

std::string ValidateDns1123Label(const std::string& name) {
  static const std::regex re(R"(^[a-z0-9]([-a-z0-9]*[a-z0-9])?$)");
  if (name.size() > 63) return "must be no more than 63 characters";
  if (!std::regex_match(name, re))
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
           "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
           "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  return "";
}

std::string NewUid() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string h = HexEncode(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

// --- Watcher -------------------------------------------------------------------

std::optional<WatchEvent> Watcher::Next(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return closed_ || !queue_.empty(); });
  if (closed_ || queue_.empty()) return std::nullopt;
  WatchEvent ev = std::move(queue_.front());
  queue_.pop_front();
  if (initial_ > 0) --initial_;
  return ev;
}

bool Watcher::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

bool Watcher::overflowed() const {
  std::lock_guard lock(mu_);
  return overflowed_;
}

void Watcher::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  queue_.clear();
  cv_.notify_all();
}

bool Watcher::Push(WatchEvent ev) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  if (queue_.size() >= initial_ + options_.max_queue) {
    // A consumer this far behind cannot catch up; closing lets it re-list.
    overflowed_ = true;
    closed_ = true;
    queue_.clear();
    cv_.notify_all();
    return false;
  }
  queue_.push_back(std::move(ev));
  cv_.notify_one();
  return true;
}

// --- Store ---------------------------------------------------------------------

Store::Store(Clock& clock, Options options) : clock_(clock), options_(options) {
  for (auto& t : BuiltinTypes()) {
    auto p = std::make_shared<const ResourceType>(std::move(t));
    types_[p->group + "/" + p->version + "/" + p->plural] = p;
  }
  auto ns_type = LookupLocked("", "v1", "namespaces");
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    auto r = CreateLocked(*ns_type, "", {{"metadata", {{"name", ns}}}}, {});
    (void)r;
  }
}

Store::~Store() { DropWatches(); }

Store::Bucket& Store::BucketFor(const std::string& storage_key) {
  auto& b = buckets_[storage_key];
  if (!b) b = std::make_unique<Bucket>();
  return *b;
}

const Store::Bucket* Store::FindBucket(const std::string& storage_key) const {
  auto it = buckets_.find(storage_key);
  return it == buckets_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const ResourceType> Store::LookupLocked(const std::string& group,
                                                        const std::string& version,
                                                        const std::string& plural) const {
  auto it = types_.find(group + "/" + version + "/" + plural);
  return it == types_.end() ? nullptr : it->second;
}

std::shared_ptr<const ResourceType> Store::Lookup(const std::string& group,
                                                  const std::string& version,
                                                  const std::string& plural) const {
  std::lock_guard lock(mu_);
  return LookupLocked(group, version, plural);
}

std::vector<std::shared_ptr<const ResourceType>> Store::Types() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<const ResourceType>> out;
  for (const auto& [k, t] : types_) out.push_back(t);
  return out;
}

int64_t Store::CurrentRv() const {
  std::lock_guard lock(mu_);
  return rv_;
}

int64_t Store::TypesGeneration() const {
  std::lock_guard lock(mu_);
  return types_generation_;
}

int64_t Store::OldestRv() const {
  std::lock_guard lock(mu_);
  return oldest_rv_;
}

size_t Store::WatcherCount() const {
  std::lock_guard lock(mu_);
  return watchers_.size();
}

std::shared_ptr<const ResourceType> Store::StorageType(const std::string& storage_key) const {
  std::shared_ptr<const ResourceType> any;
  for (const auto& [k, t] : types_) {
    if (t->storage_key() != storage_key) continue;
    if (t->storage_version) return t;
    any = t;
  }
  return any;
}

// --- commit and watch fan-out ----------------------------------------------------

ObjectPtr Store::Commit(const ResourceType& rt, const std::string& key, json* obj,
                        const std::string& type) {
  const std::string skey = rt.storage_key();
  Bucket& bucket = BucketFor(skey);
  const int64_t rv = ++rv_;
  ObjectPtr prev;
  if (auto it = bucket.objects.find(key); it != bucket.objects.end()) prev = it->second;
  const bool remove = type == "DELETED";
  auto next = std::make_shared<StoredObject>();
  if (obj != nullptr) {
    next->obj = std::move(*obj);
  } else {
    next->obj = prev->obj;  // DELETED carries the last state at the deletion's version
  }
  next->obj["metadata"]["resourceVersion"] = std::to_string(rv);
  // Protobuf bodies may carry strings that are not UTF-8; stored as Go would serialise them.
  next->text = next->obj.dump(-1, ' ', false, json::error_handler_t::replace);
  next->rv = rv;
  const std::string uid = MetaStr(next->obj, "uid");
  if (!remove) {
    bucket.objects[key] = next;
    by_uid_[uid] = {skey, key};
    IndexOwners(skey, key, prev, next);
    if (!prev && rt.namespaced) ++ns_counts_[NsOfKey(key)];
  } else {
    bucket.objects.erase(key);
    by_uid_.erase(uid);
    IndexOwners(skey, key, prev, nullptr);
    if (rt.namespaced) --ns_counts_[NsOfKey(key)];
  }
  HistoryEvent ev{rv, type, skey, key, next, prev};
  Notify(ev);
  history_.push_back(std::move(ev));
  while (history_.size() > options_.history_size) {
    oldest_rv_ = history_.front().rv;
    history_.pop_front();
  }
  return next;
}

void Store::IndexOwners(const std::string& storage_key, const std::string& key,
                        const ObjectPtr& before, const ObjectPtr& after) {
  const auto ref = std::make_pair(storage_key, key);
  if (before) {
    for (const auto& u : OwnerUids(before->obj)) {
      auto it = dependents_.find(u);
      if (it == dependents_.end()) continue;
      it->second.erase(ref);
      if (it->second.empty()) dependents_.erase(it);
    }
  }
  if (after) {
    for (const auto& u : OwnerUids(after->obj)) dependents_[u].insert(ref);
  }
}

void Store::Notify(const HistoryEvent& ev) {
  auto range = watchers_.equal_range(ev.storage_key);
  const std::string ns = NsOfKey(ev.key);
  for (auto it = range.first; it != range.second; ++it) {
    Watcher& w = *it->second;
    if (!w.ns_.empty() && w.ns_ != ns) continue;
    const std::string type = FilteredType(ev.type, Matches(w.options_, ev.obj->obj),
                                          ev.prev && Matches(w.options_, ev.prev->obj));
    if (type.empty()) continue;
    w.Push(WatchEvent{type, ev.obj, ev.rv});
  }
}

ApiOr<std::shared_ptr<Watcher>> Store::Watch(const ResourceType& rt, const std::string& ns,
                                             WatchOptions opts) {
  std::lock_guard lock(mu_);
  auto w = std::make_shared<Watcher>();
  w->storage_key_ = rt.storage_key();
  w->ns_ = ns;
  const std::string rv_text = opts.resource_version;
  w->options_ = std::move(opts);
  const WatchOptions& o = w->options_;
  const Bucket* bucket = FindBucket(w->storage_key_);
  if (rv_text.empty() || rv_text == "0" || o.send_initial_events) {
    if (bucket != nullptr) {
      const std::string prefix = ns.empty() ? "" : ns + "/";
      for (auto it = bucket->objects.lower_bound(prefix); it != bucket->objects.end(); ++it) {
        if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
        if (!Matches(o, it->second->obj)) continue;
        w->queue_.push_back(WatchEvent{"ADDED", it->second, it->second->rv});
      }
    }
    if (o.send_initial_events && o.allow_bookmarks)
      w->queue_.push_back(WatchEvent{"BOOKMARK", nullptr, rv_, true});
  } else {
    int64_t from = 0;
    if (!ParseRv(rv_text, &from))
      return ApiError::BadRequest("invalid resource version: " + rv_text);
    if (from < oldest_rv_)
      return ApiError::Expired("too old resource version: " + std::to_string(from) + " (" +
                               std::to_string(oldest_rv_) + ")");
    auto first = std::upper_bound(history_.begin(), history_.end(), from,
                                  [](int64_t v, const HistoryEvent& e) { return v < e.rv; });
    for (auto it = first; it != history_.end(); ++it) {
      if (it->storage_key != w->storage_key_) continue;
      if (!ns.empty() && NsOfKey(it->key) != ns) continue;
      const std::string type =
          FilteredType(it->type, Matches(o, it->obj->obj), it->prev && Matches(o, it->prev->obj));
      if (!type.empty()) w->queue_.push_back(WatchEvent{type, it->obj, it->rv});
    }
  }
  w->initial_ = w->queue_.size();
  watchers_.emplace(w->storage_key_, w);
  return w;
}

void Store::Bookmark(Watcher& w) {
  std::lock_guard lock(mu_);
  w.Push(WatchEvent{"BOOKMARK", nullptr, rv_});
}

void Store::Unregister(const std::shared_ptr<Watcher>& w) {
  w->Close();
  std::lock_guard lock(mu_);
  auto range = watchers_.equal_range(w->storage_key_);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == w) {
      watchers_.erase(it);
      break;
    }
  }
}

void Store::DropWatches() {
  std::lock_guard lock(mu_);
  for (auto& [k, w] : watchers_) w->Close();
  watchers_.clear();
}

void Store::Compact() {
  std::lock_guard lock(mu_);
  history_.clear();
  oldest_rv_ = rv_;
}

// --- reads ---------------------------------------------------------------------

ApiOr<ObjectPtr> Store::Get(const ResourceType& rt, const std::string& ns,
                            const std::string& name) const {
  std::lock_guard lock(mu_);
  const Bucket* b = FindBucket(rt.storage_key());
  if (b != nullptr) {
    auto it = b->objects.find(Key(rt.namespaced ? ns : "", name));
    if (it != b->objects.end()) return it->second;
  }
  return ApiError::NotFound(rt.plural, rt.group, name);
}

ApiOr<std::map<std::string, ObjectPtr>> Store::SnapshotOverrides(const std::string& storage_key,
                                                                 int64_t rv) const {
  std::map<std::string, ObjectPtr> overrides;
  auto first = std::upper_bound(history_.begin(), history_.end(), rv,
                                [](int64_t v, const HistoryEvent& e) { return v < e.rv; });
  for (auto it = first; it != history_.end(); ++it) {
    if (it->storage_key != storage_key) continue;
    overrides.emplace(it->key, it->prev);  // keeps the earliest: the state at `rv`
  }
  return overrides;
}

ApiOr<ListResult> Store::List(const ResourceType& rt, const std::string& ns,
                              const ListOptions& opts) const {
  std::lock_guard lock(mu_);
  ListResult out;
  int64_t at = rv_;
  std::string start;
  std::map<std::string, ObjectPtr> overrides;
  if (!opts.continue_token.empty()) {
    if (!DecodeContinue(opts.continue_token, &at, &start))
      return ApiError::BadRequest(
          "continue key is not valid: incorrect encoded start resourceVersion (version "
          "meta.k8s.io/v1)");
    if (at < oldest_rv_) {
      ApiError e = ApiError::Expired(kContinueExpired);
      e.details = nullptr;
      return e;
    }
  } else if (opts.resource_version_match == "Exact") {
    if (!ParseRv(opts.resource_version, &at))
      return ApiError::BadRequest("resourceVersionMatch=Exact requires a resourceVersion");
    if (at < oldest_rv_)
      return ApiError::Expired("The resourceVersion for the provided list is too old.");
    if (at > rv_)
      return ApiError{504, "Timeout",
                      "Too large resource version: " + opts.resource_version +
                          ", current: " + std::to_string(rv_),
                      nullptr};
  }
  if (at != rv_) {
    auto o = SnapshotOverrides(rt.storage_key(), at);
    overrides = std::move(*o);
  }
  out.rv = at;
  const std::string prefix = rt.namespaced && !ns.empty() ? ns + "/" : "";
  if (start < prefix) start = prefix;
  static const std::map<std::string, ObjectPtr> kEmpty;
  const Bucket* b = FindBucket(rt.storage_key());
  const auto& objects = b != nullptr ? b->objects : kEmpty;
  auto it = objects.lower_bound(start);
  auto ot = overrides.lower_bound(start);
  auto in_prefix = [&](const std::string& k) {
    return prefix.empty() || k.compare(0, prefix.size(), prefix) == 0;
  };
  std::string last_key;
  bool full = false;
  while (true) {
    const bool have_it = it != objects.end() && in_prefix(it->first);
    const bool have_ot = ot != overrides.end() && in_prefix(ot->first);
    if (!have_it && !have_ot) break;
    std::string key;
    ObjectPtr obj;
    if (have_ot && (!have_it || ot->first <= it->first)) {
      key = ot->first;
      obj = ot->second;
      if (have_it && it->first == ot->first) ++it;
      ++ot;
    } else {
      key = it->first;
      obj = it->second;
      ++it;
    }
    if (!obj || !Matches(opts, obj->obj)) continue;
    if (full) {
      // One more match exists beyond the page.
      out.continue_token = EncodeContinue(at, last_key + std::string(1, '\0'));
      break;
    }
    out.items.push_back(obj);
    last_key = key;
    if (opts.limit > 0 && static_cast<int64_t>(out.items.size()) >= opts.limit) full = true;
  }
  return out;
}

}  // namespace vmrelease::apiserver
