// Store admission and writes: create, update, patch, delete (finalizers,
// propagation, namespaces) and CRD registration. Reads and watches are in store.cc.
#include <algorithm>
#include <optional>
#include <regex>

#include "controller/api/openapi_schema.h"
#include "tests/support/apiserver/event_conversion.h"
#include "tests/support/apiserver/limits.h"
#include "tests/support/apiserver/store.h"
#include "tests/support/apiserver/store_internal.h"
#include "tests/support/apiserver/workloads.h"

namespace vmrelease::apiserver {
namespace schema = api::schema;

using nlohmann::json;
using namespace internal;  // NOLINT(google-build-using-namespace): private helpers

namespace {

const char kOptimisticLock[] =
    "the object has been modified; please apply your changes to the latest version and try again";

// The body of a create or update: a JSON object whose apiVersion and kind, when
// given, are the endpoint's.
std::optional<ApiError> CheckTypeMeta(const ResourceType& rt, const json& obj) {
  if (!obj.is_object())
    return ApiError::BadRequest("the body of the request must be a JSON object");
  if (obj.contains("apiVersion") && obj["apiVersion"] != rt.api_version())
    return ApiError::BadRequest("the API version in the data (" + obj["apiVersion"].dump() +
                                ") does not match the expected API version (" + rt.api_version() +
                                ")");
  if (obj.contains("kind") && obj["kind"] != rt.kind)
    return ApiError::BadRequest("the kind in the data (" + obj["kind"].dump() +
                                ") does not match the expected kind (" + rt.kind + ")");
  return std::nullopt;
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
      size_t total = 0;
      for (auto it = obj["data"].begin(); it != obj["data"].end(); ++it) {
        auto bytes = it->is_string() ? Base64Decode(it->get<std::string>())
                                     : StatusOr<std::string>(InvalidArgumentError("not a string"));
        if (!bytes.ok()) {
          errs.push_back(InvalidField("data[" + it.key() + "]", "<value omitted>",
                                      "must be base64-encoded bytes"));
        } else {
          total += bytes->size();
        }
      }
      // ValidateSecret: the decoded data, all keys together, at most MaxSecretSize.
      if (total > kMaxSecretSize) errs.push_back(TooLongField("data", kMaxSecretSize));
    }
  } else if (rt.group.empty() && rt.plural == "configmaps") {
    static const std::regex kKey(R"(^[-._a-zA-Z0-9]+$)");
    size_t total = 0;
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
        if (!it->is_string()) {
          errs.push_back(
              InvalidField(std::string(f) + "[" + it.key() + "]", *it, "must be a string"));
        } else if (f == std::string("binaryData")) {
          auto bytes = Base64Decode(it->get<std::string>());
          total += bytes.ok() ? bytes->size() : it->get_ref<const std::string&>().size();
        } else {
          total += it->get_ref<const std::string&>().size();
        }
      }
    }
    // ValidateConfigMap: data and binaryData together; the error names the whole
    // object (field.NewPath(""), which prints as "[]").
    if (total > kMaxSecretSize) errs.push_back(TooLongField("[]", kMaxSecretSize));
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
  } else if (rt.group.empty() && rt.plural == "pods") {
    errs = ValidatePod(obj);
  } else if (rt.group == "batch" && rt.plural == "jobs") {
    errs = DefaultAndValidateJob(obj);
  } else if (rt.group == "apps" && rt.plural == "deployments") {
    errs = DefaultAndValidateDeployment(obj);
  } else if (rt.group == "rbac.authorization.k8s.io") {
    errs = ValidateRbac(rt.kind, obj);
  } else if (rt.group == "coordination.k8s.io" && rt.plural == "leases") {
    const json spec = obj.value("spec", json::object());
    if (spec.contains("leaseDurationSeconds") && !spec["leaseDurationSeconds"].is_number_integer())
      errs.push_back(InvalidField("spec.leaseDurationSeconds", spec["leaseDurationSeconds"],
                                  "must be an integer"));
  }
  return errs;
}

}  // namespace

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

ApiOr<json> Store::ToStored(const ResourceType& rt, json obj) const {
  // events.k8s.io/v1 objects are validated in their own shape, stored as core/v1.
  if (auto bad = CheckTypeMeta(rt, obj)) return *bad;
  json copy = obj;
  std::vector<FieldError> errs = ValidateBuiltin(rt, copy);
  if (!errs.empty()) return ApiError::Invalid(rt.kind, rt.group, MetaStr(obj, "name"), errs);
  return EventsV1ToEvent(obj);
}

ApiOr<WriteResult> Store::Create(const ResourceType& rt, const std::string& ns, json obj,
                                 const WriteOptions& opts) {
  std::lock_guard lock(mu_);
  if (!rt.stored_as.empty()) {
    auto stored = ToStored(rt, std::move(obj));
    if (!stored.ok()) return stored.error();
    return CreateLocked(*LookupLocked("", "v1", "events"), ns, std::move(stored.value()), opts);
  }
  return CreateLocked(rt, ns, std::move(obj), opts);
}

ApiOr<WriteResult> Store::CreateLocked(const ResourceType& rt, const std::string& ns_in, json obj,
                                       const WriteOptions& opts) {
  if (auto bad = CheckTypeMeta(rt, obj)) return *bad;
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
    // names.SimpleNameGenerator: the base is cut so the name fits 63 characters.
    const std::string base = gen.substr(0, 58);
    do {
      std::string suffix;
      for (unsigned char c : RandomBytes(5)) suffix += kAlphabet[c % (sizeof(kAlphabet) - 1)];
      name = base + suffix;
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
  if (rt.group.empty() && rt.plural == "pods") PreparePodForCreate(obj);
  if (rt.group == "batch" && rt.plural == "jobs") PrepareJobForCreate(obj);
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
  // etcd refuses a write over its request limit (dry runs never reach it).
  if (auto too_large = CheckStoredSize(obj.dump().size())) return *too_large;
  std::vector<ResourceType> crd_types;
  if (rt.group == "apiextensions.k8s.io") crd_types = *TypesFromCrd(obj);
  result.object = Commit(rt, key, &obj, "ADDED");
  if (rt.group == "apiextensions.k8s.io") RegisterCrd(result.object->obj, crd_types);
  // The garbage collector deletes a dependent none of whose owners exists
  // (e.g. a Pod created for a Job that was just deleted).
  const auto owners = OwnerUids(result.object->obj);
  if (!owners.empty() && std::none_of(owners.begin(), owners.end(),
                                      [&](const std::string& u) { return by_uid_.count(u) > 0; })) {
    auto gc = DeleteLocked(rt, ns, name, {.propagation = "Background"});
    (void)gc;
  }
  return result;
}

ApiOr<WriteResult> Store::Update(const ResourceType& rt, const std::string& ns,
                                 const std::string& name, json obj, const WriteOptions& opts) {
  std::lock_guard lock(mu_);
  if (!rt.stored_as.empty()) {
    auto stored = ToStored(rt, std::move(obj));
    if (!stored.ok()) return stored.error();
    return UpdateLocked(*LookupLocked("", "v1", "events"), ns, name, std::move(stored.value()),
                        opts, false);
  }
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
  if (auto bad = CheckTypeMeta(rt, obj)) return *bad;
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
  if (rt.group == "batch" && rt.plural == "jobs" && !opts.status_subresource) {
    auto errs = ValidateJobUpdate(cur->obj, next);
    if (!errs.empty()) return ApiError::Invalid(rt.kind, rt.group, name, errs);
  }
  if (rt.group == "apps" && rt.plural == "deployments" && !opts.status_subresource) {
    auto errs = ValidateDeploymentUpdate(cur->obj, next);
    if (!errs.empty()) return ApiError::Invalid(rt.kind, rt.group, name, errs);
  }
  if (rt.group == "rbac.authorization.k8s.io" && rt.plural.ends_with("bindings")) {
    auto errs = ValidateRoleBindingUpdate(cur->obj, next);
    if (!errs.empty()) return ApiError::Invalid(rt.kind, rt.group, name, errs);
  }
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
  if (next["metadata"].contains("finalizers") && next["metadata"]["finalizers"].is_array() &&
      next["metadata"]["finalizers"].empty())
    next["metadata"].erase("finalizers");
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
  if (auto too_large = CheckStoredSize(next.dump().size())) return *too_large;
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
  if (!rt.stored_as.empty()) {
    // Patch the object as this API shows it, then store it back in core/v1 shape.
    auto patched = ApplyPatch(type, EventToEventsV1(it->second->obj), body);
    if (!patched.ok()) return patched.error();
    auto stored = ToStored(rt, std::move(patched.value()));
    if (!stored.ok()) return stored.error();
    return UpdateLocked(*LookupLocked("", "v1", "events"), ns, name, std::move(stored.value()),
                        opts, true);
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
  if (rt.group.empty() && rt.plural == "namespaces" &&
      (name == "default" || name == "kube-system" || name == "kube-public"))
    return ApiError::Forbidden(rt.plural, rt.group, name, "this namespace may not be deleted");
  WriteResult result;
  result.object = cur;
  if (opts.dry_run) return result;
  const std::string policy = opts.propagation.empty() ? rt.default_propagation : opts.propagation;
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
    int64_t grace = 0;
    if (rt.group.empty() && rt.plural == "pods") {
      // The grace period the kubelet gives the containers (SIGTERM, then SIGKILL).
      const json spec = cur->obj.value("spec", json::object());
      grace = opts.grace_period_seconds.value_or(
          spec.value("terminationGracePeriodSeconds", json(30)).is_number_integer()
              ? spec["terminationGracePeriodSeconds"].get<int64_t>()
              : 30);
    }
    next["metadata"]["deletionGracePeriodSeconds"] = grace;
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
