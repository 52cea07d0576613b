#include "controller/cli/gitops.h"

#include <regex>
#include <vector>

#include "controller/api/manifest.h"

namespace vmrelease::cli {
namespace {

struct Line {
  std::string text;  // without its line ending
  std::string eol;   // "\n", "\r\n" or "" (last line without one)
};

std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.push_back({std::string(text.substr(pos)), ""});
      break;
    }
    std::string line(text.substr(pos, nl - pos));
    std::string eol = "\n";
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
      eol = "\r\n";
    }
    out.push_back({std::move(line), std::move(eol)});
    pos = nl + 1;
  }
  return out;
}

bool IsDocumentSeparator(const std::string& line) {
  return line.rfind("---", 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
}

size_t Indent(const std::string& line) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  return i;
}

// Blank or comment-only lines do not open or close blocks.
bool IsContent(const std::string& line) {
  const size_t i = Indent(line);
  return i < line.size() && line[i] != '#';
}

std::string Str(const api::Json& doc, const char* a, const char* b) {
  if (!doc.is_object() || !doc.contains(a) || !doc[a].is_object()) return "";
  const api::Json& v = doc[a].value(b, api::Json());
  return v.is_string() ? v.get<std::string>() : "";
}

}  // namespace

StatusOr<std::string> SetPinVersion(std::string_view text, const PinSelector& pin,
                                    const std::string& version) {
  std::vector<Line> lines = SplitLines(text);
  // Documents as [begin, end) line ranges.
  std::vector<std::pair<size_t, size_t>> docs;
  size_t begin = 0;
  for (size_t i = 0; i <= lines.size(); ++i) {
    if (i == lines.size() || IsDocumentSeparator(lines[i].text)) {
      docs.emplace_back(begin, i);
      begin = i + 1;
    }
  }
  const std::string what =
      "EnvironmentPin for environment " + pin.environment + " and image " + pin.image;
  std::optional<std::pair<size_t, size_t>> found;
  for (size_t d = 0; d < docs.size(); ++d) {
    std::string body;
    for (size_t i = docs[d].first; i < docs[d].second; ++i) body += lines[i].text + "\n";
    auto parsed = api::ParseYamlDocuments(body);
    if (!parsed.ok())
      return InvalidArgumentError("document " + std::to_string(d + 1) +
                                  " is not valid YAML: " + parsed.status().message());
    for (const api::Json& obj : *parsed) {
      if (!obj.is_object() || obj.value("kind", api::Json()) != "EnvironmentPin") continue;
      if (Str(obj, "spec", "environment") != pin.environment ||
          Str(obj, "spec", "image") != pin.image)
        continue;
      if (found) return FailedPreconditionError("more than one " + what);
      found = docs[d];
      if (!obj["spec"].contains("version") && obj["spec"].contains("track"))
        return FailedPreconditionError("the " + what +
                                       " tracks a range (spec.track); there is no exact "
                                       "spec.version line to edit");
    }
  }
  if (!found) return NotFoundError("no " + what);

  // The top-level `spec:` line, then its block: lines indented more than it.
  std::optional<size_t> spec_line;
  for (size_t i = found->first; i < found->second; ++i) {
    const std::string& l = lines[i].text;
    if (Indent(l) != 0 || !IsContent(l)) continue;
    static const std::regex kSpec(R"(^spec\s*:\s*(#.*)?$)");
    if (std::regex_match(l, kSpec)) {
      spec_line = i;
      break;
    }
    if (l.rfind("spec", 0) == 0 && std::regex_search(l, std::regex(R"(^spec\s*:\s*\{)")))
      return FailedPreconditionError("the " + what +
                                     " writes spec in flow style ({...}); edit it by hand");
  }
  if (!spec_line) return FailedPreconditionError("the " + what + " has no block-style spec:");
  std::optional<size_t> child_indent;
  static const std::regex kVersion(
      R"re(^(\s*version\s*:[ \t]*)("[^"]*"|'[^']*'|[^\s#"']+)([ \t]*(#.*)?)$)re");
  for (size_t i = *spec_line + 1; i < found->second; ++i) {
    const std::string& l = lines[i].text;
    if (!IsContent(l)) continue;
    const size_t ind = Indent(l);
    if (ind == 0) break;  // the spec block ended
    if (!child_indent) child_indent = ind;
    if (ind != *child_indent) continue;  // deeper: inside another key of spec
    std::smatch m;
    if (!std::regex_match(l, m, kVersion)) continue;
    std::string value = m[2].str();
    const char quote = value.front() == '"' || value.front() == '\'' ? value.front() : 0;
    std::string replacement = quote ? std::string(1, quote) + version + quote : version;
    lines[i].text = m[1].str() + replacement + m[3].str();
    std::string out;
    out.reserve(text.size() + version.size());
    for (const Line& line : lines) out += line.text + line.eol;
    return out;
  }
  return FailedPreconditionError("the " + what + " has no spec.version line");
}

}  // namespace vmrelease::cli
