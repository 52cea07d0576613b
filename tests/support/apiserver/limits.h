// The size and nesting limits of a real kube-apiserver (v1.32) and its etcd,
// enforced by the local API server with the status codes and messages a real
// one returns (docs/local-apiserver.md, "Limits").
//
//   if (body.size() > kMaxRequestBodyBytes) return SendError(res, RequestEntityTooLarge());
//   if (auto e = CheckJsonDepth(body, "ConfigMap")) return SendError(res, *e);
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/apiserver/errors.h"

namespace vmrelease::apiserver {

// apiserver's MaxRequestBodyBytes: the body of a create/update/patch/delete.
inline constexpr size_t kMaxRequestBodyBytes = 3 * 1024 * 1024;
// core.MaxSecretSize: the data (and binaryData) of a ConfigMap or Secret.
inline constexpr size_t kMaxSecretSize = 1024 * 1024;
// etcd's default --max-request-bytes: the largest object the storage takes.
inline constexpr size_t kMaxStoredObjectBytes = 1536 * 1024;
// Go's encoding/json (maxNestingDepth), which the apiserver decodes JSON with.
inline constexpr size_t kMaxJsonNesting = 10000;

// 413 RequestEntityTooLarge "Request entity too large: limit is 3145728".
ApiError RequestEntityTooLarge();
// 400 when `body` nests arrays/objects deeper than kMaxJsonNesting, with the
// text the apiserver's decoder gives; nullopt otherwise. Never recurses.
std::optional<ApiError> CheckJsonDepth(std::string_view body, const std::string& kind);
// 500 "etcdserver: request is too large" (a real apiserver passes etcd's
// error through as an unknown-reason Status) when the serialised object is
// over kMaxStoredObjectBytes; nullopt otherwise.
std::optional<ApiError> CheckStoredSize(size_t serialised_bytes);

}  // namespace vmrelease::apiserver
