// YAML (as kubectl users and CRD files write it) to JSON, with YAML 1.2-ish
// scalar typing: plain `true`/`false`/`null`/`~`/numbers become JSON values,
// quoted scalars stay strings.
//
//   StatusOr<std::vector<nlohmann::json>> docs = YamlDocumentsToJson(ReadFile("crd.yaml"));
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::apiserver {

// One document (JSON text is valid YAML too).
StatusOr<nlohmann::json> YamlToJson(const std::string& text);
// Every non-empty document of a multi-document stream.
StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(const std::string& text);

}  // namespace vmrelease::apiserver
