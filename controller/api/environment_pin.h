// EnvironmentPin (vmrelease.io/v1alpha1): an environment pinned to a version of an image.
//
// The C++ shape of crds/environmentpins.vmrelease.io.yaml. Parsing keeps unknown
// members, so ToJson(ParseEnvironmentPin(j)) is equivalent to j.
//
//   ASSIGN_OR_RETURN(EnvironmentPin pin, ParseEnvironmentPin(json));
//   if (pin.spec.track) {
//     ASSIGN_OR_RETURN(Range range, ParseRange(pin.spec.track->semver));   // semver.h
//     std::optional<Version> best = MaxSatisfying(released_versions, range);
//   }
//
// Guarantees: as for ImageRelease (image_release.h), parsing fails only on JSON
// type errors and unknown enum values; Validate (validation.h) reports the rest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/image_release.h"
#include "controller/api/json_fields.h"
#include "controller/api/meta.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::api {

inline constexpr char kEnvironmentPinKind[] = "EnvironmentPin";
inline constexpr char kEnvironmentPinPlural[] = "environmentpins";
// status.history keeps at most this many entries (the CRD's maxItems).
inline constexpr size_t kMaxPinHistory = 50;

// Condition type of an EnvironmentPin (besides Ready, Reconciling, Stalled).
inline constexpr char kConditionResolved[] = "Resolved";

// Reasons a pin is not Ready (DESIGN.md §1).
inline constexpr char kReasonReleaseNotFound[] = "ReleaseNotFound";
inline constexpr char kReasonReleaseNotReady[] = "ReleaseNotReady";
inline constexpr char kReasonReleaseFailed[] = "ReleaseFailed";
inline constexpr char kReasonReleaseRevoked[] = "ReleaseRevoked";
inline constexpr char kReasonPromotionBlocked[] = "PromotionBlocked";

struct VersionTrack {
  std::string semver;  // npm-style range (semver.h)
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("semver", s.semver);
  }
};

struct PromotionRequirement {
  std::string environment;
  std::optional<std::string> for_at_least;  // Go duration, unset means 0s
  Json extra;

  Duration ForAtLeastOrDefault() const;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("environment", s.environment);
    io.Field("forAtLeast", s.for_at_least);
  }
};

struct PromotionSpec {
  std::vector<PromotionRequirement> require_pinned_in;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("requirePinnedIn", s.require_pinned_in);
  }
};

struct ConfigMapExport {
  std::string name;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("name", s.name);
  }
};

struct ExportSpec {
  std::optional<ConfigMapExport> config_map;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("configMap", s.config_map);
  }
};

struct EnvironmentPinSpec {
  std::string environment;
  std::string image;
  std::optional<std::string> version;  // exactly one of version and track
  std::optional<VersionTrack> track;
  std::optional<PromotionSpec> promotion;
  std::optional<ExportSpec> export_spec;  // "export"
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("environment", s.environment);
    io.Field("image", s.image);
    io.Field("version", s.version);
    io.Field("track", s.track);
    io.Field("promotion", s.promotion);
    io.Field("export", s.export_spec);
  }
};

struct ResolvedRelease {
  std::optional<std::string> version;
  std::optional<std::string> release;
  std::optional<std::string> gallery_image_version_id;
  std::optional<std::string> vhd_uri;
  std::optional<std::string> sha256;
  std::optional<std::string> since;  // RFC 3339
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("version", s.version);
    io.Field("release", s.release);
    io.Field("galleryImageVersionId", s.gallery_image_version_id);
    io.Field("vhdUri", s.vhd_uri);
    io.Field("sha256", s.sha256);
    io.Field("since", s.since);
  }
};

struct PinHistoryEntry {
  std::string version;
  std::optional<std::string> release;
  std::string from;               // RFC 3339
  std::optional<std::string> to;  // unset for the current entry
  std::optional<std::string> reason;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Always("version", s.version);
    io.Field("release", s.release);
    io.Always("from", s.from);
    io.Field("to", s.to);
    io.Field("reason", s.reason);
  }
};

struct ChangeRecord {
  std::string version;
  std::optional<ChangeKind> kind;
  std::string summary;
  std::optional<std::string> reference;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Always("version", s.version);
    io.Field("kind", s.kind);
    io.Always("summary", s.summary);
    io.Field("reference", s.reference);
  }
};

struct EnvironmentPinStatus {
  std::optional<int64_t> observed_generation;
  std::optional<ResolvedRelease> resolved;
  std::vector<Condition> conditions;
  std::vector<PinHistoryEntry> history;  // newest first, at most kMaxPinHistory
  std::vector<ChangeRecord> changes;
  std::optional<int64_t> behind_by;
  std::optional<std::string> latest_version;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("observedGeneration", s.observed_generation);
    io.Field("resolved", s.resolved);
    io.Field("conditions", s.conditions);
    io.Field("history", s.history);
    io.Field("changes", s.changes);
    io.Field("behindBy", s.behind_by);
    io.Field("latestVersion", s.latest_version);
  }
};

struct EnvironmentPin {
  std::string api_version;  // vmrelease.io/v1alpha1
  std::string kind;         // EnvironmentPin
  ObjectMeta metadata;
  EnvironmentPinSpec spec;
  std::optional<EnvironmentPinStatus> status;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("apiVersion", s.api_version);
    io.Field("kind", s.kind);
    io.Field("metadata", s.metadata);
    io.Field("spec", s.spec);
    io.Field("status", s.status);
  }
};

// Parses an EnvironmentPin from its JSON; errors name the field.
StatusOr<EnvironmentPin> ParseEnvironmentPin(const Json& json);
Json ToJson(const EnvironmentPin& pin);

// (The EnvironmentPin CRD has no defaults: its only optional duration is inside a list.)

}  // namespace vmrelease::api
