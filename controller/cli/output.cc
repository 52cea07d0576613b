#include "controller/cli/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <regex>

namespace vmrelease::cli {
namespace {

const char* Code(Colour c) {
  switch (c) {
    case Colour::kGreen:
      return "\033[32m";
    case Colour::kYellow:
      return "\033[33m";
    case Colour::kRed:
      return "\033[31m";
    case Colour::kBold:
      return "\033[1m";
    case Colour::kNone:
      break;
  }
  return "";
}

// What a YAML 1.1 or 1.2 reader would not take as a plain string.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::regex kSpecial(
      R"(^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N)$)");
  static const std::regex kNumber(
      R"(^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$|^0x[0-9a-fA-F]+$|^0o?[0-7]+$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$)");
  return std::regex_match(s, kSpecial) || std::regex_match(s, kNumber);
}

void Emit(YAML::Emitter& e, const nlohmann::json& v) {
  if (v.is_object()) {
    e << YAML::BeginMap;
    for (auto it = v.begin(); it != v.end(); ++it) {
      e << YAML::Key << it.key() << YAML::Value;
      Emit(e, it.value());
    }
    e << YAML::EndMap;
  } else if (v.is_array()) {
    e << YAML::BeginSeq;
    for (const auto& x : v) Emit(e, x);
    e << YAML::EndSeq;
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (NeedsQuotes(s))
      e << YAML::DoubleQuoted << s;
    else
      e << s;
  } else if (v.is_null()) {
    e << YAML::Null;
  } else {
    e << v.dump();  // numbers and booleans as JSON writes them
  }
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::Add(std::vector<Cell> row) {
  row.resize(headers_.size(), Cell(""));
  rows_.push_back(std::move(row));
}

std::string Paint(const std::string& text, Colour colour, bool enabled) {
  if (!enabled || colour == Colour::kNone) return text;
  return std::string(Code(colour)) + text + "\033[0m";
}

void Table::Print(std::ostream& out, bool colour) const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].text.size());
  }
  auto line = [&](const std::vector<Cell>& row) {
    std::string s;
    for (size_t c = 0; c < row.size(); ++c) {
      std::string text = row[c].text;
      if (c + 1 < row.size()) text += std::string(width[c] - row[c].text.size() + 3, ' ');
      s += Paint(text, row[c].colour, colour);
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  std::vector<Cell> head;
  for (const auto& h : headers_) head.emplace_back(h);
  line(head);
  for (const auto& row : rows_) line(row);
}

std::string JsonToYaml(const nlohmann::json& value) {
  YAML::Emitter e;
  Emit(e, value);
  std::string s = e.c_str();
  if (s.empty() || s.back() != '\n') s += "\n";
  return s;
}

}  // namespace vmrelease::cli
