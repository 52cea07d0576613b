// Label and field selectors with Kubernetes syntax and semantics.
//
//   auto sel = LabelSelector::Parse("app=web,tier in (fe,be),!canary");
//   if (sel.ok() && sel->Matches(obj["metadata"]["labels"])) ...
//   auto fs = FieldSelector::Parse("metadata.name=x,metadata.namespace!=kube-system");
//   fs->Matches(obj);
//
// Label operators: `=`, `==`, `!=`, `in (..)`, `notin (..)`, `key` (exists),
// `!key` (does not exist), `>`/`<` (integer compare). `!=` and `notin` match
// objects without the key, like the real server. Field selectors support `=`,
// `==` and `!=` on dotted paths; which paths a resource accepts is decided by
// the caller (CheckFields), as the real server does per resource.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/apiserver/errors.h"

namespace vmrelease::apiserver {

class LabelSelector {
 public:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist, kGreater, kLess };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };

  // Errors: 400 BadRequest on a syntax error. "" selects everything.
  static ApiOr<LabelSelector> Parse(std::string_view text);
  // `labels` is metadata.labels (an object, or null when absent).
  bool Matches(const nlohmann::json& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  struct Requirement {
    std::string field;  // dotted path, e.g. "metadata.name"
    bool equals;        // false for !=
    std::string value;
  };

  static ApiOr<FieldSelector> Parse(std::string_view text);
  // 400 BadRequest naming the first field not in `allowed`.
  ApiError CheckFields(const std::vector<std::string>& allowed, bool* ok) const;
  bool Matches(const nlohmann::json& object) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }
  // Rewrites field paths (e.g. from another API version's names to the stored ones).
  template <typename F>
  void RenameFields(F rename) {
    for (auto& r : requirements_) r.field = rename(r.field);
  }

 private:
  std::vector<Requirement> requirements_;
};

// The string value at a dotted path ("" when absent; numbers/bools as text).
std::string FieldValue(const nlohmann::json& object, const std::string& dotted_path);

}  // namespace vmrelease::apiserver
