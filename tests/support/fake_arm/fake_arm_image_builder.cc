// Fake Microsoft.VirtualMachineImages image templates: create (immutable
// afterwards), run (202 + Azure-AsyncOperation, RunImageTemplate.json) with
// lastRunStatus moving through its sub-states, run outputs (GetRunOutput.json,
// artifactUri for VHD distributes), cancel and delete — refused with Azure's
// OperationNotAllowed while the template is being created or a run is going or
// being cancelled. Runs can be made to last (Options::image_builder_run_duration)
// or to fail with an Azure error (FakeArm::FailImageBuilderRuns).
#include "tests/support/fake_arm/fake_arm_state.h"

namespace vmrelease::fake_arm {
namespace {

constexpr const char* kBuilderApi = "2025-10-01";
constexpr const char* kTemplateType = "Microsoft.VirtualMachineImages/imageTemplates";
constexpr const char* kOutputType = "Microsoft.VirtualMachineImages/imageTemplates/runOutputs";

Reply PutTemplate(FakeArm::State& s, const ArmPath& p, const nlohmann::json& request) {
  const std::string key = Lower(p.Id());
  if (request.value(nlohmann::json::json_pointer("/identity/type"), "") != "UserAssigned" ||
      request
          .value(nlohmann::json::json_pointer("/identity/userAssignedIdentities"),
                 nlohmann::json::object())
          .empty())
    return ErrorReply(
        400, "InvalidParameter",
        "Image templates need a user-assigned identity (identity.type UserAssigned).");
  const nlohmann::json props = request.value("properties", nlohmann::json::object());
  if (props.value(nlohmann::json::json_pointer("/source/type"), "").empty())
    return ErrorReply(400, "InvalidParameter", "properties.source.type is required.");
  if (props.value("distribute", nlohmann::json::array()).empty())
    return ErrorReply(400, "InvalidParameter", "properties.distribute needs at least one target.");
  if (auto it = s.resources.find(key); it != s.resources.end()) {
    nlohmann::json have = it->second.body["properties"];
    for (const char* ro : {"provisioningState", "lastRunStatus"}) have.erase(ro);
    if (have.contains("source")) have["source"].erase("exactVersion");
    if (have != props)
      return ErrorReply(409, "Conflict",
                        "Update/Upgrade of image templates is currently not supported. Please "
                        "change the name of the template you are submitting.");
    return Reply{.status = 200, .body = it->second.body};
  }
  nlohmann::json body = ExampleBody("CreateImageTemplateLinux.json");
  body["id"] = p.Id();
  body["name"] = p.Name();
  body["type"] = kTemplateType;
  body["location"] = request.value("location", "");
  body.erase("tags");
  if (request.contains("tags")) body["tags"] = request["tags"];
  body["identity"] = request["identity"];
  for (auto& [id, v] : body["identity"]["userAssignedIdentities"].items())
    v = {{"clientId", NewUuid()}, {"principalId", NewUuid()}};
  body["properties"] = props;
  body["properties"]["provisioningState"] = "Creating";
  // Like Azure: a "latest" platform image is resolved and recorded read-only.
  if (props["source"].value("type", "") == "PlatformImage" &&
      props["source"].value("version", "") == "latest")
    body["properties"]["source"]["exactVersion"] = "16.0.240710";
  s.resources[key] = StoredResource{.id = p.Id(), .type = kTemplateType, .body = body};
  const std::string op = s.StartOp("PUT", key, p, body["location"]);
  Reply r{.status = 201, .body = body};
  s.AddPollingHeaders(s.ops[op], true, false, r);
  return r;
}

Reply RunTemplate(FakeArm::State& s, const ArmPath& p) {
  const std::string key = Lower(p.Id());
  auto it = s.resources.find(key);
  if (it == s.resources.end()) return NotFound(p);
  StoredResource& t = it->second;
  if (t.body["properties"].value("provisioningState", "") != "Succeeded")
    return ErrorReply(409, "Conflict",
                      "The image template is not ready (provisioningState " +
                          t.body["properties"].value("provisioningState", "") + ").");
  const std::string name = Lower(p.Name());
  if (!t.pending_op.empty()) {
    ++s.image_builder_overlapping_runs;
    return ErrorReply(409, "Conflict", "A build of this image template is already running.");
  }
  ++t.runs;
  ++s.image_builder_runs[name];
  t.body["properties"]["lastRunStatus"] = {{"startTime", s.NowText()},
                                           {"runState", "Running"},
                                           {"runSubState", "Queued"},
                                           {"message", ""}};
  // Outputs of an earlier run are replaced by this run's.
  for (auto o = s.resources.begin(); o != s.resources.end();) {
    o = o->first.rfind(key + "/runoutputs/", 0) == 0 ? s.resources.erase(o) : std::next(o);
  }
  const std::string op = s.StartOp("POST", key, p, t.body.value("location", ""), "run");
  PendingOp& run = s.ops[op];
  for (const auto& f : s.run_failures) {
    if (name.find(f.name_contains) == std::string::npos) continue;
    run.failure = OperationFailure{.code = f.code, .message = f.message};
    break;
  }
  if (s.opts.image_builder_run_duration > Duration::zero() && !run.done) {
    run.not_before = run.start_time + s.opts.image_builder_run_duration;
    run.total_polls = run.polls_left = 1;
  }
  Reply r{.status = 202};
  s.AddPollingHeaders(s.ops[op], true, false, r);
  return r;
}

Reply CancelTemplate(FakeArm::State& s, const ArmPath& p) {
  const std::string key = Lower(p.Id());
  auto it = s.resources.find(key);
  if (it == s.resources.end()) return NotFound(p);
  StoredResource& t = it->second;
  if (t.pending_op.empty() || s.ops[t.pending_op].action != "run")
    return ErrorReply(409, "Conflict", "No build of this image template is running.");
  PendingOp& run = s.ops[t.pending_op];
  run.failure = OperationFailure{.code = "Canceled", .message = "The build was canceled."};
  run.polls_left = 1;
  run.not_before.reset();
  t.body["properties"]["lastRunStatus"]["runState"] = "Canceling";
  s.Observe(run);
  Reply r{.status = 202};
  // Cancelling is quick: the operation is over by the first poll.
  PendingOp cancel;
  cancel.id = NewUuid();
  cancel.method = "POST";
  cancel.action = "cancel";
  cancel.resource_key = key;
  cancel.location = run.location;
  cancel.ns = run.ns;
  cancel.subscription = run.subscription;
  cancel.done = true;
  cancel.status = "Succeeded";
  cancel.start_time = cancel.end_time = s.Now();
  s.ops[cancel.id] = cancel;
  s.AddPollingHeaders(cancel, true, false, r);
  return r;
}

nlohmann::json TemplateView(FakeArm::State& s, const StoredResource& t) {
  nlohmann::json body = t.body;
  if (!t.pending_op.empty()) {
    const PendingOp& op = s.ops[t.pending_op];
    if (op.action == "run" && !op.done && op.total_polls > 0) {
      static const char* kSubStates[] = {"Queued", "Building", "Customizing", "Distributing"};
      const int done = op.total_polls - op.polls_left;
      body["properties"]["lastRunStatus"]["runSubState"] =
          kSubStates[std::min(3, done * 4 / op.total_polls)];
    }
  }
  return body;
}

}  // namespace

Reply HandleImageBuilder(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p) {
  auto api = req.params.find("api-version");
  if (api == req.params.end() || api->second != kBuilderApi)
    return ErrorReply(400, "InvalidApiVersionParameter",
                      "The api-version '" + (api == req.params.end() ? "" : api->second) +
                          "' is invalid. The supported versions are '" + kBuilderApi + "'.");
  if (Lower(p.segments[0].first) != "imagetemplates")
    return ErrorReply(400, "InvalidResourceType", "The fake does not serve " + p.Type() + ".");
  const std::string key = Lower(p.Id());
  if (p.segments.size() == 2) {  // runOutputs/{name}
    if (Lower(p.segments[1].first) != "runoutputs" || req.method != "GET")
      return ErrorReply(400, "InvalidResourceType", "The fake does not serve " + p.Type() + ".");
    auto it = s.resources.find(key);
    if (it == s.resources.end())
      return ErrorReply(404, "ResourceNotFound", "Run output " + p.Name() + " was not found.");
    return Reply{.status = 200, .body = it->second.body};
  }
  if (!p.action.empty()) {
    if (req.method != "POST") return ErrorReply(405, "MethodNotAllowed", "Use POST.");
    if (Lower(p.action) == "run") return RunTemplate(s, p);
    if (Lower(p.action) == "cancel") return CancelTemplate(s, p);
    return ErrorReply(400, "InvalidAction", "Unknown action " + p.action + ".");
  }
  if (req.method == "GET") {
    StoredResource* found = s.FindObserved(key);
    if (found == nullptr) return NotFound(p);
    return Reply{.status = 200, .body = TemplateView(s, *found)};
  }
  if (req.method == "PUT") {
    nlohmann::json request;
    try {
      request = nlohmann::json::parse(req.body);
    } catch (const nlohmann::json::exception&) {
      return ErrorReply(400, "InvalidRequestContent", "The request content could not be parsed.");
    }
    return PutTemplate(s, p, request);
  }
  if (req.method == "DELETE") {
    auto it = s.resources.find(key);
    if (it == s.resources.end()) return Reply{.status = 204};
    if (!it->second.pending_op.empty()) {
      // Azure's answer while a build runs or is being cancelled (also while the template is
      // still being created): the caller must wait and delete again.
      const PendingOp& busy = s.ops[it->second.pending_op];
      const std::string run_state =
          busy.action == "run"
              ? Lower(it->second.body["properties"]["lastRunStatus"].value("runState", "running"))
              : "";
      if (busy.method == "PUT")
        return ErrorReply(409, "OperationNotAllowed",
                          "Operation 'DELETE' is not allowed in provisioningState: 'creating'");
      return ErrorReply(409, "OperationNotAllowed",
                        "Operation Microsoft.VirtualMachineImages/imageTemplates/delete is not "
                        "allowed in provisioning state: provisioned or run state: " +
                            (run_state.empty() ? std::string("running") : run_state) + ".");
    }
    const std::string op = s.StartOp("DELETE", key, p, it->second.body.value("location", ""));
    Reply r{.status = 202};
    s.AddPollingHeaders(s.ops[op], false, true, r);
    return r;
  }
  return ErrorReply(405, "MethodNotAllowed", req.method + " is not supported here by the fake.");
}

void FinishImageBuilderOp(FakeArm::State& s, PendingOp& op) {
  auto it = s.resources.find(op.resource_key);
  if (it == s.resources.end()) return;
  StoredResource& t = it->second;
  const bool ok = op.status == "Succeeded";
  if (op.method == "DELETE") {
    if (!ok) return;
    for (auto o = s.resources.begin(); o != s.resources.end();)
      o = o->first.rfind(op.resource_key + "/", 0) == 0 ? s.resources.erase(o) : std::next(o);
    s.resources.erase(op.resource_key);
    return;
  }
  if (op.method == "PUT") {
    t.body["properties"]["provisioningState"] = ok ? "Succeeded" : "Failed";
    return;
  }
  if (op.action != "run") return;
  nlohmann::json& last = t.body["properties"]["lastRunStatus"];
  last["endTime"] = s.NowText();
  last["runSubState"] = "";
  if (!ok) {
    const bool canceled = op.error.value("code", "") == "Canceled";
    if (canceled) op.status = "Canceled";
    last["runState"] = canceled ? "Canceled" : "Failed";
    last["message"] = op.error.value("message", "");
    return;
  }
  last["runState"] = "Succeeded";
  last["message"] = "";
  const std::string name = t.body.value("name", "template");
  for (const auto& d : t.body["properties"].value("distribute", nlohmann::json::array())) {
    const std::string out_name = d.value("runOutputName", "");
    if (out_name.empty()) continue;
    const std::string id = t.id + "/runOutputs/" + out_name;
    nlohmann::json out = ExampleBody("GetRunOutput.json", "200");
    out["id"] = id;
    out["name"] = out_name;
    out["type"] = kOutputType;
    out["properties"] = {{"provisioningState", "Succeeded"}};
    const std::string type = d.value("type", "");
    if (type == "VHD") {
      out["properties"]["artifactUri"] = s.vhd_output ? s.vhd_output(name, t.runs)
                                                      : s.opts.vhd_output_base + "/" + name + "-" +
                                                            std::to_string(t.runs) + ".vhd";
    } else if (type == "ManagedImage") {
      out["properties"]["artifactId"] = d.value("imageId", "");
    } else {
      out["properties"]["artifactId"] = d.value("galleryImageId", "");
    }
    s.resources[Lower(id)] = StoredResource{.id = id, .type = kOutputType, .body = out};
  }
}

}  // namespace vmrelease::fake_arm
