// `kubectl get` human output: a meta.k8s.io/v1 Table built from printer
// columns (a CRD's additionalPrinterColumns, or fixed columns for built-ins),
// plus the JSONPath subset printer columns use in practice.
//
//   auto path = JsonPath::Parse(".status.conditions[?(@.type==\"Ready\")].status");
//   std::vector<nlohmann::json> v = path->Evaluate(obj);   // {"True"}
//
//   nlohmann::json t = BuildTable(columns, {&obj1, &obj2}, IncludeObject::kMetadata, "42", "",
//   now);
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/common/clock.h"
#include "tests/support/apiserver/errors.h"

namespace vmrelease::apiserver {

// Supports `.a.b`, `['a.b']`, `[N]`, `[*]`, `[?(@.k=="v")]` / `!=` / `[?(@.k)]`,
// optionally wrapped in `{...}`.
class JsonPath {
 public:
  static ApiOr<JsonPath> Parse(const std::string& expression);
  // Every value the path selects, in document order.
  std::vector<nlohmann::json> Evaluate(const nlohmann::json& root) const;

 private:
  struct Step {
    enum Kind { kField, kIndex, kWildcard, kFilter } kind;
    std::string field;
    int index = 0;
    std::vector<std::string> filter_path;  // relative to @
    enum FilterOp { kExists, kEq, kNe } op = kExists;
    nlohmann::json filter_value;
  };
  std::vector<Step> steps_;
};

struct PrinterColumn {
  std::string name;
  std::string type = "string";  // string | integer | number | boolean | date
  std::string format;
  std::string description;
  int priority = 0;
  std::string json_path;                   // used when `compute` is empty
  std::shared_ptr<const JsonPath> parsed;  // json_path parsed once (else parsed per cell)
  // Computes the cell for built-in columns (e.g. the number of data keys).
  std::function<nlohmann::json(const nlohmann::json& obj, WallTime now)> compute;
};

enum class IncludeObject { kNone, kMetadata, kObject };

// "5m", "3h2m", "2d": apimachinery's duration.HumanDuration.
std::string HumanDuration(std::chrono::seconds d);
// Age cell for an RFC 3339 timestamp ("<unknown>" when absent/invalid).
std::string AgeSince(const std::string& rfc3339, WallTime now);

// The cell a column shows for `obj` (null when the path selects nothing).
nlohmann::json CellFor(const PrinterColumn& column, const nlohmann::json& obj, WallTime now);

// `api_version`, when set, replaces apiVersion in rows that embed the whole object.
// `name_priority` > 0 hides the Name column outside `-o wide` (as for Events).
nlohmann::json BuildTable(const std::vector<PrinterColumn>& columns,
                          const std::vector<const nlohmann::json*>& objects, IncludeObject include,
                          const std::string& resource_version, const std::string& continue_token,
                          WallTime now, const std::string& api_version = "", int name_priority = 0);

// Name + Age, what the server shows for kinds without printer columns.
std::vector<PrinterColumn> DefaultColumns();

}  // namespace vmrelease::apiserver
