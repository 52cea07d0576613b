// Validate / ValidateUpdate for ImageRelease. Each CEL rule of
// crds/imagereleases.vmrelease.io.yaml appears here with the same message
// (tests/unit/api/cel_test checks each rule against a real CEL evaluator:
// same message at the same field path, once per failure).
#include <algorithm>
#include <regex>
#include <set>

#include "controller/api/regions.h"
#include "controller/api/validation.h"
#include "controller/api/validation_util.h"

namespace vmrelease::api {
namespace {

using internal::CheckDuration;
using internal::CheckLabel;
using internal::CheckReleaseVersion;
using internal::CheckSubdomain;
using internal::ErrorList;
using internal::ParseCrdDuration;
using namespace std::chrono_literals;
using Type = FieldError::Type;

const std::regex kSubscriptionId(
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
const std::regex kResourceGroup("^[-A-Za-z0-9_.()]*[-A-Za-z0-9_()]$");
const std::regex kGalleryName("^[A-Za-z0-9]([A-Za-z0-9_.]*[A-Za-z0-9])?$");
const std::regex kImageDefinition("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$");
const std::regex kVmSize("^[A-Za-z0-9_]+$");
const std::regex kPublisherOfferSku("^[A-Za-z0-9][-A-Za-z0-9_.]*$");
const std::regex kPlatformVersion("^(latest|[0-9]+\\.[0-9]+\\.[0-9]+)$");
const std::regex kGalleryImageVersionId(
    "^/subscriptions/[0-9a-fA-F-]{36}/resource[Gg]roups/[^/]+/providers/[Mm]icrosoft\\.[Cc]ompute/"
    "galleries/[^/]+/images/[^/]+/versions/[^/]+$");
const std::regex kSubnetId(
    "^/subscriptions/[0-9a-fA-F-]{36}/resource[Gg]roups/[^/]+/providers/[Mm]icrosoft\\.[Nn]etwork/"
    "virtual[Nn]etworks/[^/]+/subnets/[^/]+$");
const std::regex kIdentityId(
    "^/subscriptions/[0-9a-fA-F-]{36}/resource[Gg]roups/[^/]+/providers/"
    "[Mm]icrosoft\\.[Mm]anaged[Ii]dentity/user[Aa]ssigned[Ii]dentities/[^/]+$");
const std::regex kContainerName("^[a-z0-9]+(-[a-z0-9]+)*$");
const std::regex kHttpUrl("^https?://[^\\s/?#]+(/[^\\s?#]*)?$");
const std::regex kLoopbackHttp("^http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]+)?(/.*)?$");

// A required string matching `pattern`; `what` completes "... is not <what>".
void CheckPattern(ErrorList& e, const std::string& field, const std::string& value,
                  const std::regex& pattern, size_t max_length, const char* what) {
  if (!e.RequireString(field, value)) return;
  if (value.size() > max_length || !std::regex_match(value, pattern)) {
    e.Invalid(field, "\"" + value + "\" is not " + what);
  }
}

void CheckRegion(ErrorList& e, const std::string& field, const std::string& value) {
  if (!e.RequireString(field, value)) return;
  if (IsKnownAzureRegion(value)) return;
  std::string suggestion = SuggestAzureRegion(value);
  e.Add(Type::kNotSupported, field,
        "unknown Azure region \"" + value + "\"" +
            (suggestion.empty() ? "; use a region's programmatic name, e.g. westeurope"
                                : "; did you mean \"" + suggestion + "\"?"));
}

// A core/v1 PodTemplateSpec kept as JSON: the parts the CRD declares.
void CheckPodTemplate(ErrorList& e, const std::string& field, const Json& t) {
  if (t.is_null()) {
    e.Required(field);
    return;
  }
  if (!t.is_object()) {
    e.Invalid(field, "must be an object (a PodTemplateSpec)");
    return;
  }
  auto spec = t.find("spec");
  if (spec == t.end() || !spec->is_object()) {
    e.Required(field + ".spec");
    return;
  }
  auto containers = spec->find("containers");
  if (containers == spec->end() || !containers->is_array() || containers->empty()) {
    e.Add(Type::kRequired, field + ".spec.containers", "at least one container is required");
  } else {
    for (size_t i = 0; i < containers->size(); ++i) {
      const Json& c = (*containers)[i];
      std::string path = IndexPath(field + ".spec.containers", i);
      if (!c.is_object()) {
        e.Invalid(path, "must be an object (a Container)");
        continue;
      }
      auto name = c.find("name");
      if (name == c.end() || !name->is_string()) {
        e.Required(path + ".name");
      } else {
        CheckLabel(e, path + ".name", name->get<std::string>());
      }
      auto image = c.find("image");
      if (image == c.end() || !image->is_string() || image->get<std::string>().empty()) {
        e.Required(path + ".image");
      }
    }
  }
  auto restart = spec->find("restartPolicy");
  if (restart != spec->end() &&
      !(restart->is_string() && (*restart == "Never" || *restart == "OnFailure"))) {
    e.Add(Type::kNotSupported, field + ".spec.restartPolicy",
          "supported values: \"Never\", \"OnFailure\" (a Job's Pod cannot restart Always)");
  }
}

void CheckLocalCommand(ErrorList& e, const std::string& field, const LocalCommand& local) {
  if (local.command.empty()) {
    e.Add(Type::kRequired, field + ".command", "the program to run is required");
  } else if (local.command[0].empty()) {
    e.Invalid(IndexPath(field + ".command", 0), "the program name must not be empty");
  }
}

int CountSet(std::initializer_list<bool> set) {
  int n = 0;
  for (bool b : set) n += b ? 1 : 0;
  return n;
}

void CheckSource(ErrorList& e, const ImageRelease& r) {
  const ReleaseSource& s = r.spec.source;
  if (CountSet({s.platform_image.has_value(), s.gallery_image_version_id.has_value(),
                s.release.has_value()}) != 1) {
    e.Invalid("spec.source",
              "exactly one of platformImage, galleryImageVersionId, release must be set");
  }
  if (s.platform_image) {
    const PlatformImage& p = *s.platform_image;
    CheckPattern(e, "spec.source.platformImage.publisher", p.publisher, kPublisherOfferSku, 128,
                 "a publisher name");
    CheckPattern(e, "spec.source.platformImage.offer", p.offer, kPublisherOfferSku, 128,
                 "an offer name");
    CheckPattern(e, "spec.source.platformImage.sku", p.sku, kPublisherOfferSku, 128, "a SKU name");
    if (p.version) {
      CheckPattern(e, "spec.source.platformImage.version", *p.version, kPlatformVersion, 64,
                   "\"latest\" or a MAJOR.MINOR.PATCH platform image version");
    }
  }
  if (s.gallery_image_version_id) {
    CheckPattern(e, "spec.source.galleryImageVersionId", *s.gallery_image_version_id,
                 kGalleryImageVersionId, 1024,
                 "a gallery image version resource id (/subscriptions/.../galleries/G/images/D/"
                 "versions/V)");
  }
  if (s.release) {
    CheckSubdomain(e, "spec.source.release", *s.release);
    if (!r.metadata.name.empty() && *s.release == r.metadata.name) {
      e.Invalid("spec.source.release", "a release cannot be built on itself");
    }
  }
}

void CheckBuild(ErrorList& e, const BuildSpec& b) {
  if (CountSet({b.job.has_value(), b.image_builder.has_value(), b.local.has_value()}) != 1) {
    e.Invalid("spec.build", "exactly one of job, imageBuilder, local must be set");
  }
  if (b.job) CheckPodTemplate(e, "spec.build.job.template", b.job->pod_template);
  if (b.image_builder) {
    const ImageBuilderBackend& ib = *b.image_builder;
    const std::string f = "spec.build.imageBuilder";
    CheckRegion(e, f + ".location", ib.location);
    CheckPattern(e, f + ".subscriptionId", ib.subscription_id, kSubscriptionId, 36,
                 "a subscription id (a GUID)");
    CheckPattern(e, f + ".resourceGroup", ib.resource_group, kResourceGroup, 90,
                 "a resource group name");
    CheckPattern(e, f + ".identityId", ib.identity_id, kIdentityId, 1024,
                 "a user-assigned managed identity resource id");
    if (ib.vm_size) CheckPattern(e, f + ".vmSize", *ib.vm_size, kVmSize, 64, "a VM size");
    if (ib.os_disk_size_gb && (*ib.os_disk_size_gb < 1 || *ib.os_disk_size_gb > 4095)) {
      e.Invalid(f + ".osDiskSizeGB", "must be between 1 and 4095");
    }
    if (ib.subnet_id) {
      CheckPattern(e, f + ".subnetId", *ib.subnet_id, kSubnetId, 1024, "a subnet resource id");
    }
    for (size_t i = 0; i < ib.customize.size(); ++i) {
      const Json& c = ib.customize[i];
      std::string path = IndexPath(f + ".customize", i);
      auto type = c.is_object() ? c.find("type") : c.end();
      static const std::set<std::string> kTypes = {"Shell", "PowerShell", "WindowsRestart",
                                                   "WindowsUpdate", "File"};
      if (!c.is_object() || type == c.end()) {
        e.Required(path + ".type");
      } else if (!type->is_string() || !kTypes.contains(type->get<std::string>())) {
        e.Add(Type::kNotSupported, path + ".type",
              "supported values: \"Shell\", \"PowerShell\", \"WindowsRestart\", "
              "\"WindowsUpdate\", \"File\"");
      }
    }
  }
  if (b.local) CheckLocalCommand(e, "spec.build.local", *b.local);
  CheckDuration(e, "spec.build.timeout", b.timeout, 5min, 24h,
                "build.timeout must be between 5m and 24h");
  // The CEL rule on spec.build, reported there. It is a rule of its own: a 30h
  // timeout with imageBuilder fails both this one and the range rule above.
  std::optional<Duration> timeout = b.timeout ? ParseCrdDuration(*b.timeout) : std::nullopt;
  if (b.image_builder && timeout && *timeout > 16h) {
    e.Invalid("spec.build",
              "build.timeout must be at most 16h with imageBuilder (Azure VM Image Builder's "
              "limit)");
  }
}

void CheckValidation(ErrorList& e, const ValidationSpec& v) {
  if (CountSet({v.vm.has_value(), v.job.has_value(), v.local.has_value()}) != 1) {
    e.Invalid("spec.validation", "exactly one of vm, job, local must be set");
  }
  if (v.vm) {
    const std::string f = "spec.validation.vm";
    CheckRegion(e, f + ".location", v.vm->location);
    CheckPattern(e, f + ".size", v.vm->size, kVmSize, 64, "a VM size");
    if (!v.vm->os_type) e.Required(f + ".osType");
    CheckPattern(e, f + ".subnetId", v.vm->subnet_id, kSubnetId, 1024, "a subnet resource id");
    CheckPattern(e, f + ".resourceGroup", v.vm->resource_group, kResourceGroup, 90,
                 "a resource group name");
  }
  if (v.job) CheckPodTemplate(e, "spec.validation.job.template", v.job->pod_template);
  if (v.local) CheckLocalCommand(e, "spec.validation.local", *v.local);

  CheckDuration(e, "spec.validation.timeout", v.timeout, 5min, 12h,
                "validation.timeout must be between 5m and 12h");
  const std::optional<Duration> total = v.timeout ? ParseCrdDuration(*v.timeout) : std::nullopt;
  bool check_outlasts_validation = false;
  if (v.checks.empty()) {
    e.Add(Type::kRequired, "spec.validation.checks", "at least one check is required");
  } else if (v.checks.size() > 50) {
    e.Add(Type::kTooMany, "spec.validation.checks", "at most 50 checks are allowed");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < v.checks.size(); ++i) {
    const Check& c = v.checks[i];
    std::string path = IndexPath("spec.validation.checks", i);
    CheckLabel(e, path + ".name", c.name);
    if (!c.name.empty() && !names.insert(c.name).second) {
      e.Add(Type::kDuplicate, path + ".name", "Duplicate value: \"" + c.name + "\"");
    }
    e.RequireString(path + ".script", c.script);
    if (c.expect) {
      if (c.expect->exit_code && (*c.expect->exit_code < 0 || *c.expect->exit_code > 255)) {
        e.Invalid(path + ".expect.exitCode", "must be between 0 and 255");
      }
      if (c.expect->output_matches) {
        try {
          std::regex re(*c.expect->output_matches, std::regex::ECMAScript | std::regex::multiline);
        } catch (const std::regex_error& err) {
          e.Invalid(
              path + ".expect.outputMatches",
              "invalid regular expression \"" + *c.expect->output_matches + "\": " + err.what());
        }
      }
    }
    CheckDuration(e, path + ".timeout", c.timeout, 10s, 2h,
                  "checks[].timeout must be between 10s and 2h");
    const std::optional<Duration> timeout = c.timeout ? ParseCrdDuration(*c.timeout) : std::nullopt;
    if (timeout && total && *timeout > *total) check_outlasts_validation = true;
  }
  // The CEL rule on spec.validation (self.checks.all(...)): one error there,
  // however many checks outlast the validation, as the API server reports it.
  if (check_outlasts_validation) {
    e.Invalid("spec.validation", "every checks[].timeout must be at most validation.timeout");
  }
  // The CEL rule on spec.validation (self.checks.filter(...).size() <= 1).
  const auto inventory_checks = std::count_if(v.checks.begin(), v.checks.end(),
                                              [](const Check& c) { return c.IsInventory(); });
  if (inventory_checks > 1) {
    e.Invalid("spec.validation", "at most one check may set inventory: true");
  }
}

void CheckPublish(ErrorList& e, const PublishSpec& p) {
  if (!p.gallery && !p.blob) e.Invalid("spec.publish", "at least one of gallery, blob must be set");
  if (p.credentials) {
    if (!p.credentials->secret_ref) {
      e.Required("spec.publish.credentials.secretRef");
    } else {
      CheckSubdomain(e, "spec.publish.credentials.secretRef.name", p.credentials->secret_ref->name);
    }
  }
  if (p.gallery) {
    const GalleryTarget& g = *p.gallery;
    const std::string f = "spec.publish.gallery";
    CheckPattern(e, f + ".subscriptionId", g.subscription_id, kSubscriptionId, 36,
                 "a subscription id (a GUID)");
    CheckPattern(e, f + ".resourceGroup", g.resource_group, kResourceGroup, 90,
                 "a resource group name");
    CheckPattern(e, f + ".gallery", g.gallery, kGalleryName, 80,
                 "a gallery name (letters, digits, '_' and '.')");
    CheckPattern(e, f + ".imageDefinition", g.image_definition, kImageDefinition, 80,
                 "an image definition name (letters, digits, '-', '_' and '.')");
    if (g.target_regions.empty()) {
      e.Add(Type::kRequired, f + ".targetRegions", "at least one target region is required");
    } else if (g.target_regions.size() > 50) {
      e.Add(Type::kTooMany, f + ".targetRegions", "at most 50 target regions are allowed");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < g.target_regions.size(); ++i) {
      const TargetRegion& t = g.target_regions[i];
      std::string path = IndexPath(f + ".targetRegions", i);
      CheckRegion(e, path + ".name", t.name);
      if (!t.name.empty() && !seen.insert(t.name).second) {
        e.Add(Type::kDuplicate, path + ".name", "Duplicate value: \"" + t.name + "\"");
      }
      if (t.replicas && (*t.replicas < 1 || *t.replicas > 100)) {
        e.Invalid(path + ".replicas", "must be between 1 and 100");
      }
    }
  }
  if (p.blob) {
    const std::string f = "spec.publish.blob";
    const std::string& url = p.blob->account_url;
    // Never echo the URL: a mistaken SAS token in it would end up in events and logs.
    if (e.RequireString(f + ".accountUrl", url)) {
      if (url.find('?') != std::string::npos) {
        e.Invalid(f + ".accountUrl",
                  "must not contain a query string: a SAS token belongs in "
                  "publish.credentials, never in the spec");
      } else if (!std::regex_match(url, kHttpUrl)) {
        e.Invalid(f + ".accountUrl",
                  "must be an http(s) URL such as https://acct.blob.core.windows.net");
      } else if (!url.starts_with("https://") && !std::regex_match(url, kLoopbackHttp)) {
        e.Invalid(f + ".accountUrl",
                  "accountUrl must use https (plain http is allowed only for a loopback emulator "
                  "such as Azurite)");
      }
    }
    const std::string& c = p.blob->container;
    if (e.RequireString(f + ".container", c) &&
        (c.size() < 3 || c.size() > 63 || !std::regex_match(c, kContainerName))) {
      e.Invalid(f + ".container", "\"" + c +
                                      "\" is not a container name (3-63 lowercase letters, "
                                      "digits and single hyphens)");
    }
  }
}

}  // namespace

FieldErrors Validate(const ImageRelease& release) {
  // The CRD's rules see the object after the API server applied its defaults
  // (e.g. validation.timeout: 1h), so these checks do too.
  ImageRelease r = release;
  SetDefaults(r);
  ErrorList e;
  const ImageReleaseSpec& s = r.spec;
  CheckLabel(e, "spec.image", s.image);
  CheckReleaseVersion(e, "spec.version", s.version);
  if (s.changelog.size() > 200) {
    e.Add(Type::kTooMany, "spec.changelog", "at most 200 entries are allowed");
  }
  for (size_t i = 0; i < s.changelog.size(); ++i) {
    std::string path = IndexPath("spec.changelog", i);
    if (!s.changelog[i].kind) e.Required(path + ".kind");
    e.RequireString(path + ".summary", s.changelog[i].summary);
  }
  CheckSource(e, r);
  CheckBuild(e, s.build);
  CheckValidation(e, s.validation);
  CheckPublish(e, s.publish);
  if (s.retention && s.retention->minimum_days &&
      (*s.retention->minimum_days < 0 || *s.retention->minimum_days > 3650)) {
    e.Invalid("spec.retention.minimumDays", "must be between 0 and 3650");
  }
  if (s.revocation) e.RequireString("spec.revocation.reason", s.revocation->reason);
  return std::move(e).Take();
}

FieldErrors ValidateUpdate(const ImageRelease& old_release, const ImageRelease& new_release) {
  FieldErrors errors = Validate(new_release);
  ImageRelease before = old_release;
  ImageRelease after = new_release;
  SetDefaults(before);
  SetDefaults(after);
  auto immutable = [&](const char* field, const Json& a, const Json& b, const char* message) {
    // A transition rule runs only when the field exists on both sides.
    if (IsEmptyJson(a) || IsEmptyJson(b) || a == b) return;
    errors.push_back({Type::kInvalid, field, message});
  };
  immutable("spec.image", before.spec.image, after.spec.image,
            "image is immutable; a different image is a different release, so create a new "
            "ImageRelease");
  immutable("spec.version", before.spec.version, after.spec.version,
            "version is immutable; publish a new version as a new ImageRelease");
  immutable("spec.source", WriteJson(before.spec.source), WriteJson(after.spec.source),
            "source is immutable; build from a different source as a new version");
  immutable("spec.build", WriteJson(before.spec.build), WriteJson(after.spec.build),
            "build is immutable; a different build is a different version");
  return errors;
}

}  // namespace vmrelease::api
