#include "tests/support/apiserver/selectors.h"

#include <cctype>
#include <cstdlib>

namespace vmrelease::apiserver {
namespace {

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= s_.size();
  }
  char Peek() {
    SkipSpace();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool Consume(std::string_view tok) {
    SkipSpace();
    if (s_.substr(pos_, tok.size()) == tok) {
      pos_ += tok.size();
      return true;
    }
    return false;
  }
  // A key or value: label characters plus '/', '.', '-', '_'.
  std::string Word() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '/')
        ++pos_;
      else
        break;
    }
    return std::string(s_.substr(start, pos_ - start));
  }
  // The keyword "in"/"notin" must be followed by space or '('.
  bool Keyword(std::string_view kw) {
    SkipSpace();
    if (s_.substr(pos_, kw.size()) != kw) return false;
    size_t after = pos_ + kw.size();
    if (after < s_.size() &&
        (std::isspace(static_cast<unsigned char>(s_[after])) || s_[after] == '(')) {
      pos_ = after;
      return true;
    }
    return false;
  }
  size_t pos() const { return pos_; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

ApiError ParseError(std::string_view text, const std::string& why) {
  return ApiError::BadRequest("unable to parse requirement: " + why + " in selector \"" +
                              std::string(text) + "\"");
}

bool ValidLabelValue(const std::string& v) {
  if (v.size() > 63) return false;
  for (char c : v)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return v.empty() || (std::isalnum(static_cast<unsigned char>(v.front())) &&
                       std::isalnum(static_cast<unsigned char>(v.back())));
}

}  // namespace

ApiOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector sel;
  Lexer lx(text);
  if (lx.AtEnd()) return sel;
  while (true) {
    Requirement r;
    if (lx.Consume("!")) {
      r.key = lx.Word();
      if (r.key.empty()) return ParseError(text, "missing key after '!'");
      r.op = Op::kDoesNotExist;
    } else {
      r.key = lx.Word();
      if (r.key.empty()) return ParseError(text, "expected a key");
      if (lx.Consume("==") || lx.Consume("=")) {
        r.op = Op::kEquals;
        r.values.push_back(lx.Word());
      } else if (lx.Consume("!=")) {
        r.op = Op::kNotEquals;
        r.values.push_back(lx.Word());
      } else if (lx.Consume(">")) {
        r.op = Op::kGreater;
        r.values.push_back(lx.Word());
      } else if (lx.Consume("<")) {
        r.op = Op::kLess;
        r.values.push_back(lx.Word());
      } else if (lx.Keyword("notin") || lx.Keyword("in")) {
        r.op = text.substr(0, lx.pos()).ends_with("notin") ? Op::kNotIn : Op::kIn;
        if (!lx.Consume("(")) return ParseError(text, "expected '(' after set operator");
        while (true) {
          std::string v = lx.Word();
          r.values.push_back(v);
          if (lx.Consume(",")) continue;
          if (lx.Consume(")")) break;
          return ParseError(text, "expected ',' or ')' in value set");
        }
      } else {
        r.op = Op::kExists;
      }
      for (const auto& v : r.values) {
        if (!ValidLabelValue(v)) return ParseError(text, "invalid label value: \"" + v + "\"");
      }
      if ((r.op == Op::kGreater || r.op == Op::kLess) &&
          (r.values[0].empty() ||
           r.values[0].find_first_not_of("-0123456789") != std::string::npos))
        return ParseError(text, "for 'Gt', 'Lt' operators, the value must be an integer");
    }
    sel.requirements_.push_back(std::move(r));
    if (lx.AtEnd()) break;
    if (!lx.Consume(",")) return ParseError(text, "expected ','");
  }
  return sel;
}

bool LabelSelector::Matches(const nlohmann::json& labels) const {
  for (const auto& r : requirements_) {
    const nlohmann::json* v = nullptr;
    if (labels.is_object()) {
      auto it = labels.find(r.key);
      if (it != labels.end() && it->is_string()) v = &*it;
    }
    const std::string value = v ? v->get<std::string>() : "";
    auto in_set = [&] {
      for (const auto& x : r.values)
        if (x == value) return true;
      return false;
    };
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!v || !in_set()) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (v && in_set()) return false;
        break;
      case Op::kExists:
        if (!v) return false;
        break;
      case Op::kDoesNotExist:
        if (v) return false;
        break;
      case Op::kGreater:
      case Op::kLess: {
        if (!v) return false;
        char* end = nullptr;
        long long have = std::strtoll(value.c_str(), &end, 10);
        if (end == value.c_str() || *end != '\0') return false;
        long long want = std::strtoll(r.values[0].c_str(), nullptr, 10);
        if (r.op == Op::kGreater ? !(have > want) : !(have < want)) return false;
        break;
      }
    }
  }
  return true;
}

ApiOr<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector sel;
  // Split on unescaped ','; each term is field(=|==|!=)value; '\' escapes.
  std::vector<std::string> terms;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      cur += c;
      cur += text[++i];
    } else if (c == ',') {
      terms.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  terms.push_back(cur);
  for (const auto& term : terms) {
    if (term.find_first_not_of(" \t") == std::string::npos) {
      if (terms.size() == 1) return sel;
      return ApiError::BadRequest("invalid selector: '" + std::string(text) + "'; empty term");
    }
    size_t op = std::string::npos, op_len = 0;
    bool equals = true;
    for (size_t i = 0; i < term.size(); ++i) {
      if (term[i] == '\\') {
        ++i;
        continue;
      }
      if (term.compare(i, 2, "!=") == 0) {
        op = i, op_len = 2, equals = false;
        break;
      }
      if (term.compare(i, 2, "==") == 0) {
        op = i, op_len = 2;
        break;
      }
      if (term[i] == '=') {
        op = i, op_len = 1;
        break;
      }
    }
    if (op == std::string::npos)
      return ApiError::BadRequest("invalid selector: '" + std::string(text) +
                                  "'; can't understand '" + term + "'");
    auto trim = [](std::string s) {
      size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
      return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
    };
    std::string value;
    const std::string raw = trim(term.substr(op + op_len));
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
      value += raw[i];
    }
    sel.requirements_.push_back({trim(term.substr(0, op)), equals, value});
  }
  return sel;
}

ApiError FieldSelector::CheckFields(const std::vector<std::string>& allowed, bool* ok) const {
  for (const auto& r : requirements_) {
    bool found = false;
    for (const auto& a : allowed) found = found || a == r.field;
    if (!found) {
      *ok = false;
      std::string list;
      for (size_t i = 0; i < allowed.size(); ++i) list += (i ? ", \"" : "\"") + allowed[i] + "\"";
      return ApiError::BadRequest("field label not supported: " + r.field);
    }
  }
  *ok = true;
  return {};
}

std::string FieldValue(const nlohmann::json& object, const std::string& dotted_path) {
  const nlohmann::json* cur = &object;
  size_t start = 0;
  while (start <= dotted_path.size()) {
    size_t dot = dotted_path.find('.', start);
    std::string part =
        dotted_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return "";
    auto it = cur->find(part);
    if (it == cur->end()) return "";
    cur = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null() || cur->is_object() || cur->is_array()) return "";
  return cur->dump();
}

bool FieldSelector::Matches(const nlohmann::json& object) const {
  for (const auto& r : requirements_) {
    const bool eq = FieldValue(object, r.field) == r.value;
    if (eq != r.equals) return false;
  }
  return true;
}

}  // namespace vmrelease::apiserver
