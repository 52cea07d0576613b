// Server glue of the fake ARM: routing, authentication, fault injection,
// counters and the generic long-running operation machinery. Resource
// behaviour lives in fake_arm_{gallery,compute,network,image_builder}.cc and
// the identity endpoints in fake_arm_identity.cc.
#include "tests/support/fake_arm/fake_arm.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "tests/support/fake_arm/fake_arm_state.h"

namespace vmrelease::fake_arm {
namespace {

bool Is(const std::string& a, const char* b) { return Lower(a) == Lower(b); }

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

std::string NormalizeLocation(std::string loc) {
  std::string out;
  for (char c : loc)
    if (!std::isspace(static_cast<unsigned char>(c)))
      out.push_back(static_cast<char>(std::tolower(c)));
  return out.empty() ? "westus" : out;
}

bool IsManagementAudience(const std::string& aud) {
  const std::string a = Lower(aud);
  return a == "https://management.azure.com/.default" || a == "https://management.azure.com/" ||
         a == "https://management.azure.com" || a == "https://management.core.windows.net/";
}

Reply FaultReply(FakeArm::State& s, FaultKind kind) {
  Reply r;
  switch (kind) {
    case FaultKind::kThrottle429:
      r = ErrorReply(429, "TooManyRequests",
                     "The request is being throttled as the limit has been reached for operation "
                     "type - Read_ObservationWindow_00:05:00.");
      r.headers.Set("Retry-After", std::to_string(s.opts.throttle_retry_after_seconds));
      break;
    case FaultKind::kUnavailable503:
      r = ErrorReply(503, "ServiceUnavailable", "The service is temporarily unavailable.");
      r.headers.Set("Retry-After", std::to_string(s.opts.throttle_retry_after_seconds));
      break;
    default:
      r = ErrorReply(500, "InternalServerError", "Encountered internal server error.");
      break;
  }
  return r;
}

void SendReply(const http::ServerRequest& req, http::Responder& res, Reply r, bool echo = false) {
  if (echo && r.status >= 400 && r.body.is_object() && r.body.contains("error") &&
      r.body["error"].is_object() &&
      r.body["error"].value("message", nlohmann::json()).is_string()) {
    std::string& m = r.body["error"]["message"].get_ref<std::string&>();
    m += " (received " + req.method + " " + req.path +
         " with Authorization: " + req.headers.Get("Authorization") +
         "; body: " + req.body.substr(0, 512) + ")";
  }
  r.headers.Set("x-ms-request-id", NewUuid());
  const std::string corr = req.headers.Get("x-ms-correlation-request-id");
  r.headers.Set("x-ms-correlation-request-id", corr.empty() ? NewUuid() : corr);
  if (Is(req.headers.Get("x-ms-return-client-request-id"), "true"))
    r.headers.Set("x-ms-client-request-id", req.headers.Get("x-ms-client-request-id"));
  std::string body;
  if (!r.body.is_null()) {
    r.headers.Set("Content-Type", "application/json; charset=utf-8");
    body = r.body.dump();
  }
  res.Send(r.status, r.headers, std::move(body));
}

}  // namespace

// --- helpers --------------------------------------------------------------------

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Reply ErrorReply(int status, const std::string& code, const std::string& message,
                 const std::string& target) {
  Reply r{.status = status, .body = {{"error", {{"code", code}, {"message", message}}}}};
  if (!target.empty()) r.body["error"]["target"] = target;
  return r;
}

Reply NotFound(const ArmPath& p) {
  return ErrorReply(404, "ResourceNotFound",
                    "The Resource '" + p.ns + "/" + p.segments.front().first + "/" +
                        p.segments.front().second + "' under resource group '" + p.resource_group +
                        "' was not found. For more details please go to "
                        "https://aka.ms/ARMResourceNotFoundFix");
}

nlohmann::json ExampleBody(const std::string& file, const std::string& status) {
  const nlohmann::json& e = Example(file);
  return e.at("responses").at(status).value("body", nlohmann::json::object());
}

void CopyMissing(nlohmann::json& to, const nlohmann::json& from,
                 const std::vector<std::string>& pointers) {
  for (const auto& ptr : pointers) {
    const nlohmann::json::json_pointer p(ptr);
    if (from.contains(p) && !to.contains(p)) to[p] = from.at(p);
  }
}

std::string NewUuid() {
  const std::string h = RandomHex(32);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-4" + h.substr(13, 3) + "-a" + h.substr(17, 3) +
         "-" + h.substr(20, 12);
}

std::string ArmPath::Type() const {
  std::string t = ns;
  for (const auto& [type, name] : segments) t += "/" + type;
  return t;
}

std::string ArmPath::Id() const {
  std::string id =
      "/subscriptions/" + subscription + "/resourceGroups/" + resource_group + "/providers/" + ns;
  for (const auto& [type, name] : segments) id += "/" + type + "/" + name;
  return id;
}

std::string ArmPath::ParentId() const {
  if (segments.size() < 2) return "";
  ArmPath parent = *this;
  parent.segments.pop_back();
  return parent.Id();
}

bool ParseArmPath(const std::string& path, ArmPath* out) {
  const std::vector<std::string> seg = Split(path);
  *out = ArmPath{};
  if (seg.size() < 2 || !Is(seg[0], "subscriptions")) return false;
  out->subscription = seg[1];
  // Operation status:
  // /subscriptions/{s}/providers/{ns}/locations/{l}/{operations|operationResults}/{id}
  if (seg.size() == 8 && Is(seg[2], "providers") && Is(seg[4], "locations") &&
      (Is(seg[6], "operations") || Is(seg[6], "operationResults"))) {
    out->is_operation = true;
    out->ns = seg[3];
    out->location = seg[5];
    out->operation_kind = Is(seg[6], "operations") ? "operations" : "operationResults";
    out->operation_id = seg[7];
    return true;
  }
  if (seg.size() < 7 || !Is(seg[2], "resourceGroups") || !Is(seg[4], "providers")) return false;
  out->resource_group = seg[3];
  out->ns = seg[5];
  size_t i = 6;
  for (; i + 1 < seg.size(); i += 2) out->segments.emplace_back(seg[i], seg[i + 1]);
  if (i < seg.size()) out->action = seg[i];
  return !out->segments.empty();
}

// --- operations -----------------------------------------------------------------

std::string FakeArm::State::StartOp(const std::string& method, const std::string& key,
                                    const ArmPath& p, const std::string& location,
                                    const std::string& action) {
  PendingOp op;
  op.id = NewUuid();
  op.method = method;
  op.resource_key = key;
  op.action = action;
  op.location = NormalizeLocation(location);
  op.ns = p.ns;
  op.subscription = p.subscription;
  op.total_polls = std::max(0, opts.lro_polls);
  op.polls_left = op.total_polls;
  op.start_time = Now();
  for (auto it = failures.begin(); it != failures.end(); ++it) {
    if ((it->method.empty() || it->method == method) &&
        key.find(Lower(it->id_contains)) != std::string::npos) {
      op.failure = *it;
      failures.erase(it);
      break;
    }
  }
  const std::string id = op.id;
  ops[id] = std::move(op);
  if (auto r = resources.find(key); r != resources.end()) r->second.pending_op = id;
  // Zero polls: the operation is over before anyone asks.
  if (ops[id].total_polls == 0) {
    ops[id].polls_left = 1;
    Observe(ops[id]);
  }
  return id;
}

StoredResource* FakeArm::State::FindObserved(const std::string& key) {
  auto it = resources.find(key);
  if (it != resources.end() && !it->second.pending_op.empty()) Observe(ops[it->second.pending_op]);
  it = resources.find(key);
  return it == resources.end() ? nullptr : &it->second;
}

void FakeArm::State::Observe(PendingOp& op) {
  if (op.done) return;
  if (op.not_before && Now() < *op.not_before) return;
  if (--op.polls_left > 0) return;
  op.done = true;
  op.end_time = Now();
  if (op.failure) {
    op.status = "Failed";
    op.error = {{"code", op.failure->code}, {"message", op.failure->message}};
    op.failure_http_status = op.failure->http_status;
  } else if (op.status == "InProgress") {
    op.status = "Succeeded";
  }
  if (auto r = resources.find(op.resource_key);
      r != resources.end() && r->second.pending_op == op.id)
    r->second.pending_op.clear();
  if (Is(op.ns, "Microsoft.Compute")) {
    FinishComputeOp(*this, op);
  } else if (Is(op.ns, "Microsoft.Network")) {
    FinishNetworkOp(*this, op);
  } else if (Is(op.ns, "Microsoft.VirtualMachineImages")) {
    FinishImageBuilderOp(*this, op);
  }
}

void FakeArm::State::AddPollingHeaders(const PendingOp& op, bool async, bool location,
                                       Reply& r) const {
  const std::string base = base_url + "/subscriptions/" + op.subscription + "/providers/" + op.ns +
                           "/locations/" + op.location;
  if (async)
    r.headers.Set("Azure-AsyncOperation",
                  base + "/operations/" + op.id + "?api-version=2025-11-01");
  if (location)
    r.headers.Set("Location",
                  base + "/operationResults/" + op.id + "?monitor=true&api-version=2025-11-01");
  if (opts.retry_after_seconds > 0)
    r.headers.Set("Retry-After", std::to_string(opts.retry_after_seconds));
}

Reply HandleOperation(FakeArm::State& s, const ArmPath& p) {
  auto it = s.ops.find(p.operation_id);
  if (it == s.ops.end())
    return ErrorReply(404, "OperationNotFound", "Operation " + p.operation_id + " not found.");
  PendingOp& op = it->second;
  s.Observe(op);
  const int percent =
      op.total_polls == 0 ? 100 : 100 * (op.total_polls - op.polls_left) / op.total_polls;
  if (p.operation_kind == "operations") {
    Reply r{.status = 200,
            .body = {{"id", "/subscriptions/" + op.subscription + "/providers/" + op.ns +
                                "/locations/" + op.location + "/operations/" + op.id},
                     {"name", op.id},
                     {"status", op.status},
                     {"startTime", FormatRfc3339(op.start_time)}}};
    if (op.done) {
      r.body["endTime"] = FormatRfc3339(op.end_time);
      if (!op.error.is_null()) r.body["error"] = op.error;
    } else {
      r.body["percentComplete"] = percent;
      if (s.opts.retry_after_seconds > 0)
        r.headers.Set("Retry-After", std::to_string(s.opts.retry_after_seconds));
    }
    return r;
  }
  // Location semantics: 202 while running, then what the synchronous call would have returned.
  if (!op.done) {
    Reply r{.status = 202};
    s.AddPollingHeaders(op, false, true, r);
    return r;
  }
  if (op.status != "Succeeded") {
    return Reply{.status = op.failure_http_status, .body = {{"error", op.error}}};
  }
  if (op.method == "PUT" || op.method == "PATCH") {
    auto r = s.resources.find(op.resource_key);
    if (r != s.resources.end()) return Reply{.status = 200, .body = r->second.body};
  }
  return Reply{.status = 204};
}

// --- the server -----------------------------------------------------------------

namespace {

enum class RouteKind { kArm, kOperation, kEntra, kImds, kStats, kUnknown };

// Runs the request against the state (authentication first) and fills `reply`.
void Handle(FakeArm::State& s, RouteKind kind, const ArmPath& p, const std::string& tenant,
            const http::ServerRequest& req, Reply& reply) {
  try {
    std::lock_guard g(s.mu);
    switch (kind) {
      case RouteKind::kImds:
        reply = HandleImds(s, req);
        break;
      case RouteKind::kEntra:
        reply = HandleEntraToken(s, req, tenant);
        break;
      case RouteKind::kStats:
        reply = Reply{.status = 200,
                      .body = {{"requests", s.route_counts},
                               {"totalRequests", s.total_requests},
                               {"retriesSeen", s.retries_seen},
                               {"tokensIssued", s.tokens_issued},
                               {"faultsInjected", s.faults_injected},
                               {"resources", s.resources.size()}}};
        break;
      case RouteKind::kUnknown:
        reply = ErrorReply(404, "NotFound", "No route for " + req.method + " " + req.path);
        break;
      case RouteKind::kArm:
      case RouteKind::kOperation: {
        // Authentication first, like ARM's front door.
        const std::string auth = req.headers.Get("Authorization");
        if (auth.rfind("Bearer ", 0) != 0) {
          reply = ErrorReply(401, "AuthenticationFailed",
                             "Authentication failed. The 'Authorization' header is missing.");
          break;
        }
        auto t = s.tokens.find(auth.substr(7));
        if (t == s.tokens.end()) {
          reply = ErrorReply(401, "InvalidAuthenticationToken", "The access token is invalid.");
          break;
        }
        if (t->second.revoked || s.Now() >= t->second.expires) {
          reply =
              ErrorReply(401, "ExpiredAuthenticationToken",
                         "The access token expiry UTC time '" + FormatRfc3339(t->second.expires) +
                             "' is earlier than current UTC time '" + s.NowText() + "'.");
          reply.headers.Set(
              "WWW-Authenticate",
              "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", "
              "error=\"invalid_token\", error_description=\"The access token has "
              "expired.\"");
          break;
        }
        if (!IsManagementAudience(t->second.audience)) {
          reply = ErrorReply(401, "InvalidAuthenticationTokenAudience",
                             "The access token has been obtained for wrong audience or resource '" +
                                 t->second.audience + "'.");
          break;
        }
        if (kind == RouteKind::kOperation) {
          reply = HandleOperation(s, p);
        } else if (Is(p.ns, "Microsoft.Compute")) {
          reply = HandleCompute(s, req, p);
        } else if (Is(p.ns, "Microsoft.Network")) {
          reply = HandleNetwork(s, req, p);
        } else if (Is(p.ns, "Microsoft.VirtualMachineImages")) {
          reply = HandleImageBuilder(s, req, p);
        } else {
          reply = ErrorReply(400, "NoRegisteredProviderFound",
                             "No registered resource provider found for namespace '" + p.ns + "'.");
        }
        break;
      }
    }
  } catch (const nlohmann::json::exception& e) {
    // A body of the wrong shape (e.g. "properties": "x"): ARM answers 400.
    reply = ErrorReply(400, "InvalidRequestContent",
                       std::string("The request content was invalid: ") + e.what());
  } catch (const std::exception& e) {
    log::Error("fake_arm", "handler failed", {{"path", req.path}, {"error", e.what()}});
    reply = ErrorReply(500, "FakeArmBug", e.what());
  }
}

void Dispatch(FakeArm::State& s, const http::ServerRequest& req, http::Responder& res) {
  RouteKind kind = RouteKind::kUnknown;
  ArmPath p;
  std::string route;
  std::string tenant;
  const std::vector<std::string> seg = Split(req.path);
  if (req.path == "/metadata/identity/oauth2/token") {
    kind = RouteKind::kImds;
    route = req.method + " imds";
  } else if (seg.size() == 4 && seg[1] == "oauth2" && seg[2] == "v2.0" && seg[3] == "token") {
    kind = RouteKind::kEntra;
    tenant = seg[0];
    route = req.method + " token";
  } else if (!seg.empty() && seg[0] == "_fake") {
    kind = RouteKind::kStats;
    route = req.method + " _fake";
  } else if (ParseArmPath(req.path, &p)) {
    kind = p.is_operation ? RouteKind::kOperation : RouteKind::kArm;
    route =
        req.method + " " +
        (p.is_operation ? p.operation_kind : p.Type() + (p.action.empty() ? "" : "/" + p.action));
  }

  std::optional<FaultKind> fault;
  {
    std::lock_guard g(s.mu);
    ++s.total_requests;
    ++s.route_counts[route.empty() ? req.method + " unknown" : route];
    const std::string crid = req.headers.Get("x-ms-client-request-id");
    if (!crid.empty()) {
      FakeArm::CallAttempts& call = s.attempts_by_client_request_id[crid];
      if (call.attempts++ > 0) ++s.retries_seen;
      if (call.route.empty()) call.route = route.empty() ? req.method + " unknown" : route;
    }
    const bool identity = kind == RouteKind::kEntra || kind == RouteKind::kImds;
    if (kind != RouteKind::kStats && kind != RouteKind::kUnknown) {
      for (auto it = s.injected.begin(); it != s.injected.end(); ++it) {
        if (req.path.find(it->path_contains) == std::string::npos) continue;
        if (!it->method.empty() && it->method != req.method) continue;
        fault = it->kind;
        if (--it->count <= 0) s.injected.erase(it);
        break;
      }
      if (!fault && s.fault_rate > 0 && !s.fault_kinds.empty() &&
          (!identity || s.faults_on_identity)) {
        std::uniform_real_distribution<double> u(0.0, 1.0);
        if (u(s.rng) < s.fault_rate)
          fault = s.fault_kinds[std::uniform_int_distribution<size_t>(
              0, s.fault_kinds.size() - 1)(s.rng)];
      }
      if (fault) ++s.faults_injected;
    }
  }
  if (fault) {
    if (*fault == FaultKind::kNoAnswer) {
      std::this_thread::sleep_for(s.opts.no_answer_delay);
      res.Abort();
      return;
    }
    if (*fault == FaultKind::kDropConnection) {
      res.Abort();
      return;
    }
    if (*fault == FaultKind::kLostAnswer) {
      Reply ignored;
      Handle(s, kind, p, tenant, req, ignored);  // it happens; nobody hears about it
      res.Abort();
      return;
    }
    if (*fault == FaultKind::kSlowAnswer) {
      Reply reply;
      Handle(s, kind, p, tenant, req, reply);  // it happens now; the answer comes later
      std::this_thread::sleep_for(s.opts.no_answer_delay);
      SendReply(req, res, std::move(reply));
      return;
    }
    Reply r;
    {
      std::lock_guard g(s.mu);
      r = FaultReply(s, *fault);
    }
    SendReply(req, res, std::move(r), s.opts.echo_requests_in_errors);
    return;
  }

  Reply reply;
  Handle(s, kind, p, tenant, req, reply);
  SendReply(req, res, std::move(reply), s.opts.echo_requests_in_errors);
}

}  // namespace

FakeArm::FakeArm() : state_(std::make_unique<State>()) {}

FakeArm::~FakeArm() {
  if (state_->server) state_->server->Stop();
}

StatusOr<std::unique_ptr<FakeArm>> FakeArm::Start(Options options) {
  std::unique_ptr<FakeArm> fake(new FakeArm());
  State& s = *fake->state_;
  s.opts = std::move(options);
  s.clock = s.opts.clock ? s.opts.clock : &RealClock::Get();
  s.rng.seed(s.opts.seed);
  State* raw = &s;
  ASSIGN_OR_RETURN(s.server,
                   http::Server::Start({.host = s.opts.host, .port = s.opts.port},
                                       [raw](const http::ServerRequest& req, http::Responder& res) {
                                         Dispatch(*raw, req, res);
                                       }));
  s.base_url = s.server->base_url();
  return fake;
}

std::string FakeArm::base_url() const { return state_->base_url; }
int FakeArm::port() const { return state_->server->port(); }

void FakeArm::AddApplication(const std::string& tenant, const std::string& client_id,
                             const std::string& client_secret) {
  std::lock_guard g(state_->mu);
  state_->app_secrets[tenant + "/" + client_id] = client_secret;
}

void FakeArm::AddFederatedIdentity(const std::string& tenant, const std::string& client_id) {
  std::lock_guard g(state_->mu);
  state_->federated.insert(tenant + "/" + client_id);
}

void FakeArm::AcceptAssertion(const std::string& assertion) {
  std::lock_guard g(state_->mu);
  state_->good_assertions.insert(assertion);
  state_->expired_assertions.erase(assertion);
}

void FakeArm::ExpireAssertion(const std::string& assertion) {
  std::lock_guard g(state_->mu);
  state_->good_assertions.erase(assertion);
  state_->expired_assertions.insert(assertion);
}

void FakeArm::AddManagedIdentity(const std::string& client_id) {
  std::lock_guard g(state_->mu);
  state_->managed_identities.insert(client_id);
}

void FakeArm::FailImds(int count, int http_status) {
  std::lock_guard g(state_->mu);
  state_->imds_failures = count;
  state_->imds_failure_status = http_status;
}

void FakeArm::ExpireAllTokens() {
  std::lock_guard g(state_->mu);
  for (auto& [_, t] : state_->tokens) t.revoked = true;
}

void FakeArm::SetTokenLifetime(Duration lifetime) {
  std::lock_guard g(state_->mu);
  state_->opts.token_lifetime = lifetime;
}

void FakeArm::AddGallery(const std::string& subscription, const std::string& resource_group,
                         const std::string& gallery, const std::string& location) {
  std::lock_guard g(state_->mu);
  const std::string id = "/subscriptions/" + subscription + "/resourceGroups/" + resource_group +
                         "/providers/Microsoft.Compute/galleries/" + gallery;
  nlohmann::json body = ExampleBody("Gallery_Create.json", "200");
  body["id"] = id;
  body["name"] = gallery;
  body["location"] = location;
  body["type"] = "Microsoft.Compute/galleries";
  body["properties"]["identifier"]["uniqueName"] = subscription + "-" + gallery;
  body["properties"]["provisioningState"] = "Succeeded";
  state_->resources[Lower(id)] =
      StoredResource{.id = id, .type = "Microsoft.Compute/galleries", .body = body};
}

void FakeArm::AddImageDefinition(const std::string& subscription, const std::string& resource_group,
                                 const std::string& gallery, const std::string& image,
                                 const std::string& os_type, const std::string& security_type) {
  std::lock_guard g(state_->mu);
  const std::string gallery_id = "/subscriptions/" + subscription + "/resourceGroups/" +
                                 resource_group + "/providers/Microsoft.Compute/galleries/" +
                                 gallery;
  std::string location = "westeurope";
  if (auto it = state_->resources.find(Lower(gallery_id)); it != state_->resources.end())
    location = it->second.body.value("location", location);
  const std::string id = gallery_id + "/images/" + image;
  nlohmann::json body = ExampleBody("GalleryImage_Create.json", "200");
  body["id"] = id;
  body["name"] = image;
  body["location"] = location;
  body["type"] = "Microsoft.Compute/galleries/images";
  body["properties"]["osType"] = os_type;
  body["properties"]["osState"] = "Generalized";
  body["properties"]["hyperVGeneration"] = "V2";
  body["properties"]["identifier"] = {
      {"publisher", "vmrelease"}, {"offer", gallery}, {"sku", image}};
  if (!security_type.empty())
    body["properties"]["features"] = {{{"name", "SecurityType"}, {"value", security_type}}};
  body["properties"]["provisioningState"] = "Succeeded";
  state_->resources[Lower(id)] =
      StoredResource{.id = id, .type = "Microsoft.Compute/galleries/images", .body = body};
}

bool FakeArm::Exists(const std::string& resource_id) const {
  std::lock_guard g(state_->mu);
  return state_->resources.count(Lower(resource_id)) > 0;
}

std::optional<nlohmann::json> FakeArm::Resource(const std::string& resource_id) const {
  std::lock_guard g(state_->mu);
  auto it = state_->resources.find(Lower(resource_id));
  if (it == state_->resources.end()) return std::nullopt;
  return it->second.body;
}

std::vector<std::string> FakeArm::ResourceIds() const {
  std::lock_guard g(state_->mu);
  std::vector<std::string> out;
  for (const auto& [_, r] : state_->resources) out.push_back(r.id);
  return out;
}

void FakeArm::SetLroPolls(int polls) {
  std::lock_guard g(state_->mu);
  state_->opts.lro_polls = polls;
}

void FakeArm::SetIgnoreIfNoneMatch(bool ignore) {
  std::lock_guard g(state_->mu);
  state_->opts.ignore_if_none_match = ignore;
}

void FakeArm::SetVmDefaultSecurityType(const std::string& security_type) {
  std::lock_guard g(state_->mu);
  state_->opts.vm_default_security_type = security_type;
}

void FakeArm::SetRetryAfterSeconds(int seconds) {
  std::lock_guard g(state_->mu);
  state_->opts.retry_after_seconds = seconds;
}

void FakeArm::AddRunCommandRule(RunCommandRule rule) {
  std::lock_guard g(state_->mu);
  state_->run_rules.push_back(std::move(rule));
}

void FakeArm::ClearRunCommandRules() {
  std::lock_guard g(state_->mu);
  state_->run_rules.clear();
}

void FakeArm::FailNextOperation(OperationFailure failure) {
  std::lock_guard g(state_->mu);
  state_->failures.push_back(std::move(failure));
}

void FakeArm::FailImageBuilderRuns(const std::string& name_contains, const std::string& code,
                                   const std::string& message) {
  std::lock_guard g(state_->mu);
  state_->run_failures.push_back({Lower(name_contains), code, message});
}

void FakeArm::ClearImageBuilderRunFailures() {
  std::lock_guard g(state_->mu);
  state_->run_failures.clear();
}

void FakeArm::SetImageBuilderRunDuration(Duration duration) {
  std::lock_guard g(state_->mu);
  state_->opts.image_builder_run_duration = duration;
  // Runs in progress end at their start plus the new duration.
  for (auto& [id, op] : state_->ops) {
    if (op.action == "run" && !op.done && op.not_before) op.not_before = op.start_time + duration;
  }
}

void FakeArm::SetImageBuilderVhdOutput(VhdOutputFn fn) {
  std::lock_guard g(state_->mu);
  state_->vhd_output = std::move(fn);
}

std::map<std::string, int> FakeArm::ImageBuilderRuns() const {
  std::lock_guard g(state_->mu);
  return state_->image_builder_runs;
}

int FakeArm::ImageBuilderOverlappingRuns() const {
  std::lock_guard g(state_->mu);
  return state_->image_builder_overlapping_runs;
}

void FakeArm::InjectFault(FaultKind kind, int count, const std::string& path_contains,
                          const std::string& method) {
  std::lock_guard g(state_->mu);
  state_->injected.push_back({kind, count, path_contains, method});
}

void FakeArm::SetRandomFaults(double rate, std::vector<FaultKind> kinds, bool include_identity) {
  std::lock_guard g(state_->mu);
  state_->fault_rate = rate;
  state_->fault_kinds = std::move(kinds);
  state_->faults_on_identity = include_identity;
}

int FakeArm::RequestCount(const std::string& route) const {
  std::lock_guard g(state_->mu);
  auto it = state_->route_counts.find(route);
  return it == state_->route_counts.end() ? 0 : it->second;
}

std::map<std::string, int> FakeArm::RequestCounts() const {
  std::lock_guard g(state_->mu);
  return state_->route_counts;
}

int FakeArm::TotalRequests() const {
  std::lock_guard g(state_->mu);
  return state_->total_requests;
}

int FakeArm::RetriesSeen() const {
  std::lock_guard g(state_->mu);
  return state_->retries_seen;
}

std::map<std::string, FakeArm::CallAttempts> FakeArm::AttemptsByClientRequestId() const {
  std::lock_guard g(state_->mu);
  return state_->attempts_by_client_request_id;
}

int FakeArm::TokensIssued() const {
  std::lock_guard g(state_->mu);
  return state_->tokens_issued;
}

std::vector<std::string> FakeArm::OutputBlobUris() const {
  std::lock_guard g(state_->mu);
  return state_->output_blob_uris;
}

int FakeArm::FaultsInjected() const {
  std::lock_guard g(state_->mu);
  return state_->faults_injected;
}

std::vector<std::string> FakeArm::AssertionsSeen() const {
  std::lock_guard g(state_->mu);
  return state_->assertions_seen;
}

std::vector<std::string> FakeArm::IssuedTokens() const {
  std::lock_guard g(state_->mu);
  std::vector<std::string> out;
  for (const auto& [token, _] : state_->tokens) out.push_back(token);
  return out;
}

nlohmann::json FakeArm::Stats() const {
  std::lock_guard g(state_->mu);
  return {{"requests", state_->route_counts},
          {"totalRequests", state_->total_requests},
          {"retriesSeen", state_->retries_seen},
          {"tokensIssued", state_->tokens_issued},
          {"faultsInjected", state_->faults_injected}};
}

void FakeArm::ResetCounters() {
  std::lock_guard g(state_->mu);
  state_->route_counts.clear();
  state_->total_requests = 0;
  state_->retries_seen = 0;
  state_->attempts_by_client_request_id.clear();
  state_->tokens_issued = 0;
  state_->faults_injected = 0;
  state_->assertions_seen.clear();
}

}  // namespace vmrelease::fake_arm
