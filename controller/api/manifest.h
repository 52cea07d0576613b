// Kubernetes manifests in YAML, converted to JSON the way kubectl converts them.
//
// kubectl reads YAML with go-yaml v2 rules (YAML 1.1 scalars: `yes`/`on` are
// booleans, `1.2` is a number, `1.2.0` a string), then sends JSON. These helpers
// do the same so a file in deploy/examples/ means the same thing to the C++
// types as to the API server.
//
//   ASSIGN_OR_RETURN(std::vector<Json> docs, LoadManifestFile("deploy/examples/pin.yaml"));
//   ASSIGN_OR_RETURN(Json obj, ParseYamlDocument("kind: ImageRelease\n..."));
//
// Errors carry the line and column, e.g. "line 7, column 3: duplicate key \"image\"".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/api/json_fields.h"
#include "controller/common/status.h"

namespace vmrelease::api {

// Every non-empty document of a multi-document YAML stream ("---" separated).
StatusOr<std::vector<Json>> ParseYamlDocuments(std::string_view text);
// The same, keeping the order of map keys (for tools that print what a person wrote).
using OrderedJson = nlohmann::ordered_json;
StatusOr<std::vector<OrderedJson>> ParseYamlDocumentsOrdered(std::string_view text);
// Exactly one non-empty document.
StatusOr<Json> ParseYamlDocument(std::string_view text);
// ParseYamlDocuments on a file's content; errors start with the path.
StatusOr<std::vector<Json>> LoadManifestFile(const std::string& path);

// The stream's documents as yaml-cpp's parser sees them, without building them,
// with a stop where yaml-cpp 0.7's LoadAll would loop forever: a document that
// consumes no token (e.g. a "," it cannot place in block context) makes LoadAll
// ask for the next document at the same place, endlessly (jbeder/yaml-cpp#1040,
// fixed upstream by #1319 after 0.7). Ok, or kInvalidArgument with the line and
// column. ParseYamlDocuments calls it first; exposed for its tests.
Status CheckYamlTerminates(std::string_view text);

}  // namespace vmrelease::api
