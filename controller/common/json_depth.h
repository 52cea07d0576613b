// Nesting depth of JSON values, measured without recursion.
//
// nlohmann::json copies, compares and serialises recursively, so a value nested
// thousands of levels deep (a real API server accepts ~10,000 levels inside
// x-kubernetes-preserve-unknown-fields) can overflow a thread's stack. Code that
// handles objects from outside checks the depth first, with these helpers, and
// refuses (or stalls) what is too deep before anything recursive touches it.
//
//   if (auto where = FindDeeperThan(obj, kMaxObjectDepth, "")) {
//     return Stalled("InvalidSpec", *where + ": nested deeper than 64 levels");
//   }
//
// Depth: a scalar, [] and {} count 1; each enclosing array or object adds 1.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace vmrelease {

// Deepest nesting the controller accepts in an object it reconciles. Real
// objects stay far below it (a PodTemplateSpec is ~12 levels deep).
inline constexpr size_t kMaxObjectDepth = 64;

// The depth of `j`, or `limit + 1` as soon as it is known to exceed `limit`.
size_t JsonDepth(const nlohmann::json& j, size_t limit = static_cast<size_t>(-1));

// Deepest nesting of arrays/objects in JSON *text* (a real API server's
// decoder, Go's encoding/json, refuses more than 10,000). Counts the `[` and `{`
// open at once outside strings, without parsing; stops counting (and returns
// `limit + 1`) as soon as the count exceeds `limit`. Text that is not valid
// JSON gets some count; the parser refuses it afterwards.
// `culprit`, when given, receives the bracket that went past `limit`.
size_t JsonTextDepth(std::string_view text, size_t limit = static_cast<size_t>(-1),
                     char* culprit = nullptr);

// The deepest JSON the controller parses from the API server: Kubernetes' own
// decoder limit (a real server accepts objects this deep inside
// x-kubernetes-preserve-unknown-fields), plus one for a watch event's envelope.
inline constexpr size_t kMaxKubeJsonDepth = 10001;
// The deepest JSON the controller parses from Azure, IMDS, token endpoints and its
// own guest agent: their documents are a few levels deep; anything near this is
// hostile or broken.
inline constexpr size_t kMaxServiceJsonDepth = 256;

// nlohmann::json::parse (which is iterative) after refusing text nested deeper
// than `max_depth`, so that nothing recursive (copy, compare, dump) ever gets a
// value deep enough to overflow a thread's stack. Errors: kInvalidArgument with
// the parser's message, or "nested deeper than <max_depth> levels".
StatusOr<nlohmann::json> ParseJsonBounded(std::string_view text, size_t max_depth);

// The field path (e.g. "spec.build.job.template.spec.a[0].b", starting from
// `base`; at most the first `kMaxObjectDepth` + 1 segments) of the first value
// whose depth below `j` exceeds `max_depth`; nullopt when everything fits.
std::optional<std::string> FindDeeperThan(const nlohmann::json& j, size_t max_depth,
                                          std::string_view base);

}  // namespace vmrelease
