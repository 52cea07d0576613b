// Decoding of the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`)
// for the built-in kinds kubectl sends that way: `kubectl create configmap`,
// `create secret`, `create namespace` and `create serviceaccount` use typed
// clients that write protobuf bodies. Responses are always JSON (kubectl also
// accepts it), so only decoding is needed.
//
//   ApiOr<nlohmann::json> obj = DecodeKubeProtobuf(body);   // "k8s\0" + runtime.Unknown
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/apiserver/errors.h"

namespace vmrelease::apiserver {

constexpr char kProtobufContentType[] = "application/vnd.kubernetes.protobuf";

// Supports v1 ConfigMap, Secret, Namespace and ServiceAccount; anything else
// is 415 Unsupported Media Type (send JSON instead).
ApiOr<nlohmann::json> DecodeKubeProtobuf(const std::string& body);

}  // namespace vmrelease::apiserver
