// Decoding of the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`)
// for the built-in kinds kubectl sends that way: `kubectl create job`,
// `create service`, `create configmap`, `create secret`, `create namespace` and
// `create serviceaccount` use typed clients that write protobuf bodies.
// Responses are always JSON (kubectl also accepts it), so only decoding is needed.
//
//   ApiOr<nlohmann::json> obj = DecodeKubeProtobuf(body);   // "k8s\0" + runtime.Unknown
//
// The field tables (protobuf_schema.cc) cover the whole object graph of those
// kinds at k8s.io/api v0.32, so nothing a kubectl v1.32 client sets is lost:
// a field number the tables do not know is refused (415) rather than dropped.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/apiserver/errors.h"

namespace vmrelease::apiserver {

constexpr char kProtobufContentType[] = "application/vnd.kubernetes.protobuf";

// Supports v1 ConfigMap, Secret, Namespace, ServiceAccount, Service and
// batch/v1 Job. Errors: 415 Unsupported Media Type for other kinds or unknown
// fields (send JSON instead), 400 for malformed bytes.
ApiOr<nlohmann::json> DecodeKubeProtobuf(const std::string& body);

// Message references in the tables that do not resolve (empty when the tables
// are complete); for tests.
std::vector<std::string> UnresolvedProtobufMessages();

}  // namespace vmrelease::apiserver
