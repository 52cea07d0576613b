#include "controller/azure/lro.h"

#include <algorithm>
#include <cctype>

#include "controller/azure/azure_error.h"
#include "controller/common/json_depth.h"

namespace vmrelease::azure {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

nlohmann::json ParseBody(const std::string& body) {
  if (body.empty()) return nullptr;
  auto j = ParseJsonBounded(body, kMaxServiceJsonDepth);
  return j.ok() ? std::move(*j) : nlohmann::json(nullptr);
}

std::string ProvisioningState(const nlohmann::json& body) {
  if (!body.is_object()) return "";
  auto p = body.find("properties");
  if (p == body.end() || !p->is_object()) return "";
  auto s = p->find("provisioningState");
  if (s == p->end() || !s->is_string()) return "";
  return s->get<std::string>();
}

Duration RetryAfterOr(const http::Headers& h, Duration fallback) {
  if (auto ra = ParseRetryAfter(h)) return *ra;
  return fallback;
}

std::string Describe(const OperationRef& ref) {
  // Never the query string: keep messages short and free of anything but the path.
  http::Url u;
  if (!http::ParseUrl(ref.resource_url, &u)) return ref.method + " operation";
  return ref.method + " " + u.path;
}

Status ResourceStateError(const OperationRef& ref, const std::string& state,
                          const nlohmann::json& body) {
  ArmErrorBody e{.code = "ProvisioningState" + state,
                 .message = "resource provisioningState is " + state};
  // Some providers attach an error object to failed resources.
  if (body.is_object() && body.contains("properties") && body["properties"].is_object()) {
    if (auto parsed = ParseArmErrorBody(body["properties"].dump())) e = *parsed;
  }
  return ArmOperationError(e, Describe(ref));
}

}  // namespace

const char* OperationStateName(OperationState s) {
  switch (s) {
    case OperationState::kInProgress:
      return "InProgress";
    case OperationState::kSucceeded:
      return "Succeeded";
    case OperationState::kFailed:
      return "Failed";
  }
  return "Unknown";
}

OperationRef::Via OperationRef::via() const {
  if (!async_url.empty()) return Via::kAsyncOperation;
  if (!location_url.empty()) return Via::kLocation;
  return Via::kResource;
}

const std::string& OperationRef::poll_url() const {
  switch (via()) {
    case Via::kAsyncOperation:
      return async_url;
    case Via::kLocation:
      return location_url;
    case Via::kResource:
      break;
  }
  return resource_url;
}

std::string OperationRef::Serialize() const {
  nlohmann::json j = {{"v", 1}, {"method", method}, {"resource", resource_url}};
  if (!async_url.empty()) j["async"] = async_url;
  if (!location_url.empty()) j["location"] = location_url;
  return j.dump();
}

StatusOr<OperationRef> OperationRef::Parse(std::string_view serialized) {
  auto parsed = ParseJsonBounded(serialized, kMaxServiceJsonDepth);
  if (!parsed.ok()) {
    return InvalidArgumentError("operation reference is not JSON: " +
                                std::string(parsed.status().message()));
  }
  const nlohmann::json j = std::move(*parsed);
  if (!j.is_object() || j.value("v", 0) != 1)
    return InvalidArgumentError("operation reference: unknown format version");
  OperationRef ref;
  try {
    ref.method = j.at("method").get<std::string>();
    ref.resource_url = j.at("resource").get<std::string>();
    ref.async_url = j.value("async", "");
    ref.location_url = j.value("location", "");
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(std::string("operation reference: ") + e.what());
  }
  if (ref.method != "PUT" && ref.method != "PATCH" && ref.method != "DELETE" &&
      ref.method != "POST")
    return InvalidArgumentError("operation reference: unexpected method " + ref.method);
  http::Url u;
  for (const std::string* url : {&ref.resource_url, &ref.async_url, &ref.location_url}) {
    if (!url->empty() && !http::ParseUrl(*url, &u))
      return InvalidArgumentError("operation reference: invalid URL");
  }
  if (ref.resource_url.empty()) return InvalidArgumentError("operation reference: no resource URL");
  return ref;
}

bool IsTerminalStatus(std::string_view status) {
  return EqualsNoCase(status, "Succeeded") || EqualsNoCase(status, "Failed") ||
         EqualsNoCase(status, "Canceled") || EqualsNoCase(status, "Cancelled");
}

Operation InterpretInitialResponse(const std::string& method, const std::string& resource_url,
                                   const http::Response& response, Duration default_poll) {
  Operation op;
  op.ref = OperationRef{.method = method,
                        .resource_url = resource_url,
                        .async_url = response.headers.Get("Azure-AsyncOperation"),
                        .location_url = response.headers.Get("Location")};
  // A Location on a plain 200/201 PUT is not a polling URL (it may just name the resource).
  if (op.ref.async_url.empty() && response.status != 202 && method == "PUT")
    op.ref.location_url.clear();
  op.retry_after = RetryAfterOr(response.headers, default_poll);
  const nlohmann::json body = ParseBody(response.body);
  const std::string state = ProvisioningState(body);
  op.status_text = state;

  if (!op.ref.async_url.empty() || !op.ref.location_url.empty()) return op;  // poll the header
  const bool writes_resource = method == "PUT" || method == "PATCH";
  if (writes_resource && !state.empty() && !IsTerminalStatus(state)) return op;  // via resource
  if (response.status == 202 && method != "POST") return op;  // accepted, no headers: via resource
  if (!state.empty() && !EqualsNoCase(state, "Succeeded")) {
    op.state = OperationState::kFailed;
    op.error = ResourceStateError(op.ref, state, body);
    return op;
  }
  op.state = OperationState::kSucceeded;
  op.status_text = state.empty() ? "Succeeded" : state;
  op.result = method == "DELETE" ? nlohmann::json() : body;
  op.retry_after = Duration::zero();
  return op;
}

StatusOr<PollStep> InterpretPollResponse(const OperationRef& ref, const http::Response& response,
                                         Duration default_poll) {
  PollStep step;
  step.op.ref = ref;
  step.op.retry_after = RetryAfterOr(response.headers, default_poll);
  const nlohmann::json body = ParseBody(response.body);
  const bool writes_resource = ref.method == "PUT" || ref.method == "PATCH";

  auto succeed = [&](nlohmann::json result) {
    step.op.state = OperationState::kSucceeded;
    step.op.retry_after = Duration::zero();
    step.op.result = std::move(result);
    if (step.op.status_text.empty()) step.op.status_text = "Succeeded";
  };

  switch (ref.via()) {
    case OperationRef::Via::kAsyncOperation: {
      if (response.status != 200 && response.status != 202)
        return ArmHttpError(response, "polling " + Describe(ref));
      if (!body.is_object() || !body.contains("status") || !body["status"].is_string())
        return InternalError("polling " + Describe(ref) + ": operation status has no 'status'");
      const std::string status = body["status"].get<std::string>();
      step.op.status_text = status;
      if (auto pc = body.find("percentComplete"); pc != body.end() && pc->is_number())
        step.op.percent_complete = pc->get<double>();
      if (!IsTerminalStatus(status)) return step;
      if (!EqualsNoCase(status, "Succeeded")) {
        step.op.state = OperationState::kFailed;
        ArmErrorBody e{.code = status, .message = "operation ended " + status};
        if (auto it = body.find("error"); it != body.end() && it->is_object()) {
          if (auto parsed = ParseArmErrorBody(nlohmann::json{{"error", *it}}.dump())) e = *parsed;
        }
        step.op.error = ArmOperationError(e, Describe(ref),
                                          response.headers.Get("x-ms-correlation-request-id"));
        return step;
      }
      succeed(nullptr);
      if (writes_resource) {
        step.final_get_url = ref.resource_url;
      } else if (ref.method == "POST") {
        if (!ref.location_url.empty()) {
          step.final_get_url = ref.location_url;
        } else if (body.contains("properties")) {
          step.op.result = body["properties"];
        }
      }
      return step;
    }
    case OperationRef::Via::kLocation: {
      if (response.status == 202) {
        const std::string next = response.headers.Get("Location");
        if (!next.empty()) step.op.ref.location_url = next;
        step.op.status_text = "InProgress";
        return step;
      }
      if (response.status >= 400) {
        step.op.state = OperationState::kFailed;
        step.op.status_text = "Failed";
        step.op.error = ArmHttpError(response, Describe(ref) + ": operation failed");
        return step;
      }
      succeed(body);
      // A PUT/PATCH whose Location answers without the resource: read it.
      if (writes_resource && (response.status == 204 || body.is_null()))
        step.final_get_url = ref.resource_url;
      if (ref.method == "DELETE") step.op.result = nullptr;
      return step;
    }
    case OperationRef::Via::kResource: {
      if (response.status == 404) {
        if (ref.method == "DELETE") {
          succeed(nullptr);
          return step;
        }
        step.op.status_text = "NotFound";  // a new resource may be invisible until created
        return step;
      }
      if (response.status >= 400) return ArmHttpError(response, "polling " + Describe(ref));
      const std::string state = ProvisioningState(body);
      step.op.status_text = state;
      if (ref.method == "DELETE") return step;  // still there
      if (!state.empty() && !IsTerminalStatus(state)) return step;
      if (!state.empty() && !EqualsNoCase(state, "Succeeded")) {
        step.op.state = OperationState::kFailed;
        step.op.error = ResourceStateError(ref, state, body);
        return step;
      }
      succeed(body);
      return step;
    }
  }
  return InternalError("unreachable");
}

StatusOr<Operation> WaitForOperation(OperationPoller& poller, Operation op, Clock& clock,
                                     const Sleeper& sleep, Duration timeout) {
  const TimePoint deadline = clock.Now() + timeout;
  while (op.state == OperationState::kInProgress) {
    if (clock.Now() >= deadline)
      return DeadlineExceededError(Describe(op.ref) + ": still " +
                                   (op.status_text.empty() ? "in progress" : op.status_text) +
                                   " after the wait timeout");
    const Duration delay = std::min<Duration>(op.retry_after, deadline - clock.Now());
    if (delay > Duration::zero()) {
      if (sleep) {
        sleep(delay);
      } else {
        clock.SleepFor(delay);
      }
    }
    ASSIGN_OR_RETURN(op, poller.Poll(op.ref));
  }
  if (op.state == OperationState::kFailed) return op.error;
  return op;
}

}  // namespace vmrelease::azure
