// Fake Compute Gallery: galleries, image definitions and image versions, with
// replication progressing region by region while an operation runs.
// Shapes: GalleryImage_Create.json, GalleryImageVersion_Create_WithVHD.json,
// GalleryImageVersion_Get_WithReplicationStatus.json.
#include <algorithm>
#include <cctype>

#include "tests/support/fake_arm/fake_arm_state.h"

namespace vmrelease::fake_arm {
namespace {

bool ValidVersionName(const std::string& v) {
  int parts = 0;
  size_t start = 0;
  while (true) {
    size_t dot = v.find('.', start);
    std::string part = v.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || part.size() > 9 ||
        !std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); }))
      return false;
    ++parts;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts == 3;
}

// Fills the defaults ARM adds to a publishingProfile.
void NormalizePublishing(nlohmann::json& body, const std::string& now) {
  nlohmann::json& props = body["properties"];
  nlohmann::json& pub = props["publishingProfile"];
  if (!pub.is_object()) pub = nlohmann::json::object();
  CopyMissing(body, ExampleBody("GalleryImageVersion_Create_WithVHD.json"),
              {"/properties/publishingProfile/replicaCount",
               "/properties/publishingProfile/storageAccountType"});
  pub["publishedDate"] = now;
  if (!pub.contains("excludeFromLatest")) pub["excludeFromLatest"] = false;
  // Each target region keeps its own excludeFromLatest, false unless sent (the
  // examples' read-backs show it on every region, independent of the profile's).
  if (!pub.contains("targetRegions") || pub["targetRegions"].empty())
    pub["targetRegions"] = {
        {{"name", body.value("location", "")}, {"regionalReplicaCount", pub["replicaCount"]}}};
  for (auto& r : pub["targetRegions"]) {
    if (!r.contains("regionalReplicaCount")) r["regionalReplicaCount"] = pub["replicaCount"];
    if (!r.contains("storageAccountType")) r["storageAccountType"] = pub["storageAccountType"];
    if (!r.contains("excludeFromLatest")) r["excludeFromLatest"] = false;
  }
  nlohmann::json& safety = props["safetyProfile"];
  if (!safety.is_object()) safety = nlohmann::json::object();
  if (!safety.contains("allowDeletionOfReplicatedLocations"))
    safety["allowDeletionOfReplicatedLocations"] = true;
  if (!safety.contains("blockDeletionBeforeEndOfLife"))
    safety["blockDeletionBeforeEndOfLife"] = false;
  safety["reportedForPolicyViolation"] = false;
  if (props.contains("storageProfile") && props["storageProfile"].contains("osDiskImage"))
    CopyMissing(body, ExampleBody("GalleryImageVersion_Get_WithReplicationStatus.json", "200"),
                {"/properties/storageProfile/osDiskImage/sizeInGB"});
}

std::vector<std::string> RegionNames(const nlohmann::json& body) {
  std::vector<std::string> out;
  const nlohmann::json::json_pointer ptr("/properties/publishingProfile/targetRegions");
  if (!body.contains(ptr)) return out;
  for (const auto& r : body.at(ptr)) out.push_back(r.value("name", ""));
  return out;
}

std::string Key(const std::string& region) { return Lower(region); }

// A storageProfile without what the server adds (sizeInGB), for comparisons.
nlohmann::json ComparableStorage(nlohmann::json storage) {
  if (storage.is_object() && storage.contains("osDiskImage") && storage["osDiskImage"].is_object())
    storage["osDiskImage"].erase("sizeInGB");
  return storage;
}

Reply CreateVersion(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p,
                    nlohmann::json request) {
  const std::string key = Lower(p.Id());
  if (!s.resources.count(Lower(p.ParentId())))
    return ErrorReply(404, "ParentResourceNotFound",
                      "Can not perform requested operation on nested resource. Parent resource '" +
                          p.segments[0].second + "/" + p.segments[1].second + "' not found.");
  if (!ValidVersionName(p.Name()))
    return ErrorReply(400, "InvalidParameter",
                      "The gallery image version name '" + p.Name() +
                          "' is invalid. It must follow the format Major.Minor.Patch.");
  const std::string uri = request.value(
      nlohmann::json::json_pointer("/properties/storageProfile/osDiskImage/source/uri"), "");
  const std::string account =
      request.value(nlohmann::json::json_pointer(
                        "/properties/storageProfile/osDiskImage/source/storageAccountId"),
                    "");
  const std::string source_id =
      request.value(nlohmann::json::json_pointer("/properties/storageProfile/source/id"), "");
  if ((uri.empty() || account.empty()) && source_id.empty())
    return ErrorReply(400, "InvalidParameter",
                      "Required parameter 'storageProfile.osDiskImage.source' (uri and "
                      "storageAccountId) or 'storageProfile.source.id' is missing.");
  if (!request.contains("location"))
    return ErrorReply(400, "LocationRequired",
                      "The location property is required for this definition.");
  auto existing = s.resources.find(key);
  if (existing != s.resources.end()) {
    if (req.headers.Get("If-None-Match") == "*" && !s.opts.ignore_if_none_match)
      return ErrorReply(412, "PreconditionFailed",
                        "The resource already exists and If-None-Match: * was specified.");
    if (!existing->second.pending_op.empty())
      return ErrorReply(409, "AnotherOperationInProgress",
                        "Another operation on this or a dependent resource is in progress.");
    // Create-or-update: the same content is an update (publishing settings and
    // tags replaced); a different source is refused.
    if (ComparableStorage(existing->second.body["properties"]["storageProfile"]) !=
        ComparableStorage(request["properties"]["storageProfile"]))
      return ErrorReply(409, "PropertyChangeNotAllowed",
                        "Changing property 'galleryImageVersion.properties.storageProfile' is not "
                        "allowed.");
  }
  nlohmann::json body = ExampleBody("GalleryImageVersion_Create_WithVHD.json");
  body["id"] = p.Id();
  body["name"] = p.Name();
  body["type"] = "Microsoft.Compute/galleries/images/versions";
  body["location"] = request["location"];
  if (request.contains("tags")) body["tags"] = request["tags"];
  body["properties"] = request.value("properties", nlohmann::json::object());
  NormalizePublishing(body, s.NowText());
  const bool update = existing != s.resources.end();
  body["properties"]["provisioningState"] = update ? "Updating" : "Creating";
  StoredResource& r = s.resources[key];
  if (!update) r = StoredResource{.id = p.Id(), .type = body["type"]};
  r.body = body;
  const std::string op = s.StartOp("PUT", key, p, body.value("location", ""));
  Reply reply{.status = update ? 200 : 201, .body = s.resources[key].body};
  s.AddPollingHeaders(s.ops[op], true, false, reply);
  return reply;
}

Reply UpdateVersion(FakeArm::State& s, const ArmPath& p, const nlohmann::json& patch) {
  const std::string key = Lower(p.Id());
  auto it = s.resources.find(key);
  if (it == s.resources.end()) return NotFound(p);
  if (!it->second.pending_op.empty())
    return ErrorReply(409, "AnotherOperationInProgress",
                      "Another operation on this or a dependent resource is in progress.");
  nlohmann::json body = it->second.body;
  const nlohmann::json storage_before = body["properties"]["storageProfile"];
  nlohmann::json clean = patch;
  // The server owns these; clients echo what they read.
  if (clean.contains("properties")) clean["properties"].erase("provisioningState");
  body.merge_patch(clean);
  if (ComparableStorage(storage_before) != ComparableStorage(body["properties"]["storageProfile"]))
    return ErrorReply(409, "PropertyChangeNotAllowed",
                      "Changing property 'galleryImageVersion.properties.storageProfile' is not "
                      "allowed.");
  body["properties"]["storageProfile"] = storage_before;
  const std::string published = body["properties"]["publishingProfile"].value("publishedDate", "");
  NormalizePublishing(body, published.empty() ? s.NowText() : published);
  body["properties"]["provisioningState"] = "Updating";
  it->second.body = body;
  const std::string op = s.StartOp("PATCH", key, p, body.value("location", ""));
  Reply reply{.status = 200, .body = body};
  s.AddPollingHeaders(s.ops[op], true, false, reply);
  return reply;
}

Reply DeleteVersion(FakeArm::State& s, const ArmPath& p) {
  const std::string key = Lower(p.Id());
  auto it = s.resources.find(key);
  if (it == s.resources.end()) return Reply{.status = 204};
  const nlohmann::json& props = it->second.body["properties"];
  const bool block = props.value(
      nlohmann::json::json_pointer("/safetyProfile/blockDeletionBeforeEndOfLife"), false);
  const std::string eol =
      props.value(nlohmann::json::json_pointer("/publishingProfile/endOfLifeDate"), "");
  WallTime eol_time;
  if (block && !eol.empty() && ParseRfc3339(eol, &eol_time) && s.Now() < eol_time)
    return ErrorReply(409, "OperationNotAllowed",
                      "Gallery image version " + p.Name() +
                          " cannot be deleted before its end of life date " + eol +
                          " because blockDeletionBeforeEndOfLife is set.");
  if (!it->second.pending_op.empty())
    return ErrorReply(409, "AnotherOperationInProgress",
                      "Another operation on this or a dependent resource is in progress.");
  it->second.body["properties"]["provisioningState"] = "Deleting";
  const std::string op = s.StartOp("DELETE", key, p, it->second.body.value("location", ""));
  Reply reply{.status = 202};
  s.AddPollingHeaders(s.ops[op], true, true, reply);
  return reply;
}

Reply PutImageDefinition(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p,
                         const nlohmann::json& request) {
  const std::string key = Lower(p.Id());
  if (!s.resources.count(Lower(p.ParentId())))
    return ErrorReply(404, "ParentResourceNotFound",
                      "Can not perform requested operation on nested resource. Parent resource '" +
                          p.segments[0].second + "' not found.");
  const nlohmann::json props = request.value("properties", nlohmann::json::object());
  for (const char* f :
       {"/osType", "/osState", "/identifier/publisher", "/identifier/offer", "/identifier/sku"}) {
    if (props.value(nlohmann::json::json_pointer(f), "").empty())
      return ErrorReply(
          400, "InvalidParameter",
          std::string("Required parameter 'galleryImage.properties") + f + "' is missing (null).");
  }
  auto existing = s.resources.find(key);
  if (existing != s.resources.end()) {
    if (req.headers.Get("If-None-Match") == "*" && !s.opts.ignore_if_none_match)
      return ErrorReply(412, "PreconditionFailed",
                        "The resource already exists and If-None-Match: * was specified.");
    const nlohmann::json& have = existing->second.body["properties"];
    for (const char* f : {"osType", "osState", "identifier"}) {
      if (have.value(f, nlohmann::json()) != props.value(f, nlohmann::json()))
        return ErrorReply(
            409, "PropertyChangeNotAllowed",
            std::string("Changing property 'galleryImage.properties.") + f + "' is not allowed.");
    }
  }
  nlohmann::json body = ExampleBody("GalleryImage_Create.json");
  body["id"] = p.Id();
  body["name"] = p.Name();
  body["type"] = "Microsoft.Compute/galleries/images";
  body["location"] = request.value("location", "");
  if (request.contains("tags")) body["tags"] = request["tags"];
  body["properties"] = props;
  body["properties"]["provisioningState"] = existing == s.resources.end() ? "Creating" : "Updating";
  const bool update = existing != s.resources.end();
  StoredResource& r = s.resources[key];
  r.id = p.Id();
  r.type = body["type"];
  r.body = body;
  const std::string op = s.StartOp("PUT", key, p, body["location"]);
  Reply reply{.status = update ? 200 : 201, .body = body};
  s.AddPollingHeaders(s.ops[op], true, false, reply);
  return reply;
}

}  // namespace

nlohmann::json ReplicationStatusJson(FakeArm::State& s, const StoredResource& r) {
  const std::vector<std::string> regions = RegionNames(r.body);
  const PendingOp* op = nullptr;
  if (!r.pending_op.empty()) op = &s.ops[r.pending_op];
  const std::string state = r.body["properties"].value("provisioningState", "");
  // Regions still to replicate complete one after another as the operation progresses.
  std::vector<std::string> pending;
  for (const auto& name : regions)
    if (!r.replicated_regions.count(Key(name))) pending.push_back(name);
  const double fraction =
      op && op->total_polls > 0
          ? static_cast<double>(op->total_polls - op->polls_left) / op->total_polls
          : 0.0;
  nlohmann::json summary = nlohmann::json::array();
  const nlohmann::json example =
      ExampleBody("GalleryImageVersion_Get_WithReplicationStatus.json",
                  "200")["properties"]["replicationStatus"]["summary"][0];
  int completed = 0;
  bool failed = false;
  for (const auto& name : regions) {
    nlohmann::json e = example;
    e["region"] = name;
    e["details"] = "";
    auto pos = std::find(pending.begin(), pending.end(), name);
    if (pos == pending.end()) {
      e["state"] = "Completed";
      e["progress"] = 100;
      ++completed;
    } else if (state == "Failed") {
      e["state"] = "Failed";
      e["progress"] = 0;
      e["details"] = "Replication failed.";
      failed = true;
    } else {
      const double idx = static_cast<double>(pos - pending.begin());
      const double share = fraction * pending.size() - idx;  // this region's part of the work
      if (share >= 1.0 && op) {
        e["state"] = "Completed";
        e["progress"] = 100;
        ++completed;
      } else {
        e["state"] = "Replicating";
        e["progress"] = static_cast<int>(std::clamp(share, 0.0, 0.99) * 100);
      }
    }
    summary.push_back(e);
  }
  const std::string aggregated =
      failed ? "Failed"
             : (completed == static_cast<int>(regions.size()) ? "Completed" : "InProgress");
  return {{"aggregatedState", aggregated}, {"summary", summary}};
}

Reply HandleGallery(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p,
                    const nlohmann::json& request) {
  const size_t depth = p.segments.size();
  const std::string key = Lower(p.Id());
  if (req.method == "GET") {
    StoredResource* found = s.FindObserved(key);
    if (found == nullptr) return NotFound(p);
    nlohmann::json body = found->body;
    auto expand = req.params.find("$expand");
    if (depth == 3 && expand != req.params.end() && Lower(expand->second) == "replicationstatus")
      body["properties"]["replicationStatus"] = ReplicationStatusJson(s, *found);
    return Reply{.status = 200, .body = body};
  }
  if (depth == 1) {  // galleries: synchronous
    if (req.method != "PUT")
      return ErrorReply(405, "MethodNotAllowed", "Not supported by the fake.");
    nlohmann::json body = ExampleBody("Gallery_Create.json");
    body["id"] = p.Id();
    body["name"] = p.Name();
    body["type"] = "Microsoft.Compute/galleries";
    body["location"] = request.value("location", "");
    body["properties"]["identifier"]["uniqueName"] = p.subscription + "-" + p.Name();
    body["properties"]["provisioningState"] = "Succeeded";
    const bool update = s.resources.count(key) > 0;
    s.resources[key] = StoredResource{.id = p.Id(), .type = body["type"], .body = body};
    return Reply{.status = update ? 200 : 201, .body = body};
  }
  if (depth == 2) {
    if (req.method == "PUT") return PutImageDefinition(s, req, p, request);
    if (req.method == "DELETE") {
      auto it = s.resources.find(key);
      if (it == s.resources.end()) return Reply{.status = 204};
      for (const auto& [k, _] : s.resources)
        if (k.rfind(key + "/versions/", 0) == 0)
          return ErrorReply(409, "Conflict",
                            "The gallery image " + p.Name() + " has versions; delete them first.");
      const std::string op = s.StartOp("DELETE", key, p, it->second.body.value("location", ""));
      Reply reply{.status = 202};
      s.AddPollingHeaders(s.ops[op], true, true, reply);
      return reply;
    }
  }
  if (depth == 3) {
    if (req.method == "PUT") return CreateVersion(s, req, p, request);
    if (req.method == "PATCH") return UpdateVersion(s, p, request);
    if (req.method == "DELETE") return DeleteVersion(s, p);
  }
  return ErrorReply(405, "MethodNotAllowed", req.method + " is not supported here by the fake.");
}

void FinishGalleryOp(FakeArm::State& s, PendingOp& op) {
  auto it = s.resources.find(op.resource_key);
  if (it == s.resources.end()) return;
  StoredResource& r = it->second;
  const bool ok = op.status == "Succeeded";
  if (op.method == "DELETE") {
    if (ok) {
      s.resources.erase(it);
    } else {
      r.body["properties"]["provisioningState"] = "Failed";
    }
    return;
  }
  r.body["properties"]["provisioningState"] = ok ? "Succeeded" : "Failed";
  if (ok && r.type == "Microsoft.Compute/galleries/images/versions") {
    for (const auto& name : RegionNames(r.body)) r.replicated_regions.insert(Key(name));
  }
}

}  // namespace vmrelease::fake_arm
