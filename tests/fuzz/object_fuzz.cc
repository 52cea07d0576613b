// libFuzzer target for the controller's object handling: what the API server
// sends (JSON) or a user writes (YAML manifests) goes parse → depth check →
// typed (ImageRelease / EnvironmentPin) → defaults → validation → serialised
// back, as the reconcilers do it, plus the merge patch the reconcilers send and
// log redaction of the result.
//
// Input layout: byte 0 picks the kind and the text format, the rest is the text.
// Besides "no crash, no sanitizer report", it checks:
//   * anything deeper than kMaxObjectDepth is named by FindDeeperThan (and
//     JsonDepth agrees), and nothing below touches it (the reconcilers stall it);
//   * serialising a parsed object and parsing that again gives the same object
//     (typed → JSON → typed is stable), and its validation gives the same errors;
//   * CreateMergePatch(from, to) applied to `from` gives `to` when `to` has no nulls.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/api/environment_pin.h"
#include "controller/api/image_release.h"
#include "controller/api/manifest.h"
#include "controller/api/validation.h"
#include "controller/common/json_depth.h"
#include "controller/common/log.h"
#include "controller/kube/patch.h"

namespace {

using nlohmann::json;
namespace api = vmrelease::api;

void Check(bool ok) {
  if (!ok) std::abort();
}

// True when some value below `j` is null (iteratively).
bool HasNull(const json& j) {
  std::vector<const json*> stack{&j};
  while (!stack.empty()) {
    const json* v = stack.back();
    stack.pop_back();
    if (v->is_null()) return true;
    if (v->is_structured())
      for (const auto& c : *v) stack.push_back(&c);
  }
  return false;
}

std::vector<std::string> Texts(const api::FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.ToString());
  return out;
}

template <typename T, typename ParseFn>
void RoundTrip(const json& obj, ParseFn parse) {
  auto first = parse(obj);
  if (!first.ok()) return;
  T typed = std::move(*first);
  const auto errs = Texts(api::Validate(typed));
  const json out = api::ToJson(typed);
  Check(vmrelease::JsonDepth(out) <= vmrelease::kMaxObjectDepth + 8);
  auto second = parse(json::parse(out.dump()));
  Check(second.ok());
  Check(api::ToJson(*second) == out);
  Check(Texts(api::Validate(*second)) == errs);
  if constexpr (std::is_same_v<T, api::ImageRelease>) {
    api::SetDefaults(typed);
    (void)api::Validate(typed);
  }
  // What a reconciler sends: a merge patch from what it read to what it wants.
  const json to = api::ToJson(typed);
  const json patch = vmrelease::kube::CreateMergePatch(obj, to);
  if (!HasNull(to) && !HasNull(obj)) {
    json applied = obj;
    applied.merge_patch(patch);
    Check(applied == to);
  }
  (void)vmrelease::log::Redact(to.dump());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = [] {
    vmrelease::log::Init(vmrelease::log::Format::kJson, vmrelease::log::Level::kError);
    return true;
  }();
  (void)init;
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  json obj;
  if (mode & 1) {
    auto parsed = api::ParseYamlDocument(text);
    if (!parsed.ok()) return 0;
    obj = std::move(*parsed);
  } else {
    obj = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (obj.is_discarded()) return 0;
  }
  // The reconcilers' first step: refuse what is too deep, before anything copies it.
  const auto where = vmrelease::FindDeeperThan(obj, vmrelease::kMaxObjectDepth, "");
  Check(where.has_value() ==
        (vmrelease::JsonDepth(obj, vmrelease::kMaxObjectDepth) > vmrelease::kMaxObjectDepth));
  if (where) return 0;
  // YAML (unlike JSON) lets invalid UTF-8 through; such text is never sent to the
  // API server (the kube client serialises strictly), so it ends here.
  try {
    (void)obj.dump();
  } catch (const json::type_error&) {
    return 0;
  }
  if (mode & 2) {
    RoundTrip<api::EnvironmentPin>(obj, [](const json& j) { return api::ParseEnvironmentPin(j); });
  } else {
    RoundTrip<api::ImageRelease>(obj, [](const json& j) { return api::ParseImageRelease(j); });
  }
  return 0;
}
