#include "tests/support/apiserver/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <regex>

namespace vmrelease::apiserver {
namespace {

nlohmann::json Scalar(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  // yaml-cpp tags non-plain (quoted, literal) scalars with "!".
  if (node.Tag() == "!") return s;
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex int_re(R"(^[-+]?(0|[1-9][0-9]*)$)");
  static const std::regex float_re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(s, int_re)) {
    errno = 0;
    long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == 0) return v;
  }
  if (std::regex_match(s, float_re)) return std::strtod(s.c_str(), nullptr);
  return s;
}

nlohmann::json Convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return Scalar(node);
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& e : node) arr.push_back(Convert(e));
      return arr;
    }
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = Convert(kv.second);
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

StatusOr<nlohmann::json> YamlToJson(const std::string& text) {
  try {
    return Convert(YAML::Load(text));
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("parsing YAML: ") + e.what());
  }
}

StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(const std::string& text) {
  try {
    std::vector<nlohmann::json> out;
    for (const auto& doc : YAML::LoadAll(text)) {
      nlohmann::json j = Convert(doc);
      if (!j.is_null()) out.push_back(std::move(j));
    }
    return out;
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("parsing YAML: ") + e.what());
  }
}

}  // namespace vmrelease::apiserver
