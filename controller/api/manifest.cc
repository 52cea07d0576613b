#include "controller/api/manifest.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "controller/common/strings.h"

namespace vmrelease::api {
namespace {

std::string Where(const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) +
         ": ";
}

bool OneOf(const std::string& s, std::initializer_list<const char*> options) {
  for (const char* o : options) {
    if (s == o) return true;
  }
  return false;
}

std::string WithoutUnderscores(std::string s) {
  std::erase(s, '_');
  return s;
}

// go-yaml v2's resolution of an untagged plain scalar.
StatusOr<Json> ResolvePlain(const std::string& s, const YAML::Mark& mark) {
  if (OneOf(s, {"", "~", "null", "Null", "NULL"})) return Json(nullptr);
  if (OneOf(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    return Json(true);
  }
  if (OneOf(s, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    return Json(false);
  }
  if (OneOf(s, {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                "-.Inf", "-.INF"})) {
    return InvalidArgumentError(Where(mark) + "\"" + s + "\" is not representable in JSON");
  }
  static const std::regex kDecimal("^[-+]?(0|[1-9][0-9_]*)$");
  static const std::regex kOctal("^[-+]?0[0-7_]+$");
  static const std::regex kHex("^[-+]?0x[0-9a-fA-F_]+$");
  static const std::regex kBinary("^[-+]?0b[01_]+$");
  static const std::regex kFloat("^[-+]?(\\.[0-9]+|[0-9][0-9_]*(\\.[0-9_]*)?)([eE][-+]?[0-9]+)?$");
  int base = 0;
  std::string digits = WithoutUnderscores(s);
  bool negative = !digits.empty() && digits[0] == '-';
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.erase(0, 1);
  if (std::regex_match(s, kDecimal)) {
    base = 10;
  } else if (std::regex_match(s, kHex)) {
    base = 16;
    digits.erase(0, 2);
  } else if (std::regex_match(s, kBinary)) {
    base = 2;
    digits.erase(0, 2);
  } else if (std::regex_match(s, kOctal)) {
    base = 8;
  }
  if (base != 0) {
    errno = 0;
    char* end = nullptr;
    unsigned long long u = std::strtoull(digits.c_str(), &end, base);
    if (errno == 0 && end && *end == '\0') {
      if (!negative) {
        if (u <= static_cast<unsigned long long>(INT64_MAX)) return Json(static_cast<int64_t>(u));
        return Json(static_cast<uint64_t>(u));
      }
      if (u <= static_cast<unsigned long long>(INT64_MAX)) return Json(-static_cast<int64_t>(u));
      if (u == static_cast<unsigned long long>(INT64_MAX) + 1ULL) return Json(INT64_MIN);
    }
    // Too large for 64 bits: go-yaml falls back to a float.
  }
  if (base != 0 || std::regex_match(s, kFloat)) {
    double d = std::strtod(WithoutUnderscores(s).c_str(), nullptr);
    if (!std::isfinite(d)) {
      return InvalidArgumentError(Where(mark) + "\"" + s + "\" is not representable in JSON");
    }
    return Json(d);
  }
  return Json(s);
}

StatusOr<Json> ResolveTagged(const std::string& tag, const std::string& s, const YAML::Mark& mark) {
  auto is = [&](const char* short_name) {
    return tag == std::string("!!") + short_name ||
           tag == std::string("tag:yaml.org,2002:") + short_name;
  };
  if (is("str") || is("binary") || is("timestamp")) return Json(s);
  if (is("null") || is("bool") || is("int") || is("float")) {
    ASSIGN_OR_RETURN(Json j, ResolvePlain(s, mark));
    bool ok = (is("null") && j.is_null()) || (is("bool") && j.is_boolean()) ||
              (is("int") && j.is_number_integer()) || (is("float") && j.is_number());
    std::string shown = tag.starts_with("tag:yaml.org,2002:") ? "!!" + tag.substr(18) : tag;
    if (!ok) return InvalidArgumentError(Where(mark) + "\"" + s + "\" is not a valid " + shown);
    if (is("float")) return Json(j.get<double>());
    return j;
  }
  return InvalidArgumentError(Where(mark) + "unsupported YAML tag " + tag);
}

template <typename J>
StatusOr<J> ToJson(const YAML::Node& node, int depth) {
  if (depth > 200) return InvalidArgumentError(Where(node.Mark()) + "YAML nested too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return J(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      if (tag == "!") return J(node.Scalar());  // quoted or block scalar
      StatusOr<Json> scalar = (tag.empty() || tag == "?")
                                  ? ResolvePlain(node.Scalar(), node.Mark())
                                  : ResolveTagged(tag, node.Scalar(), node.Mark());
      if (!scalar.ok()) return scalar.status();
      return J(*scalar);
    }
    case YAML::NodeType::Sequence: {
      J out = J::array();
      for (const auto& item : node) {
        ASSIGN_OR_RETURN(J j, ToJson<J>(item, depth + 1));
        out.push_back(std::move(j));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      J out = J::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return InvalidArgumentError(Where(kv.first.Mark()) + "map keys must be scalars");
        }
        const std::string& key = kv.first.Scalar();
        if (key == "<<" && kv.first.Tag() != "!") {
          return InvalidArgumentError(Where(kv.first.Mark()) + "YAML merge keys are not supported");
        }
        if (out.contains(key)) {
          return InvalidArgumentError(Where(kv.first.Mark()) + "duplicate key \"" + key + "\"");
        }
        ASSIGN_OR_RETURN(J j, ToJson<J>(kv.second, depth + 1));
        out[key] = std::move(j);
      }
      return out;
    }
  }
  return J(nullptr);
}

// yaml-cpp 0.7 loops forever when a document's first token is a flow entry (","),
// e.g. the stream ",", "--- ," or "# comment\n," (found by object_fuzz). No valid
// document starts with one (a plain scalar cannot start with ","), so such a stream
// is refused before yaml-cpp sees it. Returns the line (1-based) or 0.
size_t DocumentStartingWithComma(std::string_view text) {
  bool at_start = true;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    const bool col0_marker = line.substr(0, 3) == "---" || line.substr(0, 3) == "...";
    const bool marker_ends =
        line.size() == 3 ||
        (line.size() > 3 && (line[3] == ' ' || line[3] == '\t' || line[3] == '\r'));
    if (col0_marker && marker_ends) {
      at_start = true;
      if (line[0] == '.') continue;
      line.remove_prefix(3);
    } else if (at_start && !line.empty() && line[0] == '%') {
      continue;  // a directive
    }
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    // The document's node properties (a tag "!t", "!!str" or an anchor "&a") may come
    // first: yaml-cpp loops on "!t ," and "&a," too.
    while (at_start && first < line.size() && (line[first] == '!' || line[first] == '&')) {
      if (line.substr(first, 2) == "!<") {  // a verbatim tag: !<anything up to '>'>
        first = line.find('>', first);
        if (first == std::string_view::npos) break;
      }
      first = line.find_first_of(" \t\r,", first);
      if (first == std::string_view::npos) break;
      first = line.find_first_not_of(" \t\r", first);
    }
    if (first == std::string_view::npos || line[first] == '#') continue;
    if (at_start && line[first] == ',') return line_no;
    at_start = false;
  }
  return 0;
}

// yaml-cpp 0.7 also loops forever on many streams with a line that starts with ","
// (after blanks): "- a\n,", " :\n,", "a\n# c\n," (found by object_fuzz). In block
// context such a line is invalid YAML, or (rarely) the continuation of a plain scalar
// that can as well be quoted; so outside a flow collection, a block scalar or a quoted
// scalar it is refused. The scan follows quotes, flow brackets and block scalars well
// enough for manifests; where it cannot tell, it lets the text through. Returns the
// line (1-based) or 0.
size_t LineStartingWithComma(std::string_view text) {
  bool in_single = false, in_double = false;
  int flow = 0;
  std::optional<size_t> block_indent;  // inside a block scalar more indented than this
  size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;  // blank: changes nothing
    if (block_indent) {
      if (first > *block_indent) continue;  // block scalar content
      block_indent.reset();
    }
    if (!in_single && !in_double && flow == 0 && line[first] == ',') return line_no;
    const bool quoted_at_start = in_single || in_double;
    // A quoted scalar or a flow collection just ended in block context: a "," after it
    // (blanks between) is never valid there, and yaml-cpp loops on '"a",' and '[a],'.
    bool node_ended = false;
    char prev = 0;  // the last character before i that is not blank (outside quotes)
    bool in_property = false, in_tag = false, after_property = false;
    for (size_t i = first; i < line.size(); ++i) {
      const char c = line[i];
      const char before = i == first ? ' ' : line[i - 1];
      if (in_property) {  // a tag (!t) or an anchor (&a) before a node
        if (c == ' ' || c == '\t' || c == '\r') {
          in_property = false;
          after_property = true;
          continue;
        }
        if (in_tag && (c == '"' || c == '\'')) {  // not a tag character: the node starts
          in_property = false;
          after_property = true;
        } else if (c == ',') {
          in_property = false;
        } else {
          continue;
        }
      }
      // Where a node may start: first on the line, inside a flow collection after "[", "{"
      // or ",", after "key: ", "- " or "? ". Elsewhere a quote or bracket is part of a
      // plain scalar ('summary: fix "a", "b"', 'see [docs], then').
      const bool blank_before = before == ' ' || before == '\t';
      const bool token_start = i == first || after_property || prev == '[' || prev == '{' ||
                               (prev == ',' && flow > 0) ||
                               (blank_before && (prev == ':' || prev == '-' || prev == '?'));
      if (in_double) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_double = false;
          node_ended = flow == 0;
          prev = c;
        }
        continue;
      }
      if (in_single) {
        if (c == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
          ++i;
        } else if (c == '\'') {
          in_single = false;
          node_ended = flow == 0;
          prev = c;
        }
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r') continue;
      if (c == ',' && node_ended && flow == 0) return line_no;
      node_ended = false;
      prev = c;
      after_property = false;
      if ((c == '!' || c == '&') && token_start) {
        in_property = true;
        in_tag = c == '!';
        continue;
      }
      if (c == '#' && (before == ' ' || before == '\t' || i == first)) break;  // a comment
      if (c == '"' && token_start) {
        in_double = true;
      } else if (c == '\'' && token_start) {
        in_single = true;
      } else if ((c == '[' || c == '{') && (token_start || flow > 0)) {
        ++flow;
      } else if ((c == ']' || c == '}') && flow > 0) {
        --flow;
        node_ended = flow == 0;
      }
    }
    // "key: |", "- >-", "|2+": the lines after it that are more indented are its content.
    if (!quoted_at_start && !in_single && !in_double && flow == 0) {
      std::string_view rest = line.substr(first);
      const size_t hash = rest.find(" #");
      if (hash != std::string_view::npos) rest = rest.substr(0, hash);
      while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t' || rest.back() == '\r'))
        rest.remove_suffix(1);
      size_t k = rest.size();
      while (k > 0 && (rest[k - 1] == '+' || rest[k - 1] == '-' ||
                       (rest[k - 1] >= '1' && rest[k - 1] <= '9')))
        --k;
      if (k > 0 && (rest[k - 1] == '|' || rest[k - 1] == '>') &&
          (k == 1 || rest[k - 2] == ' ' || rest[k - 2] == '\t'))
        block_indent = first;
    }
  }
  return 0;
}

template <typename J>
StatusOr<std::vector<J>> ParseDocuments(std::string_view text) {
  // YAML streams may not hold C0 control characters other than tab, LF and CR (go-yaml
  // refuses them too), and yaml-cpp 0.7 can loop forever on some (found by object_fuzz).
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      return InvalidArgumentError("invalid YAML: control characters are not allowed (byte " +
                                  std::to_string(i) + ")");
    }
  }
  // YAML text is Unicode (YAML 1.2 §5.2; Kubernetes reads UTF-8), and yaml-cpp 0.7 hangs
  // in Parser::HandleNextDocument on some invalid UTF-8 (found by object_fuzz).
  if (const size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
    return InvalidArgumentError("invalid YAML: not valid UTF-8 (byte " + std::to_string(bad) + ")");
  }
  if (const size_t line = DocumentStartingWithComma(text); line != 0) {
    return InvalidArgumentError("invalid YAML: line " + std::to_string(line) +
                                ": a document cannot start with \",\"");
  }
  if (const size_t line = LineStartingWithComma(text); line != 0) {
    return InvalidArgumentError("invalid YAML: line " + std::to_string(line) +
                                ": \",\" cannot start a line or follow a quoted scalar or a "
                                "flow collection outside a flow collection (quote the value)");
  }
  RETURN_IF_ERROR(CheckYamlTerminates(text));
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(Where(e.mark) + "invalid YAML: " + e.msg);
  }
  std::vector<J> docs;
  for (const auto& node : nodes) {
    StatusOr<J> j = J(nullptr);
    try {
      j = ToJson<J>(node, 0);
    } catch (const YAML::Exception& e) {
      return InvalidArgumentError(Where(e.mark) + "invalid YAML: " + e.msg);
    }
    if (!j.ok()) return j.status();
    if (!j->is_null()) docs.push_back(std::move(*j));
  }
  return docs;
}

// Records where each document starts; builds nothing.
class DocumentStarts final : public YAML::EventHandler {
 public:
  YAML::Mark start;
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

Status CheckYamlTerminates(std::string_view text) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  std::optional<int> previous;
  try {
    while (true) {
      DocumentStarts doc;
      if (!parser.HandleNextDocument(doc)) return Status::Ok();
      if (previous && doc.start.pos == *previous) {
        // Nothing was consumed since the last document: LoadAll would never end.
        const size_t at = static_cast<size_t>(std::max(doc.start.pos, 0));
        const std::string what =
            at < text.size() ? "\"" + std::string(1, text[at]) + "\"" : "the end of the stream";
        return InvalidArgumentError("invalid YAML: " + Where(doc.start) + what +
                                    " cannot appear here (quote the value)");
      }
      previous = doc.start.pos;
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(Where(e.mark) + "invalid YAML: " + e.msg);
  }
}

StatusOr<std::vector<Json>> ParseYamlDocuments(std::string_view text) {
  return ParseDocuments<Json>(text);
}

StatusOr<std::vector<OrderedJson>> ParseYamlDocumentsOrdered(std::string_view text) {
  return ParseDocuments<OrderedJson>(text);
}

StatusOr<Json> ParseYamlDocument(std::string_view text) {
  ASSIGN_OR_RETURN(std::vector<Json> docs, ParseYamlDocuments(text));
  if (docs.size() != 1) {
    return InvalidArgumentError("expected exactly one YAML document, found " +
                                std::to_string(docs.size()));
  }
  return std::move(docs[0]);
}

StatusOr<std::vector<Json>> LoadManifestFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto docs = ParseYamlDocuments(text);
  if (!docs.ok()) return docs.status().WithContext(path);
  return docs;
}

}  // namespace vmrelease::api
