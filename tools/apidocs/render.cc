#include "tools/apidocs/render.h"

#include <cctype>
#include <set>
#include <sstream>

namespace vmrelease::apidocs {
namespace {

using Json = nlohmann::ordered_json;

// Prose in a table cell: pipes escaped, "<image>" shown rather than taken for HTML.
std::string Escape(const std::string& text, bool html = true) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (html && c == '<') {
      out += "&lt;";
    } else if (html && c == '>') {
      out += "&gt;";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Inline code that survives a table cell: backticks inside need a longer fence.
std::string Code(const std::string& text) {
  std::string fence = text.find('`') == std::string::npos ? "`" : "``";
  std::string pad = text.find('`') == std::string::npos ? "" : " ";
  return fence + pad + Escape(text, /*html=*/false) + pad + fence;
}

std::string Scalar(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string TypeOf(const Json& node) {
  std::string type = node.value("type", "");
  bool free_form = node.value("x-kubernetes-preserve-unknown-fields", false);
  if (type == "array") {
    return "[]" + (node.contains("items") ? TypeOf(node.at("items")) : std::string("any"));
  }
  if (type == "object") {
    if (node.contains("additionalProperties") && node.at("additionalProperties").is_object()) {
      return "map[string]" + TypeOf(node.at("additionalProperties"));
    }
    return free_form && !node.contains("properties") ? "object (free-form)" : "object";
  }
  if (type == "integer" && node.contains("format"))
    return "integer (" + Scalar(node.at("format")) + ")";
  if (type.empty() && free_form) return "any";
  if (type == "string" && node.contains("format"))
    return "string (" + Scalar(node.at("format")) + ")";
  return type;
}

bool IsImmutable(const Json& node) {
  for (const auto& rule : node.value("x-kubernetes-validations", Json::array())) {
    if (rule.value("rule", "") == "self == oldSelf") return true;
  }
  return false;
}

// Constraints of a node, as sentences after its description.
std::string Constraints(const Json& node) {
  std::vector<std::string> parts;
  // kubectl explain shows only descriptions, so most already say "Immutable".
  if (IsImmutable(node) && node.value("description", "").find("Immutable") == std::string::npos) {
    parts.push_back("Immutable.");
  }
  if (node.contains("enum")) {
    std::string values;
    for (const auto& v : node.at("enum")) values += (values.empty() ? "" : ", ") + Code(Scalar(v));
    parts.push_back("One of " + values + ".");
  }
  if (node.contains("pattern"))
    parts.push_back("Pattern: " + Code(Scalar(node.at("pattern"))) + ".");
  auto range = [&](const char* lo, const char* hi, const std::string& what) {
    bool has_lo = node.contains(lo);
    bool has_hi = node.contains(hi);
    if (has_lo && has_hi) {
      parts.push_back(what + " " + Scalar(node[lo]) + " to " + Scalar(node[hi]) + ".");
    } else if (has_lo) {
      parts.push_back(what + " at least " + Scalar(node[lo]) + ".");
    } else if (has_hi) {
      parts.push_back(what + " at most " + Scalar(node[hi]) + ".");
    }
  };
  range("minimum", "maximum", "Range:");
  range("minLength", "maxLength", "Length:");
  range("minItems", "maxItems", "Items:");
  range("minProperties", "maxProperties", "Entries:");
  if (node.value("x-kubernetes-list-type", "") == "map") {
    std::string keys;
    for (const auto& k : node.value("x-kubernetes-list-map-keys", Json::array())) {
      keys += (keys.empty() ? "" : ", ") + Code(Scalar(k));
    }
    parts.push_back("Unique by " + keys + ".");
  }
  if (node.value("x-kubernetes-preserve-unknown-fields", false) && node.contains("properties")) {
    parts.push_back("Fields not listed here are kept as written.");
  }
  for (const auto& rule : node.value("x-kubernetes-validations", Json::array())) {
    if (rule.value("rule", "") == "self == oldSelf") continue;
    parts.push_back("Rule: " + Escape(rule.value("message", rule.value("rule", ""))) + ".");
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

class FieldTable {
 public:
  Status Walk(const Json& node, const std::string& path, bool required) {
    if (!path.empty()) {
      if (!node.contains("description")) {
        return InvalidArgumentError("field " + path + " has no description");
      }
      std::string field = Code(path) + (required ? " *" : "");
      std::string def = node.contains("default") ? Code(node.at("default").is_string()
                                                            ? node.at("default").get<std::string>()
                                                            : node.at("default").dump())
                                                 : "";
      std::string description = Escape(node.at("description").get<std::string>());
      std::string constraints = Constraints(node);
      if (!constraints.empty()) description += "<br>" + constraints;
      rows_ << "| " << field << " | " << Escape(TypeOf(node)) << " | " << def << " | "
            << description << " |\n";
    }
    const Json* object = &node;
    std::string prefix = path;
    if (node.value("type", "") == "array" && node.contains("items")) {
      object = &node.at("items");
      prefix = path + "[]";
    } else if (node.contains("additionalProperties") &&
               node.at("additionalProperties").is_object() &&
               node.at("additionalProperties").contains("properties")) {
      object = &node.at("additionalProperties");
      prefix = path + "[key]";
    }
    if (!object->contains("properties")) return Status::Ok();
    std::set<std::string> required_names;
    for (const auto& r : object->value("required", Json::array())) required_names.insert(r);
    for (const auto& [name, child] : (*object).at("properties").items()) {
      if (path.empty() && (name == "apiVersion" || name == "kind" || name == "metadata")) continue;
      std::string child_path = prefix.empty() ? name : prefix + "." + name;
      RETURN_IF_ERROR(Walk(child, child_path, required_names.contains(name)));
    }
    return Status::Ok();
  }
  std::string Rows() const { return rows_.str(); }

 private:
  std::ostringstream rows_;
};

const Json* FindCrd(const std::vector<Json>& crds, const std::string& kind) {
  for (const auto& crd : crds) {
    if (crd.value("/spec/names/kind"_json_pointer, "") == kind) return &crd;
  }
  return nullptr;
}

const Json& ServedVersion(const Json& crd) { return crd.at("spec").at("versions").at(0); }

StatusOr<std::string> Reference(const Json& crd) {
  const Json& names = crd.at("spec").at("names");
  const Json& version = ServedVersion(crd);
  const Json& schema = version.at("schema").at("openAPIV3Schema");
  std::ostringstream out;
  std::string kind = names.at("kind");
  out << "## " << kind << "\n\n";
  out << Escape(schema.value("description", "")) << "\n\n";
  std::string short_names;
  for (const auto& s : names.value("shortNames", Json::array())) {
    short_names += (short_names.empty() ? "" : ", ") + Code(s.get<std::string>());
  }
  out << "`apiVersion: " << crd.at("spec").at("group").get<std::string>() << "/"
      << version.at("name").get<std::string>() << "`, `kind: " << kind << "`, "
      << crd.at("spec").at("scope").get<std::string>() << ", resource `"
      << names.at("plural").get<std::string>() << "`, short name " << short_names
      << (version.contains("subresources") && version.at("subresources").contains("status")
              ? ", with the status subresource (only the controller writes `status`)"
              : "")
      << ".\n\n";
  out << "`kubectl get` columns (`-o wide` adds the last ones):\n\n";
  out << "| Column | Type | Shows |\n|---|---|---|\n";
  for (const auto& col : version.value("additionalPrinterColumns", Json::array())) {
    out << "| " << col.at("name").get<std::string>()
        << (col.value("priority", 0) > 0 ? " (wide)" : "") << " | "
        << col.at("type").get<std::string>() << " | "
        << Escape(col.value("description", "Time since the object was created.")) << " "
        << Code(col.at("jsonPath")) << " |\n";
  }
  out << "\nFields (`*` = required; every field of `spec` and `status`):\n\n";
  out << "| Field | Type | Default | Description |\n|---|---|---|---|\n";
  FieldTable table;
  RETURN_IF_ERROR(table.Walk(schema, "", false), kind);
  out << table.Rows();
  return out.str();
}

std::string Overview(const std::vector<Json>& crds) {
  std::ostringstream out;
  out << "| Kind | API version | Resource | Short name | Category | Scope "
         "|\n|---|---|---|---|---|---|\n";
  for (const auto& crd : crds) {
    const Json& names = crd.at("spec").at("names");
    std::string short_names, categories;
    for (const auto& s : names.value("shortNames", Json::array())) {
      short_names += (short_names.empty() ? "" : ", ") + Code(s.get<std::string>());
    }
    for (const auto& s : names.value("categories", Json::array())) {
      categories += (categories.empty() ? "" : ", ") + Code(s.get<std::string>());
    }
    std::string kind = names.at("kind");
    std::string anchor = kind;
    for (auto& c : anchor) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out << "| [" << kind << "](#" << anchor << ") | `"
        << crd.at("spec").at("group").get<std::string>() << "/"
        << ServedVersion(crd).at("name").get<std::string>() << "` | `"
        << names.at("plural").get<std::string>() << "` | " << short_names << " | " << categories
        << " | " << crd.at("spec").at("scope").get<std::string>() << " |\n";
  }
  return out.str();
}

}  // namespace

StatusOr<std::string> RenderApiDoc(const std::vector<Json>& crds,
                                   const std::string& template_text) {
  std::istringstream in(template_text);
  std::ostringstream out;
  std::string line;
  int line_no = 0;
  try {
    while (std::getline(in, line)) {
      ++line_no;
      if (line.starts_with("{{") && line.ends_with("}}")) {
        std::string directive = line.substr(2, line.size() - 4);
        if (directive == "overview") {
          out << Overview(crds);
          continue;
        }
        if (directive.starts_with("reference ")) {
          std::string kind = directive.substr(10);
          const Json* crd = FindCrd(crds, kind);
          if (!crd)
            return InvalidArgumentError("template line " + std::to_string(line_no) +
                                        ": no CRD for kind " + kind);
          ASSIGN_OR_RETURN(std::string ref, Reference(*crd));
          out << ref;
          continue;
        }
        return InvalidArgumentError("template line " + std::to_string(line_no) +
                                    ": unknown directive " + line);
      }
      out << line << "\n";
    }
  } catch (const Json::exception& e) {
    return InvalidArgumentError(std::string("unexpected CRD shape: ") + e.what());
  }
  return out.str();
}

}  // namespace vmrelease::apidocs
