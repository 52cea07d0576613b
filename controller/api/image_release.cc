#include "controller/api/image_release.h"

#include "controller/common/duration.h"

namespace vmrelease::api {
namespace {

Duration ParsedOr(const std::optional<std::string>& text, const char* fallback) {
  if (text) {
    auto d = ParseDuration(*text);
    if (d.ok()) return *d;
  }
  return *ParseDuration(fallback);
}

template <typename T>
void Default(std::optional<T>& field, T value) {
  if (!field) field = std::move(value);
}

// The API server defaults fields only inside objects that exist.
template <typename T>
bool Present(const T& object) {
  return !IsEmptyJson(WriteJson(object));
}

}  // namespace

Duration BuildSpec::TimeoutOrDefault() const { return ParsedOr(timeout, kDefaultBuildTimeout); }
Duration Check::TimeoutOrDefault() const { return ParsedOr(timeout, kDefaultCheckTimeout); }
Duration ValidationSpec::TimeoutOrDefault() const {
  return ParsedOr(timeout, kDefaultValidationTimeout);
}

std::string GalleryTarget::ImageVersionId(const std::string& version) const {
  return "/subscriptions/" + subscription_id + "/resourceGroups/" + resource_group +
         "/providers/Microsoft.Compute/galleries/" + gallery + "/images/" + image_definition +
         "/versions/" + version;
}

StatusOr<ImageRelease> ParseImageRelease(const Json& json) {
  RETURN_IF_ERROR(CheckTypeMeta(json, kImageReleaseKind));
  ImageRelease release;
  RETURN_IF_ERROR(ReadJson(json, "", release));
  return release;
}

Json ToJson(const ImageRelease& release) { return WriteJson(release); }

void SetDefaults(ImageRelease& release) {
  ImageReleaseSpec& spec = release.spec;
  if (spec.source.platform_image) {
    Default(spec.source.platform_image->version, std::string(kDefaultPlatformImageVersion));
  }
  if (spec.build.image_builder) {
    Default(spec.build.image_builder->vm_size, std::string(kDefaultImageBuilderVmSize));
  }
  if (Present(spec.build)) Default(spec.build.timeout, std::string(kDefaultBuildTimeout));
  if (Present(spec.validation)) {
    Default(spec.validation.keep_vm_on_failure, false);
    Default(spec.validation.timeout, std::string(kDefaultValidationTimeout));
  }
  if (spec.publish.gallery) Default(spec.publish.gallery->exclude_from_latest, false);
  Default(spec.retention, RetentionSpec{});
  Default(spec.retention->deletion_policy, DeletionPolicy::kRetain);
}

}  // namespace vmrelease::api
