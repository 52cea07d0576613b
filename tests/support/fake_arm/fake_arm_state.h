// Internal to the fake ARM: its state and the handlers of each area. Every
// handler runs with State::mu held and returns a Reply; the server glue in
// fake_arm.cc does authentication, fault injection and counting around them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "controller/http/server.h"
#include "tests/support/fake_arm/fake_arm.h"

namespace vmrelease::fake_arm {

struct Reply {
  int status = 200;
  http::Headers headers;
  nlohmann::json body;  // null = empty body
};

// A parsed ARM resource path:
// /subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}...][/{action}]
struct ArmPath {
  std::string subscription;
  std::string resource_group;
  std::string ns;  // "Microsoft.Compute"
  std::vector<std::pair<std::string, std::string>> segments;
  std::string action;  // "run", "cancel" (a trailing segment without a name)
  // Operation URLs:
  // /subscriptions/{s}/providers/{ns}/locations/{loc}/{operations|operationResults}/{id}
  bool is_operation = false;
  std::string operation_kind;  // "operations" | "operationResults"
  std::string operation_id;
  std::string location;

  // "Microsoft.Compute/galleries/images/versions"
  std::string Type() const;
  // The resource id up to the last named segment (original case).
  std::string Id() const;
  // Id of the parent resource ("" at top level).
  std::string ParentId() const;
  const std::string& Name() const { return segments.back().second; }
};
bool ParseArmPath(const std::string& path, ArmPath* out);

struct StoredResource {
  std::string id;    // as first created
  std::string type;  // "Microsoft.Compute/virtualMachines"
  nlohmann::json body;
  std::string pending_op;  // operation in progress on it
  // Gallery versions: regions whose replica is complete.
  std::set<std::string> replicated_regions;
  // Run commands: instance-view GETs since the script started.
  int instance_view_gets = 0;
  bool script_started = false;
  std::string started_at;
  // Image templates: run counter (for output names).
  int runs = 0;
};

struct PendingOp {
  std::string id;
  std::string method;        // PUT | PATCH | DELETE | POST
  std::string resource_key;  // lower-cased resource id
  std::string action;        // "run" | "cancel" for POST
  std::string location;
  std::string ns;
  std::string subscription;
  int total_polls = 0;
  int polls_left = 0;
  bool done = false;
  std::string status = "InProgress";  // InProgress | Succeeded | Failed | Canceled
  nlohmann::json error;               // {code, message}
  int failure_http_status = 400;
  std::optional<OperationFailure> failure;  // decided at start
  WallTime start_time;
  WallTime end_time;
  // Not finished before this time however often it is observed (Image Builder runs).
  std::optional<WallTime> not_before;
};

struct Token {
  std::string audience;  // scope / resource it was issued for
  WallTime expires;
  bool revoked = false;
};

struct FakeArm::State {
  Options opts;
  Clock* clock = nullptr;
  std::unique_ptr<http::Server> server;
  std::string base_url;

  mutable std::mutex mu;
  // identities
  std::map<std::string, std::string> app_secrets;  // tenant/client_id → secret
  std::set<std::string> federated;                 // tenant/client_id
  std::set<std::string> good_assertions;
  std::set<std::string> expired_assertions;
  std::set<std::string> managed_identities;  // client ids; "" = system-assigned
  int imds_failures = 0;
  int imds_failure_status = 503;
  std::map<std::string, Token> tokens;
  // resources by lower-cased id
  std::map<std::string, StoredResource> resources;
  std::map<std::string, PendingOp> ops;
  std::vector<RunCommandRule> run_rules;
  std::vector<std::string> output_blob_uris;  // where run commands' stdout went (outputBlobUri)
  std::vector<OperationFailure> failures;
  // Image Builder: runs that end Failed, outputs, and the runs seen per template name.
  struct RunFailure {
    std::string name_contains, code, message;
  };
  std::vector<RunFailure> run_failures;
  FakeArm::VhdOutputFn vhd_output;
  std::map<std::string, int> image_builder_runs;
  int image_builder_overlapping_runs = 0;
  // faults
  struct Injected {
    FaultKind kind;
    int count;
    std::string path_contains;
    std::string method;  // "" = any
  };
  std::vector<Injected> injected;
  double fault_rate = 0;
  std::vector<FaultKind> fault_kinds;
  bool faults_on_identity = false;
  std::mt19937_64 rng;
  // counters
  std::map<std::string, int> route_counts;
  // x-ms-client-request-id → requests that carried it (one call and its retries).
  std::map<std::string, FakeArm::CallAttempts> attempts_by_client_request_id;
  int total_requests = 0;
  int retries_seen = 0;
  int tokens_issued = 0;
  int faults_injected = 0;
  std::vector<std::string> assertions_seen;

  WallTime Now() const { return clock->WallNow(); }
  std::string NowText() const { return FormatRfc3339(Now()); }
  // Starts a long-running operation on `key` and returns its id.
  std::string StartOp(const std::string& method, const std::string& key, const ArmPath& p,
                      const std::string& location, const std::string& action = "");
  // Advances an operation by one observation; finishes it when its polls are used up.
  void Observe(PendingOp& op);
  // A GET of `key`: advances the resource's pending operation, if any, then
  // looks it up again (finishing a DELETE erases it). Null when it is gone.
  StoredResource* FindObserved(const std::string& key);
  // Polling headers for an operation (Azure-AsyncOperation and/or Location, Retry-After).
  void AddPollingHeaders(const PendingOp& op, bool async, bool location, Reply& r) const;
};

// Helpers shared by the handlers.
std::string Lower(std::string s);
// An ARM error body; `target` (e.g. "computerName") is added when not empty.
Reply ErrorReply(int status, const std::string& code, const std::string& message,
                 const std::string& target = "");
Reply NotFound(const ArmPath& p);
nlohmann::json ExampleBody(const std::string& file, const std::string& status = "201");
// Copies the value at each JSON pointer from `from` into `to` when `to` lacks it.
void CopyMissing(nlohmann::json& to, const nlohmann::json& from,
                 const std::vector<std::string>& pointers);
std::string NewUuid();
std::string ResourceNameOf(const std::string& id);

// Area handlers (State::mu held).
Reply HandleCompute(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p);
Reply HandleNetwork(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p);
Reply HandleImageBuilder(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p);
Reply HandleOperation(FakeArm::State& s, const ArmPath& p);
Reply HandleEntraToken(FakeArm::State& s, const http::ServerRequest& req,
                       const std::string& tenant);
Reply HandleImds(FakeArm::State& s, const http::ServerRequest& req);
// Effects of a finished operation (per area).
void FinishComputeOp(FakeArm::State& s, PendingOp& op);
void FinishNetworkOp(FakeArm::State& s, PendingOp& op);
void FinishImageBuilderOp(FakeArm::State& s, PendingOp& op);
// Gallery part of Microsoft.Compute (fake_arm_gallery.cc); `request` is the parsed body.
Reply HandleGallery(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p,
                    const nlohmann::json& request);
void FinishGalleryOp(FakeArm::State& s, PendingOp& op);
nlohmann::json ReplicationStatusJson(FakeArm::State& s, const StoredResource& r);

}  // namespace vmrelease::fake_arm
