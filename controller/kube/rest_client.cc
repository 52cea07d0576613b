#include "controller/kube/rest_client.h"

#include <algorithm>
#include <atomic>

#include "controller/common/json_depth.h"
#include "controller/common/log.h"
#include "controller/kube/errors.h"

namespace vmrelease::kube {
namespace {

constexpr char kJson[] = "application/json";

const char* PatchContentType(PatchType t) {
  switch (t) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return kJson;
}

StatusOr<Json> ParseBody(const std::string& body, const std::string& what) {
  if (body.empty()) return Json::object();
  auto j = ParseJsonBounded(body, kMaxKubeJsonDepth);
  if (!j.ok()) {
    return DataLossError(what +
                         ": response is not valid JSON: " + std::string(j.status().message()));
  }
  return j;
}

StatusOr<WatchEventType> ParseEventType(const std::string& t) {
  if (t == "ADDED") return WatchEventType::kAdded;
  if (t == "MODIFIED") return WatchEventType::kModified;
  if (t == "DELETED") return WatchEventType::kDeleted;
  if (t == "BOOKMARK") return WatchEventType::kBookmark;
  return DataLossError("unknown watch event type \"" + t + "\"");
}

void StampTypeMeta(Json& obj, const ResourceType& type) {
  if (!obj.is_object()) return;
  if (!obj.contains("apiVersion")) obj["apiVersion"] = type.ApiVersion();
  if (!obj.contains("kind")) obj["kind"] = type.kind;
}

class RestWatchStream final : public WatchStream {
 public:
  RestWatchStream(std::unique_ptr<http::Stream> stream, ResourceType type, std::string what)
      : stream_(std::move(stream)), type_(std::move(type)), what_(std::move(what)) {}

  StatusOr<std::optional<WatchEvent>> Next() override {
    while (true) {
      auto line = stream_->ReadLine();
      if (!line.ok()) return line.status().WithContext(what_);
      if (!line->has_value()) return std::optional<WatchEvent>();
      const std::string& text = **line;
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto parsed = ParseJsonBounded(text, kMaxKubeJsonDepth);
      if (!parsed.ok()) {
        return DataLossError(what_ +
                             ": malformed watch event: " + std::string(parsed.status().message()));
      }
      Json ev = std::move(*parsed);
      if (!ev.is_object() || !ev.contains("type") || !ev["type"].is_string() ||
          !ev.contains("object")) {
        return DataLossError(what_ + ": watch event without type or object");
      }
      const std::string t = ev["type"].get<std::string>();
      if (t == "ERROR") return FromKubeStatus(ev["object"], 0, what_);
      ASSIGN_OR_RETURN(WatchEventType type, ParseEventType(t));
      WatchEvent out{type, std::move(ev["object"])};
      if (type != WatchEventType::kBookmark) StampTypeMeta(out.object, type_);
      return std::optional<WatchEvent>(std::move(out));
    }
  }

  void Cancel() override { stream_->Cancel(); }

 private:
  std::unique_ptr<http::Stream> stream_;
  ResourceType type_;
  std::string what_;
};

void AddWriteOptions(RestClient::Query& q, const WriteOptions& o) {
  if (!o.field_manager.empty()) q.emplace_back("fieldManager", o.field_manager);
  if (o.dry_run) q.emplace_back("dryRun", "All");
}

}  // namespace

const char* WatchEventTypeName(WatchEventType t) {
  switch (t) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
  }
  return "UNKNOWN";
}

StatusOr<ObjectList> ListAll(KubeClient& client, const ResourceType& type, ListOptions options) {
  ObjectList all;
  bool first = true;
  while (true) {
    ASSIGN_OR_RETURN(ObjectList page, client.List(type, options));
    if (first) {
      all.resource_version = page.resource_version;
      all.items = std::move(page.items);
      first = false;
    } else {
      all.items.insert(all.items.end(), std::make_move_iterator(page.items.begin()),
                       std::make_move_iterator(page.items.end()));
    }
    if (page.continue_token.empty()) return all;
    options.continue_token = page.continue_token;
    // The continue token carries the snapshot version; the two are exclusive.
    options.resource_version.clear();
    options.resource_version_match.clear();
  }
}

RestClient::RestClient(ClusterConfig config, Options options)
    : config_(std::move(config)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &RealClock::Get()),
      http_(std::make_unique<http::Client>(
          http::Client::Options{.tls = config_.tls, .user_agent = options_.user_agent})) {}

StatusOr<std::unique_ptr<RestClient>> RestClient::FromConfig(ClusterConfig config,
                                                             Options options) {
  http::Url url;
  if (!http::ParseUrl(config.server, &url))
    return InvalidArgumentError("API server URL \"" + config.server + "\" is not valid");
  return std::unique_ptr<RestClient>(new RestClient(std::move(config), std::move(options)));
}

Status RestClient::Authorize(http::Request& req) {
  if (!config_.token) return Status::Ok();
  ASSIGN_OR_RETURN(std::string token, config_.token->Token());
  req.headers.Set("Authorization", "Bearer " + token);
  return Status::Ok();
}

bool RestClient::Reauthenticate(const Status& err) {
  if (!IsUnauthorized(err) || !config_.token || !config_.token->rotates()) return false;
  config_.token->Invalidate();
  return true;
}

StatusOr<Json> RestClient::Request(const std::string& method, const std::string& path,
                                   const Query& query, const std::string& body,
                                   const std::string& content_type, Retry retry,
                                   const std::string& what) {
  http::Request req;
  req.method = method;
  req.url = config_.server + path + (query.empty() ? "" : "?" + http::BuildQuery(query));
  req.body = body;
  req.timeout = options_.request_timeout;
  req.headers.Set("Accept", kJson);
  if (!body.empty() || method != "GET") req.headers.Set("Content-Type", content_type);

  Backoff backoff(options_.read_backoff);
  bool reauthenticated = false;
  for (int attempt = 1;; ++attempt) {
    RETURN_IF_ERROR(Authorize(req));
    StatusOr<http::Response> resp = http_->Send(req);
    Status err;
    if (!resp.ok()) {
      err = resp.status().WithContext(what);
    } else if (resp->ok()) {
      return ParseBody(resp->body, what);
    } else {
      err = FromResponse(*resp, what);
    }
    if (!reauthenticated && Reauthenticate(err)) {
      reauthenticated = true;
      --attempt;
      continue;
    }
    const bool retryable = retry == Retry::kReads ? IsRetryable(err) : IsTooManyRequests(err);
    if (!retryable || attempt >= options_.max_read_attempts) return err;
    Duration wait = backoff.Next();
    if (err.detail().retry_after) {
      wait = std::max<Duration>(
          wait, std::min<Duration>(*err.detail().retry_after, options_.max_retry_after));
    }
    log::Debug("kube.client", "retrying request",
               {{"what", what},
                {"attempt", attempt},
                {"error", err.message()},
                {"wait_ms", std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()}});
    clock_->SleepFor(wait);
  }
}

StatusOr<Json> RestClient::Get(const ResourceType& type, const ObjectRef& ref) {
  const std::string what = "get " + type.Name() + " " + ref.Key();
  ASSIGN_OR_RETURN(Json obj,
                   Request("GET", ObjectPath(type, ref), {}, "", kJson, Retry::kReads, what));
  StampTypeMeta(obj, type);
  return obj;
}

StatusOr<ObjectList> RestClient::List(const ResourceType& type, const ListOptions& options) {
  Query q;
  if (!options.label_selector.empty()) q.emplace_back("labelSelector", options.label_selector);
  if (!options.field_selector.empty()) q.emplace_back("fieldSelector", options.field_selector);
  if (options.limit > 0) q.emplace_back("limit", std::to_string(options.limit));
  if (!options.continue_token.empty()) q.emplace_back("continue", options.continue_token);
  if (!options.resource_version.empty())
    q.emplace_back("resourceVersion", options.resource_version);
  if (!options.resource_version_match.empty())
    q.emplace_back("resourceVersionMatch", options.resource_version_match);
  const std::string what =
      "list " + type.Name() + (options.ns.empty() ? "" : " in namespace " + options.ns);
  ASSIGN_OR_RETURN(Json body, Request("GET", CollectionPath(type, options.ns), q, "", kJson,
                                      Retry::kReads, what));
  ObjectList out;
  try {
    if (body.contains("metadata") && body["metadata"].is_object()) {
      const Json& meta = body["metadata"];
      out.resource_version = meta.value("resourceVersion", "");
      out.continue_token = meta.value("continue", "");
      if (meta.contains("remainingItemCount") && meta["remainingItemCount"].is_number_integer())
        out.remaining_item_count = meta["remainingItemCount"].get<int64_t>();
    }
    if (body.contains("items") && body["items"].is_array()) {
      Json& items = body["items"];
      out.items.reserve(items.size());
      for (Json& item : items) {
        StampTypeMeta(item, type);
        out.items.push_back(std::move(item));
      }
    }
  } catch (const Json::exception& e) {
    return DataLossError(what + ": malformed list: " + e.what());
  }
  return out;
}

StatusOr<Json> RestClient::Create(const ResourceType& type, const Json& object,
                                  const WriteOptions& options) {
  const std::string ns = Namespace(object);
  if (type.namespaced && ns.empty())
    return InvalidArgumentError("create " + type.Name() + ": metadata.namespace is required");
  Query q;
  AddWriteOptions(q, options);
  Json body = object;
  StampTypeMeta(body, type);
  const std::string name = Name(object).empty() ? "(generateName)" : Name(object);
  ASSIGN_OR_RETURN(Json created, Request("POST", CollectionPath(type, ns), q, body.dump(), kJson,
                                         Retry::kWrites, "create " + type.Name() + " " + name));
  StampTypeMeta(created, type);
  return created;
}

StatusOr<Json> RestClient::Put(const ResourceType& type, const Json& object,
                               const WriteOptions& options, const std::string& subresource) {
  const ObjectRef ref = ObjectRef::FromObject(object);
  if (ref.name.empty())
    return InvalidArgumentError("update " + type.Name() + ": metadata.name is required");
  Query q;
  AddWriteOptions(q, options);
  Json body = object;
  StampTypeMeta(body, type);
  const std::string what =
      (subresource.empty() ? "update " : "update status of ") + type.Name() + " " + ref.Key();
  ASSIGN_OR_RETURN(Json updated, Request("PUT", ObjectPath(type, ref, subresource), q, body.dump(),
                                         kJson, Retry::kWrites, what));
  StampTypeMeta(updated, type);
  return updated;
}

StatusOr<Json> RestClient::Update(const ResourceType& type, const Json& object,
                                  const WriteOptions& options) {
  return Put(type, object, options, "");
}

StatusOr<Json> RestClient::UpdateStatus(const ResourceType& type, const Json& object,
                                        const WriteOptions& options) {
  return Put(type, object, options, "status");
}

StatusOr<Json> RestClient::Patch(const ResourceType& type, const ObjectRef& ref,
                                 PatchType patch_type, const Json& patch,
                                 const PatchOptions& options) {
  Query q;
  if (!options.field_manager.empty()) q.emplace_back("fieldManager", options.field_manager);
  if (options.force) q.emplace_back("force", "true");
  if (options.dry_run) q.emplace_back("dryRun", "All");
  if (patch_type == PatchType::kApply && options.field_manager.empty())
    return InvalidArgumentError("server-side apply needs a field manager");
  const std::string what = "patch " +
                           (options.subresource.empty() ? "" : options.subresource + " of ") +
                           type.Name() + " " + ref.Key();
  ASSIGN_OR_RETURN(Json patched,
                   Request("PATCH", ObjectPath(type, ref, options.subresource), q, patch.dump(),
                           PatchContentType(patch_type), Retry::kWrites, what));
  StampTypeMeta(patched, type);
  return patched;
}

StatusOr<Json> RestClient::Delete(const ResourceType& type, const ObjectRef& ref,
                                  const DeleteOptions& options) {
  Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (options.uid || options.resource_version) {
    Json pre = Json::object();
    if (options.uid) pre["uid"] = *options.uid;
    if (options.resource_version) pre["resourceVersion"] = *options.resource_version;
    body["preconditions"] = pre;
  }
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  return Request("DELETE", ObjectPath(type, ref), {}, body.dump(), kJson, Retry::kWrites,
                 "delete " + type.Name() + " " + ref.Key());
}

StatusOr<std::unique_ptr<WatchStream>> RestClient::Watch(const ResourceType& type,
                                                         const WatchOptions& options) {
  Query q{{"watch", "true"}};
  if (!options.resource_version.empty())
    q.emplace_back("resourceVersion", options.resource_version);
  if (options.allow_bookmarks) q.emplace_back("allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0)
    q.emplace_back("timeoutSeconds", std::to_string(options.timeout_seconds));
  if (!options.label_selector.empty()) q.emplace_back("labelSelector", options.label_selector);
  if (!options.field_selector.empty()) q.emplace_back("fieldSelector", options.field_selector);
  const std::string what =
      "watch " + type.Name() + (options.ns.empty() ? "" : " in namespace " + options.ns);

  http::Request req;
  req.url = config_.server + CollectionPath(type, options.ns) + "?" + http::BuildQuery(q);
  req.headers.Set("Accept", kJson);
  // An inactivity limit, not a total one: longer than the server-side timeout so
  // a quiet but healthy watch is ended by the server, not by us. One value for
  // every watcher timeout up to 10 minutes, because the http layer keeps one
  // connection pool per (origin, timeout).
  req.timeout = std::chrono::seconds(
      std::max<int64_t>(options.timeout_seconds > 0 ? options.timeout_seconds + 60 : 1800, 660));
  for (int attempt = 0; attempt < 2; ++attempt) {
    RETURN_IF_ERROR(Authorize(req));
    auto stream = http_->Open(req);
    if (!stream.ok()) return stream.status().WithContext(what);
    if ((*stream)->status() == 200) {
      return std::unique_ptr<WatchStream>(
          std::make_unique<RestWatchStream>(std::move(*stream), type, what));
    }
    http::Response resp;
    resp.status = (*stream)->status();
    resp.headers = (*stream)->headers();
    auto rest = (*stream)->ReadAll();
    if (rest.ok()) resp.body = *rest;
    Status err = FromResponse(resp, what);
    if (attempt == 0 && Reauthenticate(err)) continue;
    return err;
  }
  return UnauthenticatedError(what + ": unauthorized");
}

}  // namespace vmrelease::kube
