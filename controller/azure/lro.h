// Long-running ARM operations (LROs) as plain values, so a reconciler can start
// one, store where to poll in its status, and poll it later from another
// process with a new client.
//
//   ASSIGN_OR_RETURN(Operation op, gallery.CreateImageVersion(ref, "1.3.0", spec));
//   status.build.operation = op.ref.Serialize();            // record, requeue
//   ...later, after a restart...
//   ASSIGN_OR_RETURN(OperationRef ref, OperationRef::Parse(status.build.operation));
//   ASSIGN_OR_RETURN(Operation now, gallery.Poll(ref));      // one round trip, never waits
//   if (now.state == OperationState::kInProgress) return Requeue(now.retry_after);
//
// The rules follow ARM's async contract (reference: arm-async-operations.md):
// - `Azure-AsyncOperation` is preferred when present: its status resource says
//   InProgress (or any non-terminal string) / Succeeded / Failed / Canceled.
// - else `Location`: 202 = running, 200/201/204 = done (the body is the result),
//   4xx/5xx = the operation failed (ARM error body).
// - else a PUT/PATCH whose body shows a non-terminal `provisioningState` is
//   followed by GETting the resource until the state is terminal.
// - After Succeeded, a PUT/PATCH result is a fresh GET of the resource; a POST
//   result comes from `Location` when given (else the status's `properties`);
//   a DELETE has no result.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "controller/azure/credential_options.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/http/types.h"

namespace vmrelease::azure {

enum class OperationState { kInProgress, kSucceeded, kFailed };
const char* OperationStateName(OperationState s);

// Where an operation is polled, in a form that survives restarts.
// Guarantees: Serialize() and Parse() round-trip exactly; the JSON is small
// (URLs + method) and contains no credentials.
struct OperationRef {
  std::string method;        // PUT | PATCH | DELETE | POST
  std::string resource_url;  // the URL the operation was started on (with api-version)
  std::string async_url;     // Azure-AsyncOperation, if given
  std::string location_url;  // Location, if given

  enum class Via { kAsyncOperation, kLocation, kResource };
  // Which URL Poll() reads next.
  Via via() const;
  const std::string& poll_url() const;

  std::string Serialize() const;
  static StatusOr<OperationRef> Parse(std::string_view serialized);
  bool operator==(const OperationRef&) const = default;
};

struct Operation {
  OperationRef ref;
  OperationState state = OperationState::kInProgress;
  // kSucceeded: the final resource (PUT/PATCH) or action output (POST); null
  // when there is none (DELETE, 204).
  nlohmann::json result;
  // kFailed: the Azure error (code in error.detail().reason).
  Status error;
  // kInProgress: when to poll next (Retry-After, else the client's default).
  Duration retry_after{0};
  // Raw status text last seen ("InProgress", "Creating", "Succeeded", ...).
  std::string status_text;
  std::optional<double> percent_complete;

  bool done() const { return state != OperationState::kInProgress; }
};

// Something that can poll operations: the ARM client and every client built on it.
class OperationPoller {
 public:
  virtual ~OperationPoller() = default;
  // One poll round trip (plus the final GET when the operation just finished);
  // never waits for the operation itself. Errors are failures to *poll*
  // (transport, auth, throttling beyond the retry budget); an operation that
  // failed is an Operation with state kFailed.
  virtual StatusOr<Operation> Poll(const OperationRef& ref) = 0;
};

// Blocks until `op` is done, sleeping `retry_after` between polls through
// `sleep` (for tests and the CLI; reconcilers requeue instead).
// Errors: the operation's error when it ended Failed; kDeadlineExceeded when it
// is still running after `timeout` of `clock` time.
StatusOr<Operation> WaitForOperation(OperationPoller& poller, Operation op, Clock& clock,
                                     const Sleeper& sleep, Duration timeout);

// --- The state machine (pure; ArmClient does the I/O) -------------------------

bool IsTerminalStatus(std::string_view status);  // Succeeded | Failed | Canceled (any case)

// What to do after a poll response.
struct PollStep {
  Operation op;  // state after this response
  // Set when the operation succeeded and its result must be fetched with a GET.
  std::string final_get_url;
};

// Interprets the first response of an LRO-capable call (any 2xx). `resource_url`
// is the URL the request was sent to.
Operation InterpretInitialResponse(const std::string& method, const std::string& resource_url,
                                   const http::Response& response, Duration default_poll);

// Interprets the response to GET ref.poll_url(). Returns an error when the
// response does not say anything about the operation (e.g. an operation status
// resource that answers 404).
StatusOr<PollStep> InterpretPollResponse(const OperationRef& ref, const http::Response& response,
                                         Duration default_poll);

}  // namespace vmrelease::azure
