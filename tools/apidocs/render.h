// Renders the API reference (docs/api.md) from CRD schemas and a template.
//
// The template is markdown with directives on lines of their own:
//   {{overview}}                 a table of the kinds (group, version, short names, ...)
//   {{reference ImageRelease}}   the printer columns and every field of that kind
// Everything else is copied as written, so the hand-written sections ("How a
// release moves", "How a pin resolves", "Design notes") live in the template.
//
//   ASSIGN_OR_RETURN(std::string md, RenderApiDoc(crds, template_text));
//
// Errors (kInvalidArgument): an unknown directive or kind, and any schema field
// without a description (the reference promises one for every field).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::apidocs {

StatusOr<std::string> RenderApiDoc(const std::vector<nlohmann::ordered_json>& crds,
                                   const std::string& template_text);

}  // namespace vmrelease::apidocs
