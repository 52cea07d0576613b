// Helpers shared by the command implementations (not part of the library's API).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/cli/commands.h"
#include "controller/cli/output.h"
#include "controller/cli/world.h"

namespace vmrelease::cli::internal {

// Prints "error: <message>" and returns 1.
int Fail(Context& ctx, const std::string& message);
// Prints `value` as JSON or YAML (per ctx.output).
void PrintStructured(Context& ctx, const kube::Json& value);
// The release object that stands for `version`: a usable one first, then the oldest.
const pin::ReleaseView* ReleaseFor(const std::string& version,
                                   const std::vector<pin::ReleaseView>& views);
// Why a release cannot be moved to, or nullopt when it can (Released, not revoked, not
// being deleted, not past its end of life).
std::optional<std::string> WhyNotDeployable(const World& world, const std::string& ns,
                                            const std::string& version,
                                            const std::vector<pin::ReleaseView>& views,
                                            WallTime now);
// The change records as JSON, each with `direction` (forward or backward).
kube::Json ChangesJson(const std::vector<api::ChangeRecord>& changes, bool forward);
// Prints a table of the changes, or "(no changelog entries)".
void PrintChanges(Context& ctx, const std::vector<api::ChangeRecord>& changes, bool forward,
                  const std::string& indent);
// "ns/name" when all namespaces are shown, else "name".
std::string Qualified(const Context& ctx, const std::string& ns, const std::string& name);
std::string Human(Duration d);  // "3d4h", "5m10s", "12s"

}  // namespace vmrelease::cli::internal
