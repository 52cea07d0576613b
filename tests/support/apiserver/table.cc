#include "tests/support/apiserver/table.h"

#include <cctype>

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

ApiError PathError(const std::string& expr, const std::string& why) {
  return ApiError::BadRequest("unrecognized JSONPath " + expr + ": " + why);
}

std::vector<std::string> SplitDots(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty()) out.push_back(part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

const json* Walk(const json& v, const std::vector<std::string>& path) {
  const json* cur = &v;
  for (const auto& p : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(p);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

}  // namespace

ApiOr<JsonPath> JsonPath::Parse(const std::string& expression) {
  std::string e = expression;
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.back()))) e.pop_back();
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.front()))) e.erase(0, 1);
  if (e.size() >= 2 && e.front() == '{' && e.back() == '}') e = e.substr(1, e.size() - 2);
  if (!e.empty() && e[0] == '$') e.erase(0, 1);
  JsonPath jp;
  size_t i = 0;
  while (i < e.size()) {
    if (e[i] == '.') {
      ++i;
      size_t start = i;
      while (i < e.size() && e[i] != '.' && e[i] != '[') ++i;
      std::string name = e.substr(start, i - start);
      if (name.empty()) continue;  // "..": treat as "."
      Step s{Step::kField};
      s.field = name;
      if (name == "*") s.kind = Step::kWildcard;
      jp.steps_.push_back(s);
    } else if (e[i] == '[') {
      size_t close = std::string::npos;
      // Filters may contain ']' inside quotes: find the matching bracket.
      bool in_quote = false;
      char q = 0;
      for (size_t j = i + 1; j < e.size(); ++j) {
        if (in_quote) {
          if (e[j] == q) in_quote = false;
        } else if (e[j] == '"' || e[j] == '\'') {
          in_quote = true, q = e[j];
        } else if (e[j] == ']') {
          close = j;
          break;
        }
      }
      if (close == std::string::npos) return PathError(expression, "unclosed [");
      std::string inner = e.substr(i + 1, close - i - 1);
      i = close + 1;
      Step s{Step::kIndex};
      if (inner == "*") {
        s.kind = Step::kWildcard;
      } else if (!inner.empty() && (inner[0] == '\'' || inner[0] == '"')) {
        s.kind = Step::kField;
        s.field = inner.substr(1, inner.size() - 2);
      } else if (inner.rfind("?(", 0) == 0 && inner.back() == ')') {
        s.kind = Step::kFilter;
        std::string cond = inner.substr(2, inner.size() - 3);
        size_t op = cond.find("==");
        size_t ne = cond.find("!=");
        std::string lhs = cond;
        std::string rhs;
        if (ne != std::string::npos && (op == std::string::npos || ne < op)) {
          s.op = Step::kNe;
          lhs = cond.substr(0, ne);
          rhs = cond.substr(ne + 2);
        } else if (op != std::string::npos) {
          s.op = Step::kEq;
          lhs = cond.substr(0, op);
          rhs = cond.substr(op + 2);
        }
        auto trim = [](std::string x) {
          size_t a = x.find_first_not_of(" \t"), b = x.find_last_not_of(" \t");
          return a == std::string::npos ? std::string() : x.substr(a, b - a + 1);
        };
        lhs = trim(lhs);
        rhs = trim(rhs);
        if (lhs.rfind("@", 0) != 0) return PathError(expression, "filter must start with @");
        s.filter_path = SplitDots(lhs.substr(1));
        if (s.op != Step::kExists) {
          if (rhs.size() >= 2 && (rhs[0] == '"' || rhs[0] == '\'')) {
            s.filter_value = rhs.substr(1, rhs.size() - 2);
          } else {
            try {
              s.filter_value = json::parse(rhs);
            } catch (const json::exception&) {
              return PathError(expression, "bad filter value " + rhs);
            }
          }
        }
      } else {
        try {
          s.index = std::stoi(inner);
        } catch (const std::exception&) {
          return PathError(expression, "bad index " + inner);
        }
      }
      jp.steps_.push_back(s);
    } else {
      return PathError(expression, std::string("unexpected '") + e[i] + "'");
    }
  }
  return jp;
}

std::vector<json> JsonPath::Evaluate(const json& root) const {
  std::vector<const json*> cur = {&root};
  for (const auto& s : steps_) {
    std::vector<const json*> next;
    for (const json* v : cur) {
      switch (s.kind) {
        case Step::kField:
          if (v->is_object()) {
            auto it = v->find(s.field);
            if (it != v->end()) next.push_back(&*it);
          }
          break;
        case Step::kIndex:
          if (v->is_array()) {
            int n = static_cast<int>(v->size());
            int idx = s.index < 0 ? n + s.index : s.index;
            if (idx >= 0 && idx < n) next.push_back(&(*v)[idx]);
          }
          break;
        case Step::kWildcard:
          if (v->is_array() || v->is_object())
            for (const auto& e : *v) next.push_back(&e);
          break;
        case Step::kFilter:
          if (v->is_array()) {
            for (const auto& e : *v) {
              const json* f = Walk(e, s.filter_path);
              bool keep = s.op == Step::kExists ? f != nullptr
                          : s.op == Step::kEq   ? (f != nullptr && *f == s.filter_value)
                                                : (f == nullptr || *f != s.filter_value);
              if (keep) next.push_back(&e);
            }
          }
          break;
      }
    }
    cur = std::move(next);
  }
  std::vector<json> out;
  out.reserve(cur.size());
  for (const json* v : cur) out.push_back(*v);
  return out;
}

std::string HumanDuration(std::chrono::seconds d) {
  const long long seconds = d.count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  const long long minutes = seconds / 60;
  if (minutes < 10) {
    long long s = seconds % 60;
    return s == 0 ? std::to_string(minutes) + "m"
                  : std::to_string(minutes) + "m" + std::to_string(s) + "s";
  }
  if (minutes < 180) return std::to_string(minutes) + "m";
  const long long hours = seconds / 3600;
  if (hours < 8) {
    long long m = minutes % 60;
    return m == 0 ? std::to_string(hours) + "h"
                  : std::to_string(hours) + "h" + std::to_string(m) + "m";
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    long long h = hours % 24;
    return h == 0 ? std::to_string(hours / 24) + "d"
                  : std::to_string(hours / 24) + "d" + std::to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    long long dy = (hours / 24) % 365;
    return dy == 0 ? std::to_string(hours / 24 / 365) + "y"
                   : std::to_string(hours / 24 / 365) + "y" + std::to_string(dy) + "d";
  }
  return std::to_string(hours / 24 / 365) + "y";
}

std::string AgeSince(const std::string& rfc3339, WallTime now) {
  WallTime t;
  if (rfc3339.empty() || !ParseRfc3339(rfc3339, &t)) return "<unknown>";
  return HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - t));
}

json CellFor(const PrinterColumn& column, const json& obj, WallTime now) {
  if (column.compute) return column.compute(obj, now);
  std::vector<json> results;
  if (column.parsed) {
    results = column.parsed->Evaluate(obj);
  } else {
    auto path = JsonPath::Parse(column.json_path);
    if (!path.ok()) return nullptr;
    results = path->Evaluate(obj);
  }
  if (results.empty()) return nullptr;
  const json& v = results[0];
  if (column.type == "string") {
    return v.is_string() ? v.get<std::string>() : v.dump();
  }
  if (column.type == "integer") {
    if (v.is_number()) return static_cast<int64_t>(v.get<double>());
    return nullptr;
  }
  if (column.type == "number") return v.is_number() ? v : json();
  if (column.type == "boolean") return v.is_boolean() ? v : json();
  if (column.type == "date") {
    if (!v.is_string()) return nullptr;
    WallTime t;
    if (!ParseRfc3339(v.get<std::string>(), &t)) return "<invalid>";
    return AgeSince(v.get<std::string>(), now);
  }
  return nullptr;
}

std::vector<PrinterColumn> DefaultColumns() {
  PrinterColumn age{"Age",
                    "string",
                    "",
                    "CreationTimestamp is a timestamp representing the server time when this "
                    "object was created.",
                    0,
                    ".metadata.creationTimestamp"};
  age.compute = [](const json& obj, WallTime now) -> json {
    return AgeSince(obj["metadata"].value("creationTimestamp", ""), now);
  };
  return {age};
}

json BuildTable(const std::vector<PrinterColumn>& columns, const std::vector<const json*>& objects,
                IncludeObject include, const std::string& resource_version,
                const std::string& continue_token, WallTime now, const std::string& api_version,
                int name_priority) {
  json defs = json::array();
  defs.push_back({{"name", "Name"},
                  {"type", "string"},
                  {"format", "name"},
                  {"description",
                   "Name must be unique within a namespace. Is required when creating resources, "
                   "although some resources may allow a client to request the generation of an "
                   "appropriate name automatically. Name is primarily intended for creation "
                   "idempotence and configuration definition. Cannot be updated. More info: "
                   "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"},
                  {"priority", name_priority}});
  for (const auto& c : columns) {
    defs.push_back({{"name", c.name},
                    {"type", c.type == "date" ? "date" : c.type},
                    {"format", c.format},
                    {"description", c.description},
                    {"priority", c.priority}});
  }
  json rows = json::array();
  for (const json* obj : objects) {
    json cells = json::array();
    cells.push_back((*obj)["metadata"].value("name", ""));
    for (const auto& c : columns) cells.push_back(CellFor(c, *obj, now));
    json row = {{"cells", cells}};
    if (include == IncludeObject::kObject) {
      row["object"] = *obj;
      if (!api_version.empty()) row["object"]["apiVersion"] = api_version;
    } else if (include == IncludeObject::kMetadata) {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", (*obj)["metadata"]}};
    }
    rows.push_back(std::move(row));
  }
  json meta = {{"resourceVersion", resource_version}};
  if (!continue_token.empty()) meta["continue"] = continue_token;
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", meta},
          {"columnDefinitions", defs},
          {"rows", rows}};
}

}  // namespace vmrelease::apiserver
