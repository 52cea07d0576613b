// How an EnvironmentPin resolves (docs/api.md, "How a pin resolves"), as pure
// functions of the pin, the releases of its image, the other pins of its image
// and the time: no client, no store, no clock. The reconciler (reconciler.h)
// gathers the world from its informer caches, asks Resolve() what to do, applies
// a move with Move() and writes the status once.
//
//   std::vector<ReleaseView> releases = ...;   // ViewOfRelease() of each release of the image
//   std::vector<api::EnvironmentPin> others = ...;
//   Decision d = Resolve(pin, releases, others, now);
//   if (d.stalled) ...;                          // DuplicatePin / InvalidSpec: nothing moves
//   if (d.target && d.move_reason) Move(status, *d.target, *d.move_reason, releases, now);
//   if (d.requeue_after) ...;                    // a promotion gate opens then
//
// Guarantees:
//   - A pin only ever moves to a Released, unrevoked release that is not being
//     deleted; when what it asks for is not usable it keeps its last resolution
//     (Decision::target is the current one or null) and says why (`reason`).
//   - Revocation never moves a pin: a pin on a revoked version stays there, and a
//     `track` pin never goes back to an older version on its own (only forward,
//     or wherever a person points it by editing the spec).
//   - A version the pin has resolved to before (its own history) skips the gates.
//   - Messages that end up in conditions are stable while nothing in the world
//     changes (`stable_message`), so a reconcile at steady state writes nothing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/api/environment_pin.h"
#include "controller/api/image_release.h"
#include "controller/api/semver.h"
#include "controller/common/clock.h"
#include "controller/kube/resource.h"

namespace vmrelease::pin {

// Condition and Event reasons besides api::kReason* (environment_pin.h).
namespace reason {
inline constexpr char kResolved[] = "Resolved";
inline constexpr char kNotResolved[] = "NotResolved";
inline constexpr char kDuplicatePin[] = "DuplicatePin";
inline constexpr char kInvalidSpec[] = "InvalidSpec";
inline constexpr char kExportFailed[] = "ExportFailed";
// Why a pin moved (status.history[].reason and the Normal Event's reason).
inline constexpr char kPinned[] = "Pinned";
inline constexpr char kTracked[] = "Tracked";
inline constexpr char kRolledBack[] = "RolledBack";
}  // namespace reason

// What a pin needs to know about an ImageRelease (read straight from its JSON,
// so a cache of 1,000 releases is not fully parsed on every pin reconcile).
struct ReleaseView {
  std::string name;
  std::string image;
  std::string version;    // spec.version as written
  api::Version parsed;    // spec.version, parsed
  std::string phase;      // status.phase ("" before the first reconcile)
  bool revoked = false;   // spec.revocation set or phase Revoked
  bool deleting = false;  // metadata.deletionTimestamp set
  std::string created;    // metadata.creationTimestamp (duplicate versions: oldest wins)
  std::vector<api::ChangelogEntry> changelog;
  std::optional<std::string> gallery_image_version_id;
  std::optional<std::string> vhd_uri;  // the published blob (else the artifact's), never a SAS
  std::optional<std::string> sha256;

  bool Released() const { return phase == "Released" && !revoked; }
  // Usable for a new resolution.
  bool Usable() const { return Released() && !deleting; }
};

// A view of a release, or nullopt when its spec.version is not a release version
// (such a release can never be resolved to).
std::optional<ReleaseView> ViewOfRelease(const kube::Json& release);

struct Decision {
  // DuplicatePin or InvalidSpec: the user must act; nothing else was judged.
  bool stalled = false;
  // The release the pin resolves to after this reconcile: the current one when it
  // stays, null when it has none and gets none.
  std::optional<ReleaseView> target;
  // Set when `target` differs from the current resolution: Pinned, Tracked, RolledBack.
  std::optional<std::string> move_reason;
  // The Ready condition (and Stalled when `stalled`).
  bool ready = false;
  std::string reason;
  std::string message;
  // A prefix of `message` that stays the same while the world does: a condition
  // whose reason matches and whose message starts with it is left alone.
  std::string stable_message;
  // A promotion gate opens this long from now: look again then.
  std::optional<Duration> requeue_after;
  // The current resolution's release is revoked.
  bool revoked = false;
  // Released, unrevoked versions newer than the resolution, and the newest one.
  std::optional<int64_t> behind_by;
  std::optional<std::string> latest_version;
};

// Decides what `pin` resolves to. `releases` are the releases of its image in its
// namespace (any order); `others` the other pins of its image in its namespace.
Decision Resolve(const api::EnvironmentPin& pin, const std::vector<ReleaseView>& releases,
                 const std::vector<api::EnvironmentPin>& others, WallTime now);

// The result of the promotion gates of `pin` for `version`.
struct GateResult {
  bool open = true;
  // Why it is closed, for people; it does not depend on `now` (so a condition
  // carrying it is not rewritten while nothing changes).
  std::string message;
  std::optional<WallTime> opens_at;  // when every closed gate will have opened, if known
};
GateResult CheckGates(const api::EnvironmentPin& pin, const std::string& version,
                      const std::vector<api::EnvironmentPin>& others, WallTime now);

// Moves `status` to `target`: closes the current history entry, prepends the new
// one (at most api::kMaxPinHistory), sets `resolved` (since = now) and `changes`
// (every changelog entry of the versions between the previous resolution,
// exclusive, and the new one, inclusive, newest first; moving back lists what is
// undone).
void Move(api::EnvironmentPinStatus& status, const ReleaseView& target, const std::string& reason,
          const std::vector<ReleaseView>& releases, WallTime now);

// The changelog entries between two versions (see Move). `from` empty: only `to`'s.
std::vector<api::ChangeRecord> ChangesBetween(const std::string& from, const std::string& to,
                                              const std::vector<ReleaseView>& releases);

// Whether `pin` lost to an older pin of the same environment and image in `others`.
std::optional<std::string> DuplicateOf(const api::EnvironmentPin& pin,
                                       const std::vector<api::EnvironmentPin>& others);

}  // namespace vmrelease::pin
