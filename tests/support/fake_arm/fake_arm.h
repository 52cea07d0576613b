// FakeArm: an in-process Azure Resource Manager + Entra ID token endpoint +
// IMDS for tests and the local demo, shaped by the official REST examples in
// ../shared/reference/azure (copied under examples/ and embedded at build time).
//
//   ManualClock clock;
//   auto fake = FakeArm::Start({.clock = &clock, .lro_polls = 3});
//   (*fake)->AddApplication("tenant-1", "client-1", "s3cret-value");
//   (*fake)->AddGallery(sub, "images", "releases", "westeurope");
//   (*fake)->AddRunCommandRule({.contains = "exit 3", .exit_code = 3, .stderr_text = "boom"});
//   (*fake)->SetRandomFaults(0.2, {FaultKind::kThrottle429, FaultKind::kServerError500});
//   ... point ArmClientOptions::base_url and CredentialOptions::authority_host at
//   (*fake)->base_url() EXPECT_EQ((*fake)->RequestCount("GET operations"), 3);
//
// What it serves (plain HTTP on 127.0.0.1, port 0 by default):
//   POST /{tenant}/oauth2/v2.0/token            client secret or federated assertion
//   GET  /metadata/identity/oauth2/token        IMDS (Metadata: true required)
//   Microsoft.Compute galleries / images / versions, disks, virtualMachines,
//   virtualMachines/runCommands; Microsoft.Network networkInterfaces;
//   Microsoft.VirtualMachineImages imageTemplates (+ /run, /cancel, /runOutputs)
//   GET  /subscriptions/{s}/providers/{ns}/locations/{l}/operations/{id} Azure-AsyncOperation GET
//   /subscriptions/{s}/providers/{ns}/locations/{l}/operationResults/{id}  Location GET
//   /_fake/stats                           counters as JSON (demo)
//
// Behaviour: bearer tokens are checked (unknown → 401 InvalidAuthenticationToken,
// expired → 401 ExpiredAuthenticationToken); api-versions are checked per
// resource type; long-running operations answer 201/202 with polling URLs on
// the fake itself and report InProgress for `lro_polls` polls before Succeeded
// (or Failed, when injected); state persists between calls (a VM exists until
// deleted; a gallery version replicates region by region); faults can be
// injected per request. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::fake_arm {

enum class FaultKind {
  kThrottle429,     // 429 TooManyRequests with Retry-After
  kServerError500,  // 500 InternalServerError (ARM error body)
  kUnavailable503,  // 503 ServiceUnavailable with Retry-After
  kDropConnection,  // the connection is closed without a usable answer
  kNoAnswer,        // the request is held for Options::no_answer_delay, then dropped
  kLostAnswer,      // the request is carried out, then its answer is lost (dropped
                    // connection): the client cannot tell whether it landed
  kSlowAnswer,      // the request is carried out at once and answered after
                    // Options::no_answer_delay (a client that crashes meanwhile
                    // never learns it landed)
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  Clock* clock = nullptr;  // token expiry and timestamps; RealClock when null
  // Polls answered InProgress (202 on Location) before an operation finishes.
  int lro_polls = 3;
  // Retry-After (seconds) on LRO answers; 0 = header omitted.
  int retry_after_seconds = 10;
  // Retry-After (seconds) on injected 429/503.
  int throttle_retry_after_seconds = 2;
  Duration token_lifetime = std::chrono::hours(1);
  // GETs with $expand=instanceView that show a run command Running before its result.
  int run_command_polls = 2;
  // Image Builder VHD outputs are named <vhd_output_base>/<template>-<run>.vhd
  // (artifactUri of the run output), unless SetImageBuilderVhdOutput says otherwise.
  std::string vhd_output_base = "https://fakebuilds.blob.core.windows.net/vhds";
  // An Image Builder run lasts at least this long (the fake's clock), however often it
  // is polled; 0 = it ends after `lro_polls` polls like any operation.
  Duration image_builder_run_duration{0};
  std::chrono::milliseconds no_answer_delay{3000};
  uint64_t seed = 1;  // random faults are reproducible
  // Gallery PUTs honour `If-None-Match: *` (412 when the resource exists).
  // Compute Gallery does not document it, so tests also run with it ignored:
  // a PUT then updates an existing image definition or version, as ARM's
  // create-or-update does.
  bool ignore_if_none_match = false;
  // securityProfile.securityType a VM gets when its PUT sends none (Azure's
  // platform default; it has been moving from Standard to TrustedLaunch).
  std::string vm_default_security_type = "Standard";
  // Error answers (4xx/5xx, injected or not) quote what the request carried — its
  // Authorization header and the start of its body — in error.message, as some real
  // services and proxies do. The secret-leak test uses it to push secrets through
  // the controller's error paths.
  bool echo_requests_in_errors = false;
};

// "script contains X → exit code / stdout / stderr" for Run Command.
struct RunCommandRule {
  std::string contains;  // matched against source.script; "" matches everything
  int exit_code = 0;
  std::string stdout_text;
  std::string stderr_text;
  // "" = Succeeded when exit_code is 0, else Failed; or e.g. "TimedOut".
  std::string execution_state;
};

// Makes the next long-running operation on a matching resource end Failed.
struct OperationFailure {
  std::string id_contains;  // case-insensitive substring of the resource id ("" = any)
  std::string method;       // PUT | PATCH | DELETE | POST | "" (any)
  std::string code = "InternalOperationError";
  std::string message = "Injected failure";
  int http_status = 400;  // what the Location URL answers for it
};

class FakeArm {
 public:
  static StatusOr<std::unique_ptr<FakeArm>> Start(Options options = {});
  ~FakeArm();
  FakeArm(const FakeArm&) = delete;
  FakeArm& operator=(const FakeArm&) = delete;

  std::string base_url() const;  // "http://127.0.0.1:PORT"
  int port() const;

  // --- identities ---
  void AddApplication(const std::string& tenant, const std::string& client_id,
                      const std::string& client_secret);
  // A federated credential: `assertion` is accepted for (tenant, client_id).
  void AddFederatedIdentity(const std::string& tenant, const std::string& client_id);
  void AcceptAssertion(const std::string& assertion);
  // The assertion is refused as expired (AADSTS700024), like a stale projected token.
  void ExpireAssertion(const std::string& assertion);
  // IMDS identity; "" = the system-assigned identity. Like IMDS, a request
  // without client_id gets the system-assigned identity, else the only
  // user-assigned one; with none it is 400 "Identity not found", with several
  // user-assigned and no system-assigned identity 400 "Multiple user assigned
  // identities exist, ...".
  void AddManagedIdentity(const std::string& client_id = "");
  // The next `count` IMDS requests answer `http_status` (e.g. 503, 410, 429;
  // 400 answers IMDS's "Identity not found" body).
  void FailImds(int count, int http_status);
  // Every token issued so far is treated as expired from now on.
  void ExpireAllTokens();
  void SetTokenLifetime(Duration lifetime);

  // --- state ---
  void AddGallery(const std::string& subscription, const std::string& resource_group,
                  const std::string& gallery, const std::string& location);
  // An image definition in a gallery added before (osType Linux|Windows;
  // security_type e.g. "TrustedLaunch", "" for none), as a platform team creates
  // it once before releasing versions into it.
  void AddImageDefinition(const std::string& subscription, const std::string& resource_group,
                          const std::string& gallery, const std::string& image,
                          const std::string& os_type = "Linux",
                          const std::string& security_type = "");
  bool Exists(const std::string& resource_id) const;
  std::optional<nlohmann::json> Resource(const std::string& resource_id) const;
  std::vector<std::string> ResourceIds() const;

  // --- behaviour ---
  void SetLroPolls(int polls);
  void SetIgnoreIfNoneMatch(bool ignore);
  void SetVmDefaultSecurityType(const std::string& security_type);
  void SetRetryAfterSeconds(int seconds);
  void AddRunCommandRule(RunCommandRule rule);
  // Forgets every rule: each script then succeeds with exit code 0 and no output.
  void ClearRunCommandRules();
  void FailNextOperation(OperationFailure failure);
  // Image Builder runs (POST .../run) of a template whose name contains `name_contains`
  // ("" = any) end Failed with this Azure error code and message (in the run's operation
  // and in lastRunStatus.message), until cleared with ClearImageBuilderRunFailures().
  void FailImageBuilderRuns(const std::string& name_contains, const std::string& code,
                            const std::string& message);
  void ClearImageBuilderRunFailures();
  // Also for the runs in progress (they end at their start + `duration`).
  void SetImageBuilderRunDuration(Duration duration);
  // What a successful run's VHD output (runOutputs/{name}.properties.artifactUri) is,
  // from the template's name and its run number (1, 2, ...): e.g. a read SAS URL of a
  // real VHD in Azurite. Called with the fake's lock held: it must not call the fake.
  using VhdOutputFn = std::function<std::string(const std::string& template_name, int run)>;
  void SetImageBuilderVhdOutput(VhdOutputFn fn);
  // The next `count` ARM requests whose path contains `path_contains` (and
  // whose method is `method`, when given) get `kind`.
  void InjectFault(FaultKind kind, int count = 1, const std::string& path_contains = "",
                   const std::string& method = "");
  // Each ARM request (not token/IMDS unless `include_identity`) gets a random
  // fault from `kinds` with probability `rate`.
  void SetRandomFaults(double rate, std::vector<FaultKind> kinds, bool include_identity = false);

  // --- counters ---
  // Requests per route: "PUT Microsoft.Compute/galleries/images/versions",
  // "GET operations", "GET operationResults", "POST token", "GET imds", ...
  int RequestCount(const std::string& route) const;
  std::map<std::string, int> RequestCounts() const;
  int TotalRequests() const;
  // Requests that reused an x-ms-client-request-id seen before (client retries).
  int RetriesSeen() const;
  // Requests per x-ms-client-request-id: ArmClient keeps one id across a call's
  // retries, so this is how many attempts each call made, as the server saw them.
  struct CallAttempts {
    std::string route;  // of the first request with the id, e.g. "GET operations"
    int attempts = 0;
  };
  std::map<std::string, CallAttempts> AttemptsByClientRequestId() const;
  int TokensIssued() const;
  // Image Builder runs started per template name (kept after the template is deleted),
  // and how many runs started while another run of a template of the same name was
  // still going (the fake refuses those with 409; they are counted all the same).
  std::map<std::string, int> ImageBuilderRuns() const;
  int ImageBuilderOverlappingRuns() const;
  int FaultsInjected() const;
  // The outputBlobUri of each run command whose stdout was written there, in order.
  std::vector<std::string> OutputBlobUris() const;
  // Assertions presented at the token endpoint, in order.
  std::vector<std::string> AssertionsSeen() const;
  // Every access token issued so far (tests grep logs for them).
  std::vector<std::string> IssuedTokens() const;
  nlohmann::json Stats() const;
  void ResetCounters();

  struct State;  // fake_arm_state.h

 private:
  FakeArm();
  std::unique_ptr<State> state_;
};

// The official example files embedded in the fake, by file name
// ("GalleryImageVersion_Create_WithVHD.json").
const nlohmann::json& Example(const std::string& file_name);

}  // namespace vmrelease::fake_arm
