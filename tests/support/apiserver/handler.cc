#include "tests/support/apiserver/handler.h"

#include <thread>

#include "controller/api/manifest.h"
#include "controller/common/log.h"
#include "tests/support/apiserver/discovery.h"
#include "tests/support/apiserver/event_conversion.h"
#include "tests/support/apiserver/limits.h"
#include "tests/support/apiserver/protobuf.h"

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

const char kAggregatedContentType[] =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

std::string Param(const http::ServerRequest& req, const std::string& name) {
  auto it = req.params.find(name);
  return it == req.params.end() ? "" : it->second;
}

bool TrueParam(const http::ServerRequest& req, const std::string& name) {
  const std::string v = Param(req, name);
  return v == "true" || v == "1";
}

ApiError NotFoundPath() {
  ApiError e{404, "NotFound", "the server could not find the requested resource", json::object()};
  return e;
}

// The object's JSON for the version the client asked for (no conversion beyond apiVersion).
std::string Render(const ResourceType& rt, const StoredObject& o) {
  if (!rt.stored_as.empty())
    return EventToEventsV1(o.obj).dump(-1, ' ', false, json::error_handler_t::replace);
  auto it = o.obj.find("apiVersion");
  if (it != o.obj.end() && *it == rt.api_version()) return o.text;
  json copy = o.obj;
  copy["apiVersion"] = rt.api_version();
  return copy.dump(-1, ' ', false, json::error_handler_t::replace);
}

enum class Shape { kObject, kTable, kPartialMetadata };

Shape ShapeFor(const http::ServerRequest& req) {
  const std::string accept = req.headers.Get("Accept");
  if (accept.find("as=Table") != std::string::npos) return Shape::kTable;
  if (accept.find("as=PartialObjectMetadata") != std::string::npos) return Shape::kPartialMetadata;
  return Shape::kObject;
}

IncludeObject IncludeFor(const http::ServerRequest& req) {
  const std::string v = Param(req, "includeObject");
  if (v == "None") return IncludeObject::kNone;
  if (v == "Object") return IncludeObject::kObject;
  return IncludeObject::kMetadata;
}

json PartialMetadata(const StoredObject& o) {
  return {{"kind", "PartialObjectMetadata"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", o.obj["metadata"]}};
}

ApiOr<json> ParseBody(const http::ServerRequest& req, const std::string& kind) {
  const std::string ct = req.headers.Get("Content-Type");
  if (ct.rfind(kProtobufContentType, 0) == 0) return DecodeKubeProtobuf(req.body);
  if (ct.find("yaml") != std::string::npos) {
    auto j = api::ParseYamlDocument(req.body);
    if (!j.ok()) return ApiError::BadRequest(j.status().message());
    return *j;
  }
  if (!ct.empty() && ct.find("json") == std::string::npos)
    return ApiError::UnsupportedMediaType(
        "the body of the request was in an unknown format - "
        "accepted media types include: application/json, "
        "application/yaml");
  // Before parsing: what is refused here never reaches code that recurses.
  if (auto too_deep = CheckJsonDepth(req.body, kind)) return *too_deep;
  try {
    return json::parse(req.body);
  } catch (const json::exception& e) {
    return ApiError::BadRequest("the object provided is unrecognized (must be of type " + kind +
                                "): " + e.what());
  }
}

ApiOr<WriteOptions> WriteOptionsFor(const http::ServerRequest& req, bool status) {
  WriteOptions o;
  o.status_subresource = status;
  o.dry_run = Param(req, "dryRun") == "All";
  const std::string fv = Param(req, "fieldValidation");
  // The server's default is Warn; kubectl sends Strict.
  o.field_validation = fv.empty() ? "Warn" : fv;
  if (o.field_validation != "Strict" && o.field_validation != "Warn" &&
      o.field_validation != "Ignore")
    return ApiError::BadRequest("fieldValidation parameter unsupported: " + fv);
  return o;
}

ApiOr<ListOptions> ListOptionsFor(const ResourceType& rt, const http::ServerRequest& req) {
  ListOptions o;
  auto labels = LabelSelector::Parse(Param(req, "labelSelector"));
  if (!labels.ok()) return labels.error();
  o.labels = *labels;
  auto fields = FieldSelector::Parse(Param(req, "fieldSelector"));
  if (!fields.ok()) return fields.error();
  std::vector<std::string> allowed = {"metadata.name", "metadata.namespace"};
  allowed.insert(allowed.end(), rt.field_selectors.begin(), rt.field_selectors.end());
  bool ok = true;
  ApiError e = fields->CheckFields(allowed, &ok);
  if (!ok) return e;
  o.fields = *fields;
  if (!rt.stored_as.empty()) o.fields.RenameFields(EventsV1FieldToCore);
  const std::string limit = Param(req, "limit");
  if (!limit.empty()) {
    try {
      o.limit = std::stoll(limit);
    } catch (const std::exception&) {
      return ApiError::BadRequest("invalid limit: " + limit);
    }
  }
  o.continue_token = Param(req, "continue");
  o.resource_version = Param(req, "resourceVersion");
  o.resource_version_match = Param(req, "resourceVersionMatch");
  return o;
}

}  // namespace

void SendJson(http::Responder& res, int code, std::string body,
              const std::vector<std::string>& warnings) {
  http::Headers h{{"Content-Type", "application/json"}, {"Cache-Control", "no-cache, private"}};
  for (const auto& w : warnings) {
    std::string escaped;
    for (char c : w) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
    h.Add("Warning", "299 - \"" + escaped + "\"");
  }
  res.Send(code, h, std::move(body));
}

void SendError(http::Responder& res, const ApiError& error) {
  http::Headers h{{"Content-Type", "application/json"}, {"Cache-Control", "no-cache, private"}};
  if (error.retry_after_seconds > 0)
    h.Add("Retry-After", std::to_string(error.retry_after_seconds));
  // Messages may quote the request, bytes that are not UTF-8 included (as Go does, they
  // are replaced: dump() would throw; found by apiserver_request_fuzz).
  res.Send(error.code, h, error.ToStatus().dump(-1, ' ', false, json::error_handler_t::replace));
}

struct ResourceHandler::Target {
  std::shared_ptr<const ResourceType> rt;
  std::string ns;
  std::string name;
  std::string sub;
};

ResourceHandler::ResourceHandler(Store& store, Options options)
    : store_(store),
      options_(std::move(options)),
      logs_([this](const std::string& ns, const std::string& name, const std::string& uid) {
        auto rt = store_.Lookup("", "v1", "pods");
        if (!rt) return false;
        auto pod = store_.Get(*rt, ns, name);
        return pod.ok() && (*pod)->obj["metadata"].value("uid", "") == uid;
      }) {}

ResourceHandler::~ResourceHandler() { Shutdown(); }

void ResourceHandler::Shutdown() {
  shutting_down_ = true;
  store_.DropWatches();
  logs_.NotifyAll();
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return active_watches_.load() == 0; });
}

void ResourceHandler::HandleOpenApi(const http::ServerRequest& req, http::Responder& res) {
  const auto types = store_.Types();
  if (req.path == "/openapi/v2") {
    const std::string accept = req.headers.Get("Accept");
    if (!accept.empty() && accept.find("json") == std::string::npos &&
        accept.find("*/*") == std::string::npos)
      return SendError(
          res, {406, "NotAcceptable", "only application/json is served for /openapi/v2", nullptr});
    return SendJson(res, 200,
                    OpenApiV2(types).dump(-1, ' ', false, json::error_handler_t::replace));
  }
  if (req.path == "/openapi/v3" || req.path == "/openapi/v3/")
    return SendJson(res, 200,
                    OpenApiV3Root(types).dump(-1, ' ', false, json::error_handler_t::replace));
  const std::string prefix = "/openapi/v3/";
  if (req.path.rfind(prefix, 0) == 0) {
    json doc = OpenApiV3Document(types, req.path.substr(prefix.size()));
    if (!doc.is_null())
      return SendJson(res, 200, doc.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  SendError(res, NotFoundPath());
}

void ResourceHandler::Handle(const http::ServerRequest& req, http::Responder& res) {
  const auto segs = Split(req.path);
  const std::string accept = req.headers.Get("Accept");
  const bool aggregated = accept.find("as=APIGroupDiscoveryList") != std::string::npos &&
                          accept.find("v=v2;") != std::string::npos;
  std::string group, version;
  size_t rest = 0;
  if (segs.empty()) return SendError(res, NotFoundPath());
  if (segs[0] == "api") {
    if (segs.size() == 1) {
      if (aggregated)
        return res.Send(200, {{"Content-Type", kAggregatedContentType}},
                        AggregatedDiscovery(store_.Types(), true)
                            .dump(-1, ' ', false, json::error_handler_t::replace));
      const std::string host = req.headers.Get("Host");
      return SendJson(res, 200,
                      ApiVersions(host.empty() ? options_.server_address : host)
                          .dump(-1, ' ', false, json::error_handler_t::replace));
    }
    version = segs[1];
    rest = 2;
  } else if (segs[0] == "apis") {
    if (segs.size() == 1) {
      if (aggregated)
        return res.Send(200, {{"Content-Type", kAggregatedContentType}},
                        AggregatedDiscovery(store_.Types(), false)
                            .dump(-1, ' ', false, json::error_handler_t::replace));
      return SendJson(
          res, 200,
          ApiGroupList(store_.Types()).dump(-1, ' ', false, json::error_handler_t::replace));
    }
    if (segs.size() == 2) {
      json g = ApiGroup(store_.Types(), segs[1]);
      if (g.is_null()) return SendError(res, NotFoundPath());
      return SendJson(res, 200, g.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    group = segs[1];
    version = segs[2];
    rest = 3;
  } else {
    return SendError(res, NotFoundPath());
  }
  if (segs.size() == rest) {
    json list = ApiResourceList(store_.Types(), group, version);
    if (list.is_null()) return SendError(res, NotFoundPath());
    return SendJson(res, 200, list.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  std::vector<std::string> r(segs.begin() + static_cast<long>(rest), segs.end());
  Target t;
  std::string resource;
  const bool ns_sub = group.empty() && r.size() == 3 && r[0] == "namespaces" &&
                      (r[2] == "status" || r[2] == "finalize");
  if (r[0] == "namespaces" && r.size() >= 3 && !ns_sub) {
    t.ns = r[1];
    resource = r[2];
    if (r.size() > 3) t.name = r[3];
    if (r.size() > 4) t.sub = r[4];
    if (r.size() > 5) return SendError(res, NotFoundPath());
  } else {
    resource = r[0];
    if (r.size() > 1) t.name = r[1];
    if (r.size() > 2) t.sub = r[2];
    if (r.size() > 3) return SendError(res, NotFoundPath());
  }
  t.rt = store_.Lookup(group, version, resource);
  if (!t.rt) return SendError(res, NotFoundPath());
  if (!t.rt->namespaced && !t.ns.empty()) return SendError(res, NotFoundPath());
  if (t.rt->namespaced && t.ns.empty() && !t.name.empty()) return SendError(res, NotFoundPath());
  if (!t.sub.empty() && !(t.sub == "status" && t.rt->status_subresource) &&
      !(t.sub == "log" && t.rt->log_subresource) && !(t.sub == "finalize" && ns_sub))
    return SendError(res, NotFoundPath());
  if (t.sub == "log") {
    if (req.method != "GET")
      return SendError(res, ApiError::MethodNotAllowed(
                                "the server does not allow this method on the requested resource"));
    return HandleLog(t, req, res);
  }
  if (t.sub == "finalize") t.sub = "status";  // namespace finalize behaves like a status write

  const std::string& m = req.method;
  if (m == "GET") {
    if (t.name.empty()) {
      if (TrueParam(req, "watch")) return HandleWatch(t, req, res);
      return HandleList(t, req, res);
    }
    auto o = store_.Get(*t.rt, t.ns, t.name);
    if (!o.ok()) return SendError(res, o.error());
    const Shape shape = ShapeFor(req);
    if (shape == Shape::kTable) {
      return SendJson(res, 200,
                      BuildTable(t.rt->columns, {&(*o)->obj}, IncludeFor(req),
                                 std::to_string(store_.CurrentRv()), "", RealClock::Get().WallNow(),
                                 t.rt->api_version(), t.rt->name_priority)
                          .dump(-1, ' ', false, json::error_handler_t::replace));
    }
    if (shape == Shape::kPartialMetadata)
      return SendJson(res, 200,
                      PartialMetadata(**o).dump(-1, ' ', false, json::error_handler_t::replace));
    return SendJson(res, 200, Render(*t.rt, **o));
  }
  if (m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE") return HandleWrite(t, req, res);
  SendError(res, ApiError::MethodNotAllowed(
                     "the server does not allow this method on the requested resource"));
}

void ResourceHandler::HandleList(const Target& t, const http::ServerRequest& req,
                                 http::Responder& res) {
  auto opts = ListOptionsFor(*t.rt, req);
  if (!opts.ok()) return SendError(res, opts.error());
  auto list = store_.List(*t.rt, t.ns, *opts);
  if (!list.ok()) return SendError(res, list.error());
  const std::string rv = std::to_string(list->rv);
  const Shape shape = ShapeFor(req);
  if (shape == Shape::kTable) {
    // Cells read the stored objects in place: copying 10k objects would dominate.
    std::vector<const json*> ptrs;
    ptrs.reserve(list->items.size());
    for (const auto& o : list->items) ptrs.push_back(&o->obj);
    return SendJson(res, 200,
                    BuildTable(t.rt->columns, ptrs, IncludeFor(req), rv, list->continue_token,
                               RealClock::Get().WallNow(), t.rt->api_version(), t.rt->name_priority)
                        .dump(-1, ' ', false, json::error_handler_t::replace));
  }
  json meta = {{"resourceVersion", rv}};
  if (!list->continue_token.empty()) meta["continue"] = list->continue_token;
  std::string body;
  size_t total = 0;
  for (const auto& o : list->items) total += o->text.size() + 1;
  body.reserve(total + 256);
  if (shape == Shape::kPartialMetadata) {
    body = R"({"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":)" +
           meta.dump(-1, ' ', false, json::error_handler_t::replace) + R"(,"items":[)";
    for (size_t i = 0; i < list->items.size(); ++i) {
      if (i) body += ',';
      body += PartialMetadata(*list->items[i]).dump(-1, ' ', false, json::error_handler_t::replace);
    }
  } else {
    body = R"({"kind":)" +
           json(t.rt->list_kind).dump(-1, ' ', false, json::error_handler_t::replace) +
           R"(,"apiVersion":)" +
           json(t.rt->api_version()).dump(-1, ' ', false, json::error_handler_t::replace) +
           R"(,"metadata":)" + meta.dump(-1, ' ', false, json::error_handler_t::replace) +
           R"(,"items":[)";
    for (size_t i = 0; i < list->items.size(); ++i) {
      if (i) body += ',';
      body += Render(*t.rt, *list->items[i]);
    }
  }
  body += "]}";
  SendJson(res, 200, std::move(body));
}

void ResourceHandler::HandleWatch(const Target& t, const http::ServerRequest& req,
                                  http::Responder& res) {
  auto lo = ListOptionsFor(*t.rt, req);
  if (!lo.ok()) return SendError(res, lo.error());
  WatchOptions wo;
  wo.resource_version = Param(req, "resourceVersion");
  wo.labels = lo->labels;
  wo.fields = lo->fields;
  wo.allow_bookmarks = TrueParam(req, "allowWatchBookmarks");
  wo.send_initial_events = TrueParam(req, "sendInitialEvents");
  auto deadline = std::chrono::steady_clock::now() + options_.max_watch;
  const std::string timeout = Param(req, "timeoutSeconds");
  if (!timeout.empty()) {
    try {
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::stoll(timeout));
    } catch (const std::exception&) {
      return SendError(res, ApiError::BadRequest("invalid timeoutSeconds: " + timeout));
    }
  }
  http::Headers headers{{"Content-Type", "application/json"},
                        {"Cache-Control", "no-cache, private"}};
  auto watcher = store_.Watch(*t.rt, t.ns, std::move(wo));
  if (!watcher.ok()) {
    if (watcher.error().code != 410) return SendError(res, watcher.error());
    // Like kube-apiserver: a 200 stream carrying one ERROR event.
    auto w = res.Stream(200, headers);
    w->Write(json({{"type", "ERROR"}, {"object", watcher.error().ToStatus()}})
                 .dump(-1, ' ', false, json::error_handler_t::replace) +
             "\n");
    w->Close();
    return;
  }
  auto writer = res.Stream(200, headers);
  std::shared_ptr<Watcher> w = std::move(watcher.value());
  if (shutting_down_) {
    store_.Unregister(w);
    writer->Close();
    return;
  }
  ++active_watches_;
  const bool table = ShapeFor(req) == Shape::kTable;
  std::thread(&ResourceHandler::RunWatch, this, w, writer, t.rt, table, IncludeFor(req),
              TrueParam(req, "allowWatchBookmarks"), deadline)
      .detach();
}

void ResourceHandler::RunWatch(std::shared_ptr<Watcher> watcher,
                               std::shared_ptr<http::ChunkWriter> writer,
                               std::shared_ptr<const ResourceType> rt, bool table,
                               IncludeObject include, bool bookmarks,
                               std::chrono::steady_clock::time_point deadline) {
  using Steady = std::chrono::steady_clock;
  auto next_bookmark = Steady::now() + options_.bookmark_interval;
  bool first_table = true;
  while (true) {
    const auto now = Steady::now();
    if (now >= deadline) break;
    auto wake = deadline;
    if (bookmarks && next_bookmark < wake) wake = next_bookmark;
    // Wake at least every second to notice a vanished peer on a quiet stream.
    wake = std::min(wake, now + std::chrono::seconds(1));
    std::optional<WatchEvent> ev = watcher->Next(wake);
    if (!ev) {
      if (watcher->closed()) break;
      if (bookmarks && Steady::now() >= next_bookmark) {
        store_.Bookmark(*watcher);
        next_bookmark = Steady::now() + options_.bookmark_interval;
      } else if (writer->closed()) {
        break;
      }
      continue;
    }
    std::string line;
    if (ev->type == "BOOKMARK") {
      json meta = {{"resourceVersion", std::to_string(ev->rv)}, {"creationTimestamp", nullptr}};
      if (ev->initial_events_end) meta["annotations"] = {{"k8s.io/initial-events-end", "true"}};
      line = json({{"type", "BOOKMARK"},
                   {"object",
                    {{"kind", rt->kind}, {"apiVersion", rt->api_version()}, {"metadata", meta}}}})
                 .dump(-1, ' ', false, json::error_handler_t::replace);
      next_bookmark = Steady::now() + options_.bookmark_interval;
    } else if (table) {
      json t = BuildTable(rt->columns, {&ev->object->obj}, include, std::to_string(ev->rv), "",
                          RealClock::Get().WallNow(), rt->api_version(), rt->name_priority);
      if (!first_table) t.erase("columnDefinitions");
      first_table = false;
      line = json({{"type", ev->type}, {"object", t}})
                 .dump(-1, ' ', false, json::error_handler_t::replace);
    } else {
      line = R"({"type":")" + ev->type + R"(","object":)" + Render(*rt, *ev->object) + "}";
    }
    line += '\n';
    if (!writer->Write(line)) break;
  }
  store_.Unregister(watcher);
  writer->Close();
  // Notify under the lock: Shutdown() may destroy this object as soon as it sees zero.
  std::lock_guard lock(mu_);
  --active_watches_;
  done_cv_.notify_all();
}

void ResourceHandler::HandleWrite(const Target& t, const http::ServerRequest& req,
                                  http::Responder& res) {
  const std::string& m = req.method;
  // apiserver reads at most MaxRequestBodyBytes of a write's body.
  if (req.body.size() > kMaxRequestBodyBytes) return SendError(res, RequestEntityTooLarge());
  const bool status = t.sub == "status";
  auto wo = WriteOptionsFor(req, status);
  if (!wo.ok()) return SendError(res, wo.error());
  auto reply = [&](const ApiOr<WriteResult>& r) {
    if (!r.ok()) return SendError(res, r.error());
    SendJson(res, r->http_status, Render(*t.rt, *r->object), r->warnings);
  };
  if (m == "POST") {
    if (!t.name.empty() || (t.rt->namespaced && t.ns.empty()))
      return SendError(res, ApiError::MethodNotAllowed(
                                "the server does not allow this method on the requested resource"));
    auto body = ParseBody(req, t.rt->kind);
    if (!body.ok()) return SendError(res, body.error());
    return reply(store_.Create(*t.rt, t.ns, std::move(body.value()), *wo));
  }
  if (m == "PUT") {
    if (t.name.empty())
      return SendError(res, ApiError::MethodNotAllowed(
                                "the server does not allow this method on the requested resource"));
    auto body = ParseBody(req, t.rt->kind);
    if (!body.ok()) return SendError(res, body.error());
    return reply(store_.Update(*t.rt, t.ns, t.name, std::move(body.value()), *wo));
  }
  if (m == "PATCH") {
    if (t.name.empty())
      return SendError(res, ApiError::MethodNotAllowed(
                                "the server does not allow this method on the requested resource"));
    PatchType type;
    if (!ParsePatchType(req.headers.Get("Content-Type"), &type))
      return SendError(res, ApiError::UnsupportedMediaType(
                                "the body of the request was in an unknown format - accepted media "
                                "types include: application/json-patch+json, "
                                "application/merge-patch+json, application/apply-patch+yaml, "
                                "application/strategic-merge-patch+json"));
    if (type != PatchType::kApply) {
      if (auto too_deep = CheckJsonDepth(req.body, t.rt->kind)) return SendError(res, *too_deep);
    }
    return reply(store_.Patch(*t.rt, t.ns, t.name, type, req.body, *wo));
  }
  // DELETE
  DeleteOptions d;
  d.propagation = Param(req, "propagationPolicy");
  d.dry_run = Param(req, "dryRun") == "All";
  if (!Param(req, "gracePeriodSeconds").empty()) {
    try {
      d.grace_period_seconds = std::stoll(Param(req, "gracePeriodSeconds"));
    } catch (const std::exception&) {
      return SendError(res, ApiError::BadRequest("invalid gracePeriodSeconds"));
    }
  }
  if (!req.body.empty()) {
    if (auto too_deep = CheckJsonDepth(req.body, "DeleteOptions")) return SendError(res, *too_deep);
    try {
      json b = json::parse(req.body);
      if (b.contains("propagationPolicy") && b["propagationPolicy"].is_string())
        d.propagation = b["propagationPolicy"].get<std::string>();
      if (b.contains("orphanDependents") && b["orphanDependents"].is_boolean() &&
          d.propagation.empty())
        d.propagation = b["orphanDependents"].get<bool>() ? "Orphan" : "Background";
      if (auto p = b.find("preconditions"); p != b.end() && p->is_object()) {
        if (p->contains("uid") && (*p)["uid"].is_string())
          d.precondition_uid = (*p)["uid"].get<std::string>();
        if (p->contains("resourceVersion") && (*p)["resourceVersion"].is_string())
          d.precondition_rv = (*p)["resourceVersion"].get<std::string>();
      }
      if (b.contains("gracePeriodSeconds") && b["gracePeriodSeconds"].is_number_integer())
        d.grace_period_seconds = b["gracePeriodSeconds"].get<int64_t>();
      if (auto dr = b.find("dryRun"); dr != b.end() && dr->is_array())
        for (const auto& x : *dr) d.dry_run = d.dry_run || x == "All";
    } catch (const json::exception& e) {
      return SendError(res,
                       ApiError::BadRequest(std::string("invalid DeleteOptions: ") + e.what()));
    }
  }
  if (t.name.empty()) {
    auto lo = ListOptionsFor(*t.rt, req);
    if (!lo.ok()) return SendError(res, lo.error());
    auto r = store_.DeleteCollection(*t.rt, t.ns, *lo, d);
    if (!r.ok()) return SendError(res, r.error());
    std::string body =
        R"({"kind":)" + json(t.rt->list_kind).dump(-1, ' ', false, json::error_handler_t::replace) +
        R"(,"apiVersion":)" +
        json(t.rt->api_version()).dump(-1, ' ', false, json::error_handler_t::replace) +
        R"(,"metadata":{"resourceVersion":")" + std::to_string(r->rv) + R"("},"items":[)";
    for (size_t i = 0; i < r->items.size(); ++i)
      body += (i ? "," : "") + Render(*t.rt, *r->items[i]);
    return SendJson(res, 200, body + "]}");
  }
  auto r = store_.Delete(*t.rt, t.ns, t.name, d);
  if (!r.ok()) return SendError(res, r.error());
  if (r->removed && !t.rt->return_deleted_object) {
    json details = {{"name", t.name},
                    {"kind", t.rt->plural},
                    {"uid", r->object->obj["metadata"].value("uid", "")}};
    if (!t.rt->group.empty()) details["group"] = t.rt->group;
    return SendJson(res, 200,
                    json({{"kind", "Status"},
                          {"apiVersion", "v1"},
                          {"metadata", json::object()},
                          {"status", "Success"},
                          {"details", details}})
                        .dump(-1, ' ', false, json::error_handler_t::replace));
  }
  SendJson(res, r->http_status, Render(*t.rt, *r->object));
}

}  // namespace vmrelease::apiserver

namespace vmrelease::apiserver {
namespace {

std::vector<std::string> ContainerNames(const nlohmann::json& spec, const char* list) {
  std::vector<std::string> out;
  auto it = spec.find(list);
  if (it != spec.end() && it->is_array())
    for (const auto& c : *it)
      if (c.is_object()) out.push_back(c.value("name", ""));
  return out;
}

std::string Bracketed(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? " " : "") + names[i];
  return out + "]";
}

// The last `n` lines of `text` (a final line without newline counts).
std::string TailLines(const std::string& text, int64_t n) {
  if (n < 0) return text;
  if (n == 0) return "";
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int64_t lines = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++lines == n) break;
  }
  return text.substr(pos);
}

}  // namespace

void ResourceHandler::HandleLog(const Target& t, const http::ServerRequest& req,
                                http::Responder& res) {
  auto o = store_.Get(*t.rt, t.ns, t.name);
  if (!o.ok()) return SendError(res, o.error());
  const nlohmann::json& pod = (*o)->obj;
  const nlohmann::json spec = pod.value("spec", nlohmann::json::object());
  const auto containers = ContainerNames(spec, "containers");
  const auto inits = ContainerNames(spec, "initContainers");
  std::string container = Param(req, "container");
  if (container.empty()) {
    const auto annotations = pod["metadata"].value("annotations", nlohmann::json::object());
    const std::string def = annotations.value("kubectl.kubernetes.io/default-container", "");
    if (containers.size() == 1) {
      container = containers[0];
    } else if (!def.empty()) {
      container = def;
    } else {
      std::string msg = "a container name must be specified for pod " + t.name +
                        ", choose one of: " + Bracketed(containers);
      if (!inits.empty()) msg += " or one of the init containers: " + Bracketed(inits);
      return SendError(res, ApiError::BadRequest(msg));
    }
  }
  if (std::find(containers.begin(), containers.end(), container) == containers.end() &&
      std::find(inits.begin(), inits.end(), container) == inits.end())
    return SendError(
        res, ApiError::BadRequest("container " + container + " is not valid for pod " + t.name));
  if (!Param(req, "sinceSeconds").empty() || !Param(req, "sinceTime").empty() ||
      TrueParam(req, "timestamps"))
    return SendError(
        res, ApiError::BadRequest("the local API server keeps no log timestamps: sinceSeconds, "
                                  "sinceTime and timestamps are not supported"));
  int64_t tail = -1, limit = -1;
  try {
    if (!Param(req, "tailLines").empty()) tail = std::stoll(Param(req, "tailLines"));
    if (!Param(req, "limitBytes").empty()) limit = std::stoll(Param(req, "limitBytes"));
  } catch (const std::exception&) {
    return SendError(res, ApiError::BadRequest("tailLines and limitBytes must be integers"));
  }
  const bool previous = TrueParam(req, "previous");
  const LogKey key{t.ns, t.name, pod["metadata"].value("uid", ""), container};
  auto snap = logs_.Read(key, previous);
  if (!snap) {
    if (previous)
      return SendError(res, ApiError::BadRequest("previous terminated container \"" + container +
                                                 "\" in pod \"" + t.name + "\" not found"));
    // Nothing uploaded: like the kubelet for a container that has not started.
    std::string waiting = "ContainerCreating";
    bool started = false;
    const auto status = pod.value("status", nlohmann::json::object());
    for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
      for (const auto& cs : status.value(list, nlohmann::json::array())) {
        if (!cs.is_object() || cs.value("name", "") != container) continue;
        const auto state = cs.value("state", nlohmann::json::object());
        if (state.contains("running") || state.contains("terminated")) started = true;
        if (state.contains("waiting") && state["waiting"].is_object())
          waiting = state["waiting"].value("reason", waiting);
      }
    }
    if (!started)
      return SendError(res, ApiError::BadRequest("container \"" + container + "\" in pod \"" +
                                                 t.name + "\" is waiting to start: " + waiting));
    snap = PodLogs::Snapshot{};
  }
  std::string text = TailLines(snap->text, tail);
  if (limit >= 0 && static_cast<int64_t>(text.size()) > limit) text.resize(limit);
  const http::Headers headers{{"Content-Type", "text/plain"},
                              {"Cache-Control", "no-cache, private"}};
  if (!TrueParam(req, "follow") || previous || snap->final ||
      (limit >= 0 && static_cast<int64_t>(text.size()) >= limit))
    return res.Send(200, headers, text);
  auto writer = res.Stream(200, headers);
  if (!text.empty() && !writer->Write(text)) return writer->Close();
  if (shutting_down_) return writer->Close();
  ++active_watches_;
  const int64_t left = limit < 0 ? -1 : limit - static_cast<int64_t>(text.size());
  std::thread(&ResourceHandler::RunLogFollow, this, key, snap->size, left, writer).detach();
}

void ResourceHandler::RunLogFollow(LogKey key, int64_t size, int64_t limit_left,
                                   std::shared_ptr<http::ChunkWriter> writer) {
  while (!shutting_down_ && !writer->closed()) {
    logs_.WaitForMore(key, size, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    auto snap = logs_.Read(key, false);
    if (!snap) break;  // the Pod is gone
    if (snap->size > size) {
      const auto fresh = static_cast<size_t>(
          std::min<int64_t>(snap->size - size, static_cast<int64_t>(snap->text.size())));
      std::string chunk = snap->text.substr(snap->text.size() - fresh);
      if (limit_left >= 0 && static_cast<int64_t>(chunk.size()) > limit_left)
        chunk.resize(limit_left);
      if (!chunk.empty() && !writer->Write(chunk)) break;
      if (limit_left >= 0 && (limit_left -= static_cast<int64_t>(chunk.size())) <= 0) break;
      size = snap->size;
    }
    if (snap->final && snap->size == size) break;
  }
  writer->Close();
  std::lock_guard lock(mu_);
  --active_watches_;
  done_cv_.notify_all();
}

}  // namespace vmrelease::apiserver
