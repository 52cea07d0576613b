#include "tests/support/apiserver/store.h"

#include <algorithm>
#include <regex>

#include "controller/common/crypto.h"
#include "tests/support/apiserver/schema.h"

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

const char kOptimisticLock[] =
    "the object has been modified; please apply your changes to the latest version and try again";
const char kContinueExpired[] =
    "The provided continue parameter is too old to display a consistent list result. You can start "
    "a new list without the continue parameter, or use the continue token in this response to "
    "retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first "
    "chunk was returned and now may show up in the list.";

std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::string NsOfKey(const std::string& key) { return key.substr(0, key.find('/')); }
std::string NameOfKey(const std::string& key) { return key.substr(key.find('/') + 1); }

const json& Meta(const json& obj) {
  static const json empty = json::object();
  auto it = obj.find("metadata");
  return it != obj.end() && it->is_object() ? *it : empty;
}

std::string MetaStr(const json& obj, const char* field) {
  const json& m = Meta(obj);
  auto it = m.find(field);
  return it != m.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Deleting(const json& obj) { return !MetaStr(obj, "deletionTimestamp").empty(); }

std::vector<std::string> Finalizers(const json& obj) {
  std::vector<std::string> out;
  const json& m = Meta(obj);
  if (auto it = m.find("finalizers"); it != m.end() && it->is_array())
    for (const auto& f : *it)
      if (f.is_string()) out.push_back(f.get<std::string>());
  return out;
}

std::vector<std::string> OwnerUids(const json& obj) {
  std::vector<std::string> out;
  const json& m = Meta(obj);
  if (auto it = m.find("ownerReferences"); it != m.end() && it->is_array())
    for (const auto& r : *it)
      if (r.is_object() && r.contains("uid") && r["uid"].is_string())
        out.push_back(r["uid"].get<std::string>());
  return out;
}

bool Matches(const WatchOptions& o, const json& obj) {
  return o.labels.Matches(Meta(obj).value("labels", json())) && o.fields.Matches(obj);
}
bool Matches(const ListOptions& o, const json& obj) {
  return o.labels.Matches(Meta(obj).value("labels", json())) && o.fields.Matches(obj);
}

// Everything that makes up "desired state" for generation purposes.
json GenerationView(const json& obj, bool status_subresource) {
  json v = obj;
  v.erase("metadata");
  if (status_subresource) v.erase("status");
  return v;
}

// What a watcher with selectors sees for a stored event: an object that stops
// matching is DELETED for it, one that starts matching is ADDED.
std::string FilteredType(const std::string& type, bool now, bool before) {
  if (type == "ADDED") return now ? "ADDED" : "";
  if (type == "DELETED") return before ? "DELETED" : "";
  if (now && before) return "MODIFIED";
  if (now) return "ADDED";
  if (before) return "DELETED";
  return "";
}

std::string EncodeContinue(int64_t rv, const std::string& start) {
  json t = {{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", start}};
  return Base64Encode(t.dump());
}

bool DecodeContinue(const std::string& token, int64_t* rv, std::string* start) {
  auto raw = Base64Decode(token);
  if (!raw.ok()) return false;
  try {
    json t = json::parse(*raw);
    *rv = t.at("rv").get<int64_t>();
    *start = t.at("start").get<std::string>();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

bool ParseRv(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *out = std::stoll(s);
  return true;
}

std::string GoStringSlice(const std::vector<std::string>& v) {
  std::string out = "[]string{";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", \"" : "\"") + v[i] + "\"";
  return out + "}";
}

// Server-side admission for built-in kinds: the few rules the operator's code
// paths would trip over on a real cluster.
std::vector<FieldError> ValidateBuiltin(const ResourceType& rt, json& obj) {
  std::vector<FieldError> errs;
  if (rt.group.empty() && rt.plural == "secrets") {
    if (obj.contains("stringData") && obj["stringData"].is_object()) {
      for (auto it = obj["stringData"].begin(); it != obj["stringData"].end(); ++it) {
        if (it->is_string()) obj["data"][it.key()] = Base64Encode(it->get<std::string>());
      }
      obj.erase("stringData");
    }
    if (!obj.contains("type")) obj["type"] = "Opaque";
    if (obj.contains("data") && obj["data"].is_object()) {
      for (auto it = obj["data"].begin(); it != obj["data"].end(); ++it) {
        if (!it->is_string() || !Base64Decode(it->get<std::string>()).ok())
          errs.push_back(InvalidField("data[" + it.key() + "]", "<value omitted>",
                                      "must be base64-encoded bytes"));
      }
    }
  } else if (rt.group.empty() && rt.plural == "configmaps") {
    static const std::regex kKey(R"(^[-._a-zA-Z0-9]+$)");
    for (const char* f : {"data", "binaryData"}) {
      if (!obj.contains(f)) continue;
      if (!obj[f].is_object()) {
        errs.push_back(InvalidField(f, schema::TypeName(obj[f]), "must be a map"));
        continue;
      }
      for (auto it = obj[f].begin(); it != obj[f].end(); ++it) {
        if (!std::regex_match(it.key(), kKey))
          errs.push_back(InvalidField(std::string(f) + "[" + it.key() + "]", it.key(),
                                      "a valid config key must consist of alphanumeric "
                                      "characters, '-', '_' or '.'"));
        if (!it->is_string())
          errs.push_back(
              InvalidField(std::string(f) + "[" + it.key() + "]", *it, "must be a string"));
      }
    }
  } else if (rt.group.empty() && rt.plural == "namespaces") {
    obj["status"] = {{"phase", Deleting(obj) ? "Terminating" : "Active"}};
    if (!obj.contains("spec")) obj["spec"] = {{"finalizers", {"kubernetes"}}};
  } else if (rt.group == "events.k8s.io") {
    for (const char* f :
         {"eventTime", "reportingController", "reportingInstance", "action", "reason"}) {
      if (!obj.contains(f) || obj[f].is_null() ||
          (obj[f].is_string() && obj[f].get<std::string>().empty()))
        errs.push_back(RequiredField(f));
    }
    for (const char* f : {"reportingController", "reportingInstance", "action", "reason"}) {
      if (obj.contains(f) && obj[f].is_string() && obj[f].get<std::string>().size() > 128)
        errs.push_back(TooLongField(f, 128));
    }
    const std::string type = obj.value("type", json("")).is_string() ? obj.value("type", "") : "";
    if (type != "Normal" && type != "Warning")
      errs.push_back(NotSupportedField("type", obj.value("type", json("")), {"Normal", "Warning"}));
    if (obj.contains("note") && obj["note"].is_string() &&
        obj["note"].get<std::string>().size() > 1024)
      errs.push_back(TooLongField("note", 1024));
  } else if (rt.group == "coordination.k8s.io" && rt.plural == "leases") {
    const json spec = obj.value("spec", json::object());
    if (spec.contains("leaseDurationSeconds") && !spec["leaseDurationSeconds"].is_number_integer())
      errs.push_back(InvalidField("spec.leaseDurationSeconds", spec["leaseDurationSeconds"],
                                  "must be an integer"));
  }
  return errs;
}

}  // namespace

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

struct Store::Bucket {
  std::map<std::string, ObjectPtr> objects;  // ns/name → object
};

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
  next->text = next->obj.dump();
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

// --- admission -------------------------------------------------------------------

ApiOr<json> Store::Admit(const ResourceType& rt, json& obj, const WriteOptions& opts,
                         std::vector<std::string>* warnings) {
  const std::string name = MetaStr(obj, "name");
  if (!rt.schema.is_null()) {
    schema::ObjectResult r = schema::ProcessObject(rt.schema, obj);
    if (!r.unknown_fields.empty()) {
      if (opts.field_validation == "Strict") {
        std::string msg = rt.kind + " in version \"" + rt.version + "\" cannot be handled as a " +
                          rt.kind + ": strict decoding error: ";
        for (size_t i = 0; i < r.unknown_fields.size(); ++i)
          msg += (i ? ", " : "") + std::string("unknown field \"") + r.unknown_fields[i] + "\"";
        return ApiError::BadRequest(msg);
      }
      if (opts.field_validation == "Warn") {
        for (const auto& f : r.unknown_fields) warnings->push_back("unknown field \"" + f + "\"");
      }
    }
    if (!r.errors.empty()) return ApiError::Invalid(rt.kind, rt.group, name, r.errors);
    return obj;
  }
  std::vector<FieldError> errs = ValidateBuiltin(rt, obj);
  if (rt.group == "apiextensions.k8s.io") {
    auto types = TypesFromCrd(obj);
    if (!types.ok()) return types.error();
    json& st = obj["status"];
    if (!st.is_object()) st = json::object();
    if (!st.contains("conditions")) {
      const std::string now = FormatRfc3339(clock_.WallNow());
      st["conditions"] = {{{"type", "NamesAccepted"},
                           {"status", "True"},
                           {"reason", "NoConflicts"},
                           {"message", "no conflicts found"},
                           {"lastTransitionTime", now}},
                          {{"type", "Established"},
                           {"status", "True"},
                           {"reason", "InitialNamesAccepted"},
                           {"message", "the initial names have been accepted"},
                           {"lastTransitionTime", now}}};
    }
    st["acceptedNames"] = obj["spec"]["names"];
    if (!st["acceptedNames"].contains("singular")) {
      for (const auto& t : *types) st["acceptedNames"]["singular"] = t.singular;
    }
    if (!st["acceptedNames"].contains("listKind"))
      st["acceptedNames"]["listKind"] = obj["spec"]["names"].value("kind", "") + "List";
    json stored = st.value("storedVersions", json::array());
    for (const auto& v : obj["spec"]["versions"]) {
      if (v.value("storage", false) &&
          std::find(stored.begin(), stored.end(), v["name"]) == stored.end())
        stored.push_back(v["name"]);
    }
    st["storedVersions"] = stored;
  }
  if (!errs.empty()) return ApiError::Invalid(rt.kind, rt.group, name, errs);
  return obj;
}

void Store::RegisterCrd(const json& crd, const std::vector<ResourceType>& types) {
  const std::string name = MetaStr(crd, "name");
  for (auto it = types_.begin(); it != types_.end();) {
    if (it->second->crd_name == name)
      it = types_.erase(it);
    else
      ++it;
  }
  for (const auto& t : types) {
    auto p = std::make_shared<const ResourceType>(t);
    types_[p->group + "/" + p->version + "/" + p->plural] = p;
  }
  ++types_generation_;
}

void Store::UnregisterCrd(const std::string& crd_name) {
  std::set<std::string> skeys;
  for (auto it = types_.begin(); it != types_.end();) {
    if (it->second->crd_name == crd_name) {
      skeys.insert(it->second->storage_key());
      it = types_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& sk : skeys) {
    auto range = watchers_.equal_range(sk);
    for (auto it = range.first; it != range.second; ++it) it->second->Close();
    watchers_.erase(sk);
  }
  ++types_generation_;
}

// --- writes ----------------------------------------------------------------------

ApiOr<WriteResult> Store::Create(const ResourceType& rt, const std::string& ns, json obj,
                                 const WriteOptions& opts) {
  std::lock_guard lock(mu_);
  return CreateLocked(rt, ns, std::move(obj), opts);
}

ApiOr<WriteResult> Store::CreateLocked(const ResourceType& rt, const std::string& ns_in, json obj,
                                       const WriteOptions& opts) {
  if (!obj.is_object())
    return ApiError::BadRequest("the body of the request must be a JSON object");
  if (obj.contains("apiVersion") && obj["apiVersion"] != rt.api_version())
    return ApiError::BadRequest("the API version in the data (" + obj["apiVersion"].dump() +
                                ") does not match the expected API version (" + rt.api_version() +
                                ")");
  if (obj.contains("kind") && obj["kind"] != rt.kind)
    return ApiError::BadRequest("the kind in the data (" + obj["kind"].dump() +
                                ") does not match the expected kind (" + rt.kind + ")");
  obj["apiVersion"] = rt.api_version();
  obj["kind"] = rt.kind;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  json& meta = obj["metadata"];
  std::string ns = rt.namespaced ? ns_in : "";
  if (rt.namespaced) {
    const std::string body_ns = MetaStr(obj, "namespace");
    if (!body_ns.empty() && body_ns != ns)
      return ApiError::BadRequest(
          "the namespace of the provided object does not match the namespace sent on the request");
    meta["namespace"] = ns;
  } else {
    meta.erase("namespace");
  }
  std::string name = MetaStr(obj, "name");
  Bucket& bucket = BucketFor(rt.storage_key());
  if (name.empty()) {
    const std::string gen = MetaStr(obj, "generateName");
    if (gen.empty())
      return ApiError::Invalid(
          rt.kind, rt.group, "",
          {RequiredField("metadata.name", "name or generateName is required")});
    static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    do {
      std::string suffix;
      for (unsigned char c : RandomBytes(5)) suffix += kAlphabet[c % (sizeof(kAlphabet) - 1)];
      name = gen + suffix;
    } while (bucket.objects.count(Key(ns, name)));
    meta["name"] = name;
  }
  const std::string name_err = rt.plural == "namespaces" && rt.group.empty()
                                   ? ValidateDns1123Label(name)
                                   : ValidateDns1123Subdomain(name);
  if (!name_err.empty())
    return ApiError::Invalid(rt.kind, rt.group, name,
                             {InvalidField("metadata.name", name, name_err)});
  if (rt.namespaced) {
    const Bucket* nsb = FindBucket("/namespaces");
    ObjectPtr nso;
    if (nsb != nullptr) {
      if (auto it = nsb->objects.find(Key("", ns)); it != nsb->objects.end()) nso = it->second;
    }
    if (!nso) return ApiError::NotFound("namespaces", "", ns);
    if (Deleting(nso->obj))
      return ApiError::Forbidden(
          rt.plural, rt.group, name,
          "unable to create new content in namespace " + ns + " because it is being terminated");
  }
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = FormatRfc3339(clock_.WallNow());
  for (const char* f : {"deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion",
                        "selfLink", "managedFields"})
    meta.erase(f);
  if (rt.tracks_generation) {
    meta["generation"] = 1;
  } else {
    meta.erase("generation");
  }
  if (rt.status_subresource) obj.erase("status");
  if (rt.group.empty() && rt.plural == "pods") obj["status"] = {{"phase", "Pending"}};
  WriteResult result;
  auto admitted = Admit(rt, obj, opts, &result.warnings);
  if (!admitted.ok()) return admitted.error();
  const std::string key = Key(ns, name);
  if (bucket.objects.count(key)) return ApiError::AlreadyExists(rt.plural, rt.group, name);
  result.http_status = 201;
  if (opts.dry_run) {
    auto so = std::make_shared<StoredObject>();
    so->obj = std::move(obj);
    so->text = so->obj.dump();
    result.object = so;
    return result;
  }
  std::vector<ResourceType> crd_types;
  if (rt.group == "apiextensions.k8s.io") crd_types = *TypesFromCrd(obj);
  result.object = Commit(rt, key, &obj, "ADDED");
  if (rt.group == "apiextensions.k8s.io") RegisterCrd(result.object->obj, crd_types);
  return result;
}

ApiOr<WriteResult> Store::Update(const ResourceType& rt, const std::string& ns,
                                 const std::string& name, json obj, const WriteOptions& opts) {
  std::lock_guard lock(mu_);
  return UpdateLocked(rt, ns, name, std::move(obj), opts, false);
}

ApiOr<WriteResult> Store::UpdateLocked(const ResourceType& rt, const std::string& ns_in,
                                       const std::string& name, json obj, const WriteOptions& opts,
                                       bool from_patch) {
  const std::string ns = rt.namespaced ? ns_in : "";
  const std::string key = Key(ns, name);
  Bucket& bucket = BucketFor(rt.storage_key());
  auto found = bucket.objects.find(key);
  if (found == bucket.objects.end()) return ApiError::NotFound(rt.plural, rt.group, name);
  const ObjectPtr cur = found->second;
  if (!obj.is_object())
    return ApiError::BadRequest("the body of the request must be a JSON object");
  if (obj.contains("apiVersion") && obj["apiVersion"] != rt.api_version())
    return ApiError::BadRequest("the API version in the data (" + obj["apiVersion"].dump() +
                                ") does not match the expected API version (" + rt.api_version() +
                                ")");
  if (obj.contains("kind") && obj["kind"] != rt.kind)
    return ApiError::BadRequest("the kind in the data (" + obj["kind"].dump() +
                                ") does not match the expected kind (" + rt.kind + ")");
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  const std::string body_name = MetaStr(obj, "name");
  if (!body_name.empty() && body_name != name)
    return ApiError::BadRequest("the name of the object (" + body_name +
                                ") does not match the name on the URL (" + name + ")");
  const std::string body_ns = MetaStr(obj, "namespace");
  if (rt.namespaced && !body_ns.empty() && body_ns != ns)
    return ApiError::BadRequest(
        "the namespace of the provided object does not match the namespace sent on the request");
  const std::string body_rv = MetaStr(obj, "resourceVersion");
  const std::string cur_rv = MetaStr(cur->obj, "resourceVersion");
  if (body_rv.empty()) {
    if (!rt.unconditional_update && !from_patch)
      return ApiError::Invalid(rt.kind, rt.group, name,
                               {InvalidField("metadata.resourceVersion", json("0x0"),
                                             "must be specified for an update")});
  } else if (body_rv != cur_rv) {
    return ApiError::Conflict(rt.plural, rt.group, name, kOptimisticLock);
  }
  json next;
  if (opts.status_subresource) {
    // /status keeps everything but .status from the stored object.
    next = cur->obj;
    if (obj.contains("status"))
      next["status"] = obj["status"];
    else
      next.erase("status");
  } else {
    next = std::move(obj);
    json& m = next["metadata"];
    const json& cm = cur->obj["metadata"];
    for (const char* f : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"}) {
      if (cm.contains(f))
        m[f] = cm[f];
      else
        m.erase(f);
    }
    m.erase("managedFields");
    m.erase("selfLink");
    if (rt.status_subresource) {
      if (cur->obj.contains("status"))
        next["status"] = cur->obj["status"];
      else
        next.erase("status");
    }
  }
  next["apiVersion"] = rt.api_version();
  next["kind"] = rt.kind;
  WriteResult result;
  auto admitted = Admit(rt, next, opts, &result.warnings);
  if (!admitted.ok()) return admitted.error();
  if (Deleting(cur->obj)) {
    const auto old_f = Finalizers(cur->obj);
    std::vector<std::string> added;
    for (const auto& f : Finalizers(next))
      if (std::find(old_f.begin(), old_f.end(), f) == old_f.end()) added.push_back(f);
    if (!added.empty())
      return ApiError::Invalid(
          rt.kind, rt.group, name,
          {ForbiddenField("metadata.finalizers",
                          "no new finalizers can be added if the object is being deleted, found "
                          "new finalizers " +
                              GoStringSlice(added))});
  }
  if (rt.tracks_generation && GenerationView(cur->obj, rt.status_subresource) !=
                                  GenerationView(next, rt.status_subresource)) {
    next["metadata"]["generation"] = cur->obj["metadata"].value("generation", 0) + 1;
  }
  next["metadata"]["resourceVersion"] = cur_rv;
  if (next == cur->obj) {
    result.object = cur;  // no-op writes keep the resourceVersion and emit no event
    return result;
  }
  if (opts.dry_run) {
    auto so = std::make_shared<StoredObject>();
    so->obj = std::move(next);
    so->text = so->obj.dump();
    result.object = so;
    return result;
  }
  if (Deleting(next) && Finalizers(next).empty()) {
    // The last finalizer went: the object is removed with this state.
    result.object = RemoveAndCollect(rt, key, cur, &next);
    return result;
  }
  std::vector<ResourceType> crd_types;
  const bool is_crd = rt.group == "apiextensions.k8s.io";
  if (is_crd) crd_types = *TypesFromCrd(next);
  result.object = Commit(rt, key, &next, "MODIFIED");
  if (is_crd) RegisterCrd(result.object->obj, crd_types);
  return result;
}

ApiOr<WriteResult> Store::Patch(const ResourceType& rt, const std::string& ns,
                                const std::string& name, PatchType type, const std::string& body,
                                const WriteOptions& opts) {
  std::lock_guard lock(mu_);
  if (type == PatchType::kStrategic && !rt.crd_name.empty())
    return ApiError::UnsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
  const Bucket& bucket = BucketFor(rt.storage_key());
  auto it = bucket.objects.find(Key(rt.namespaced ? ns : "", name));
  if (it == bucket.objects.end()) {
    if (type == PatchType::kApply && !opts.status_subresource) {
      auto created = ApplyPatch(type, json::object(), body);
      if (!created.ok()) return created.error();
      json obj = std::move(created.value());
      if (!obj.contains("metadata") || !obj["metadata"].is_object())
        obj["metadata"] = json::object();
      obj["metadata"]["name"] = name;
      return CreateLocked(rt, ns, std::move(obj), opts);
    }
    return ApiError::NotFound(rt.plural, rt.group, name);
  }
  auto patched = ApplyPatch(type, it->second->obj, body);
  if (!patched.ok()) return patched.error();
  return UpdateLocked(rt, ns, name, std::move(patched.value()), opts, true);
}

ObjectPtr Store::RemoveAndCollect(const ResourceType& rt, const std::string& key,
                                  const ObjectPtr& cur, json* last) {
  ObjectPtr removed;
  const std::string uid = MetaStr(cur->obj, "uid");
  const auto owners = OwnerUids(cur->obj);
  if (rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions") {
    // Custom resources go with their definition.
    auto types = TypesFromCrd(cur->obj);
    if (types.ok() && !types->empty()) {
      const std::string skey = types->front().storage_key();
      if (auto st = StorageType(skey)) {
        Bucket& b = BucketFor(skey);
        std::vector<std::string> keys;
        for (const auto& [k, v] : b.objects) keys.push_back(k);
        for (const auto& k : keys) Commit(*st, k, nullptr, "DELETED");
      }
    }
    removed = Commit(rt, key, last, "DELETED");
    UnregisterCrd(NameOfKey(key));
  } else {
    removed = Commit(rt, key, last, "DELETED");
  }
  CollectGarbage(uid);
  // Foreground owners waiting for this dependent may now finish.
  for (const auto& owner : owners) {
    auto loc = by_uid_.find(owner);
    if (loc == by_uid_.end() || dependents_.count(owner)) continue;
    auto ort = StorageType(loc->second.first);
    const Bucket* ob = FindBucket(loc->second.first);
    if (!ort || ob == nullptr) continue;
    auto oit = ob->objects.find(loc->second.second);
    if (oit == ob->objects.end()) continue;
    ObjectPtr o = oit->second;
    auto f = Finalizers(o->obj);
    if (!Deleting(o->obj) || std::find(f.begin(), f.end(), "foregroundDeletion") == f.end())
      continue;
    json next = o->obj;
    f.erase(std::remove(f.begin(), f.end(), "foregroundDeletion"), f.end());
    if (f.empty())
      next["metadata"].erase("finalizers");
    else
      next["metadata"]["finalizers"] = f;
    const std::string okey = loc->second.second;
    if (f.empty()) {
      RemoveAndCollect(*ort, okey, o, &next);
    } else {
      Commit(*ort, okey, &next, "MODIFIED");
    }
  }
  if (rt.namespaced) MaybeFinishNamespace(NsOfKey(key));
  return removed;
}

void Store::CollectGarbage(const std::string& removed_uid) {
  auto it = dependents_.find(removed_uid);
  if (it == dependents_.end()) return;
  const auto deps = it->second;  // copy: deletions below edit the index
  for (const auto& [skey, key] : deps) {
    const Bucket* b = FindBucket(skey);
    if (b == nullptr) continue;
    auto oit = b->objects.find(key);
    if (oit == b->objects.end()) continue;
    bool owner_left = false;
    for (const auto& u : OwnerUids(oit->second->obj)) owner_left = owner_left || by_uid_.count(u);
    if (owner_left) continue;
    auto rt = StorageType(skey);
    if (!rt) continue;
    auto r = DeleteLocked(*rt, NsOfKey(key), NameOfKey(key), {.propagation = "Background"});
    (void)r;
  }
}

void Store::MaybeFinishNamespace(const std::string& ns) {
  if (ns.empty() || ns_counts_[ns] > 0) return;
  const Bucket* nsb = FindBucket("/namespaces");
  if (nsb == nullptr) return;
  auto it = nsb->objects.find(Key("", ns));
  if (it == nsb->objects.end() || !Deleting(it->second->obj)) return;
  auto rt = LookupLocked("", "v1", "namespaces");
  Commit(*rt, Key("", ns), nullptr, "DELETED");
}

ApiOr<WriteResult> Store::Delete(const ResourceType& rt, const std::string& ns,
                                 const std::string& name, const DeleteOptions& opts) {
  std::lock_guard lock(mu_);
  return DeleteLocked(rt, ns, name, opts);
}

ApiOr<WriteResult> Store::DeleteLocked(const ResourceType& rt, const std::string& ns_in,
                                       const std::string& name, const DeleteOptions& opts) {
  const std::string ns = rt.namespaced ? ns_in : "";
  const std::string key = Key(ns, name);
  Bucket& bucket = BucketFor(rt.storage_key());
  auto found = bucket.objects.find(key);
  if (found == bucket.objects.end()) return ApiError::NotFound(rt.plural, rt.group, name);
  const ObjectPtr cur = found->second;
  const std::string uid = MetaStr(cur->obj, "uid");
  const std::string rv = MetaStr(cur->obj, "resourceVersion");
  if (opts.precondition_uid && *opts.precondition_uid != uid)
    return ApiError::Conflict(rt.plural, rt.group, name,
                              "Precondition failed: UID in precondition: " +
                                  *opts.precondition_uid + ", UID in object meta: " + uid);
  if (opts.precondition_rv && *opts.precondition_rv != rv)
    return ApiError::Conflict(
        rt.plural, rt.group, name,
        "Precondition failed: ResourceVersion in precondition: " + *opts.precondition_rv +
            ", ResourceVersion in object meta: " + rv);
  WriteResult result;
  result.object = cur;
  if (opts.dry_run) return result;
  const std::string policy = opts.propagation.empty() ? "Background" : opts.propagation;
  if (policy != "Background" && policy != "Foreground" && policy != "Orphan")
    return ApiError::Invalid(
        "DeleteOptions", "", "",
        {NotSupportedField("propagationPolicy", policy, {"Background", "Foreground", "Orphan"})});
  if (Deleting(cur->obj)) {
    result.http_status = 202;  // already pending on finalizers
    return result;
  }
  if (policy == "Orphan" && dependents_.count(uid)) {
    const auto deps = dependents_[uid];
    for (const auto& [skey, dkey] : deps) {
      auto drt = StorageType(skey);
      const Bucket* db = FindBucket(skey);
      if (!drt || db == nullptr) continue;
      auto dit = db->objects.find(dkey);
      if (dit == db->objects.end()) continue;
      json next = dit->second->obj;
      json refs = json::array();
      for (const auto& r : next["metadata"]["ownerReferences"])
        if (r.value("uid", "") != uid) refs.push_back(r);
      if (refs.empty())
        next["metadata"].erase("ownerReferences");
      else
        next["metadata"]["ownerReferences"] = refs;
      Commit(*drt, dkey, &next, "MODIFIED");
    }
  }
  std::vector<std::string> finalizers = Finalizers(cur->obj);
  const bool is_ns = rt.group.empty() && rt.plural == "namespaces";
  const bool foreground = policy == "Foreground" && dependents_.count(uid) > 0;
  if (foreground) finalizers.push_back("foregroundDeletion");
  if (!finalizers.empty() || is_ns) {
    json next = cur->obj;
    next["metadata"]["deletionTimestamp"] = FormatRfc3339(clock_.WallNow());
    next["metadata"]["deletionGracePeriodSeconds"] = 0;
    if (!finalizers.empty()) next["metadata"]["finalizers"] = finalizers;
    if (rt.tracks_generation)
      next["metadata"]["generation"] = cur->obj["metadata"].value("generation", 0) + 1;
    if (is_ns) next["status"] = {{"phase", "Terminating"}};
    result.object = Commit(rt, key, &next, "MODIFIED");
    result.http_status = 202;
    if (foreground) {
      const auto deps = dependents_[uid];
      for (const auto& [skey, dkey] : deps) {
        if (auto drt = StorageType(skey)) {
          auto r =
              DeleteLocked(*drt, NsOfKey(dkey), NameOfKey(dkey), {.propagation = "Foreground"});
          (void)r;
        }
      }
    }
    if (is_ns) {
      std::vector<std::pair<std::string, std::string>> inside;
      const std::string prefix = name + "/";
      for (const auto& [skey, b] : buckets_) {
        for (auto it = b->objects.lower_bound(prefix); it != b->objects.end(); ++it) {
          if (it->first.compare(0, prefix.size(), prefix) != 0) break;
          inside.emplace_back(skey, it->first);
        }
      }
      for (const auto& [skey, okey] : inside) {
        if (auto ort = StorageType(skey)) {
          auto r = DeleteLocked(*ort, name, NameOfKey(okey), {.propagation = "Background"});
          (void)r;
        }
      }
      if (finalizers.empty()) MaybeFinishNamespace(name);
    }
    // The object may be gone already (its last dependent or content went).
    const Bucket* b = FindBucket(rt.storage_key());
    auto now = b->objects.find(key);
    if (now == b->objects.end()) {
      result.removed = true;
      result.http_status = 200;
    } else {
      result.object = now->second;
    }
    return result;
  }
  // Removal: DELETED carries the state at the deletion's resourceVersion.
  result.object = RemoveAndCollect(rt, key, cur, nullptr);
  result.removed = true;
  result.http_status = 200;
  return result;
}

ApiOr<ListResult> Store::DeleteCollection(const ResourceType& rt, const std::string& ns,
                                          const ListOptions& list, const DeleteOptions& opts) {
  auto items = List(rt, ns, list);
  if (!items.ok()) return items.error();
  std::lock_guard lock(mu_);
  ListResult out;
  for (const auto& o : items->items) {
    auto r = DeleteLocked(rt, MetaStr(o->obj, "namespace"), MetaStr(o->obj, "name"), opts);
    if (r.ok()) out.items.push_back(r->object);
  }
  out.rv = rv_;
  return out;
}

}  // namespace vmrelease::apiserver
