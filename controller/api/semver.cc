#include "controller/api/semver.h"

#include <algorithm>
#include <cstdio>

namespace vmrelease::api {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsWildcard(char c) { return c == 'x' || c == 'X' || c == '*'; }
bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

// The input as it appears in an error message: quoted, escaped, bounded (the
// fuzzer feeds megabytes of binary; a person needs the first hundred characters).
std::string Quote(std::string_view text) {
  constexpr size_t kMax = 120;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMax) out += "...";
  return out + "\"";
}

std::string Describe(std::string_view text, size_t pos) {
  if (pos >= text.size()) return "end of input";
  unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c < 0x20 || c >= 0x7f) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "byte 0x%02x", c);
    return buf;
  }
  return std::string("'") + static_cast<char>(c) + "'";
}

// Reads a version or range left to right and builds errors that point at a
// position: "invalid <what> "<text>": position N: <message>".
class Cursor {
 public:
  Cursor(std::string_view text, const char* what) : text_(text), what_(what) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  bool LookingAt(std::string_view s) const { return text_.substr(pos_).starts_with(s); }
  void Advance(size_t n = 1) { pos_ = std::min(text_.size(), pos_ + n); }
  size_t pos() const { return pos_; }
  void set_pos(size_t p) { pos_ = p; }
  void SkipSpaces() {
    while (!AtEnd() && IsSpace(Peek())) ++pos_;
  }

  Status ErrorAt(size_t pos, const std::string& message) const {
    return InvalidArgumentError("invalid " + std::string(what_) + " " + Quote(text_) +
                                ": position " + std::to_string(pos) + ": " + message);
  }
  Status Error(const std::string& message) const { return ErrorAt(pos_, message); }
  // "expected X, found 'c'" at the current position.
  Status Expected(const std::string& what) const {
    return Error("expected " + what + ", found " + Describe(text_, pos_));
  }

  // A numeric version component: '0' or [1-9][0-9]*, at most kMaxVersionComponent.
  StatusOr<uint64_t> Number(const char* component) {
    if (!IsDigit(Peek())) return Expected(std::string("a number for ") + component);
    size_t start = pos_;
    if (Peek() == '0' && IsDigit(Peek(1))) {
      return Error(std::string("leading zero in ") + component + " (write " +
                   std::string(1, text_[start]) + " without leading zeros)");
    }
    uint64_t value = 0;
    while (IsDigit(Peek())) {
      value = value * 10 + static_cast<uint64_t>(Peek() - '0');
      if (value > kMaxVersionComponent) {
        return ErrorAt(start, std::string(component) + " is larger than " +
                                  std::to_string(kMaxVersionComponent));
      }
      ++pos_;
    }
    return value;
  }

  // Dot-separated identifiers after '-' (prerelease) or '+' (build).
  StatusOr<std::vector<std::string>> Identifiers(bool prerelease) {
    const char* kind = prerelease ? "a prerelease identifier" : "a build identifier";
    std::vector<std::string> out;
    while (true) {
      size_t start = pos_;
      while (IsIdentChar(Peek())) ++pos_;
      if (pos_ == start) return Expected(std::string(kind) + " ([0-9A-Za-z-]+)");
      std::string id(text_.substr(start, pos_ - start));
      if (prerelease && AllDigits(id) && id.size() > 1 && id[0] == '0') {
        return ErrorAt(start, "leading zero in numeric prerelease identifier \"" + id + "\"");
      }
      out.push_back(std::move(id));
      if (Peek() != '.') break;
      ++pos_;
    }
    return out;
  }

 private:
  std::string_view text_;
  const char* what_;
  size_t pos_ = 0;
};

int CompareIdentifier(const std::string& a, const std::string& b) {
  bool na = AllDigits(a);
  bool nb = AllDigits(b);
  if (na && nb) {
    // Compare as arbitrary-size numbers: strip leading zeros, then length, then digits.
    std::string_view x(a), y(b);
    while (x.size() > 1 && x[0] == '0') x.remove_prefix(1);
    while (y.size() > 1 && y[0] == '0') y.remove_prefix(1);
    if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    int c = x.compare(y);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (na) return -1;  // numeric identifiers have lower precedence
  if (nb) return 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// A version inside a range: components may be missing or wildcards (nullopt).
struct Partial {
  std::optional<uint64_t> major, minor, patch;
  std::vector<std::string> prerelease;

  bool AnyWildcard() const { return !major || !minor || !patch; }
  Version Full() const {
    Version v;
    v.major = major.value_or(0);
    v.minor = minor.value_or(0);
    v.patch = patch.value_or(0);
    v.prerelease = prerelease;
    return v;
  }
};

Version V(uint64_t major, uint64_t minor, uint64_t patch, std::vector<std::string> pre = {}) {
  Version v;
  v.major = major;
  v.minor = minor;
  v.patch = patch;
  v.prerelease = std::move(pre);
  return v;
}
// The "-0" suffix on exclusive upper bounds keeps prereleases of the next
// version out of the range (node-semver 7).
Version Pre0(uint64_t major, uint64_t minor, uint64_t patch) {
  return V(major, minor, patch, {"0"});
}
Comparator Cmp(Comparator::Op op, Version v) { return Comparator{op, std::move(v)}; }
Comparator Any() { return Cmp(Comparator::Op::kGe, V(0, 0, 0)); }
Comparator Nothing() { return Cmp(Comparator::Op::kLt, Pre0(0, 0, 0)); }

using Op = Comparator::Op;
enum class Token { kNone, kEq, kLt, kLe, kGt, kGe, kTilde, kCaret };

StatusOr<std::optional<uint64_t>> ParseXr(Cursor& c, const char* component) {
  if (IsWildcard(c.Peek())) {
    c.Advance();
    return std::optional<uint64_t>();
  }
  if (!IsDigit(c.Peek())) {
    return c.Expected(std::string("a number or a wildcard ('x', 'X', '*') for ") + component);
  }
  ASSIGN_OR_RETURN(uint64_t n, c.Number(component));
  return std::optional<uint64_t>(n);
}

StatusOr<Partial> ParsePartial(Cursor& c) {
  Partial p;
  if (c.Peek() == 'v' && (IsDigit(c.Peek(1)) || IsWildcard(c.Peek(1)))) c.Advance();
  if (c.AtEnd() || IsSpace(c.Peek()) || c.Peek() == '|') return c.Expected("a version");
  std::optional<uint64_t>* parts[] = {&p.major, &p.minor, &p.patch};
  const char* names[] = {"major", "minor", "patch"};
  bool wildcard_seen = false;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (c.Peek() != '.') break;
      c.Advance();
    }
    size_t at = c.pos();
    ASSIGN_OR_RETURN(*parts[i], ParseXr(c, names[i]));
    if (parts[i]->has_value() && wildcard_seen) {
      return c.ErrorAt(
          at, std::string("a number cannot follow a wildcard (") + names[i] + " after 'x')");
    }
    if (!parts[i]->has_value()) wildcard_seen = true;
  }
  if (c.Peek() == '-' || c.Peek() == '+') {
    if (p.AnyWildcard()) {
      return c.Error(
          "a prerelease or build suffix needs a full MAJOR.MINOR.PATCH version without "
          "wildcards");
    }
    if (c.Peek() == '-') {
      c.Advance();
      ASSIGN_OR_RETURN(p.prerelease, c.Identifiers(true));
    }
    if (c.Peek() == '+') {
      c.Advance();
      ASSIGN_OR_RETURN(auto build, c.Identifiers(false));  // ignored by ranges, as in npm
      (void)build;
    }
  }
  return p;
}

// After a version inside a range: whitespace, "||" or the end.
Status ExpectSeparator(Cursor& c) {
  if (c.AtEnd() || IsSpace(c.Peek()) || c.LookingAt("||")) return Status::Ok();
  if (c.Peek() == '|') return c.Error("expected '||' (a single '|' is not an operator)");
  if (c.Peek() == '.') return c.Error("too many components (a version has at most three)");
  return c.Expected("whitespace, '||' or the end of the range after the version");
}

void XRange(Token tok, const Partial& p, std::vector<Comparator>& out) {
  bool xM = !p.major;
  bool xm = xM || !p.minor;
  bool any_x = xM || xm || !p.patch;
  if (tok == Token::kEq && any_x) tok = Token::kNone;
  if (xM) {
    out.push_back(tok == Token::kGt || tok == Token::kLt ? Nothing() : Any());
    return;
  }
  uint64_t M = *p.major;
  uint64_t m = xm ? 0 : *p.minor;
  if (!any_x) {
    Version v = p.Full();
    switch (tok) {
      case Token::kNone:
      case Token::kEq:
        out.push_back(Cmp(Op::kEq, v));
        break;
      case Token::kLt:
        out.push_back(Cmp(Op::kLt, v));
        break;
      case Token::kLe:
        out.push_back(Cmp(Op::kLe, v));
        break;
      case Token::kGt:
        out.push_back(Cmp(Op::kGt, v));
        break;
      default:
        out.push_back(Cmp(Op::kGe, v));
        break;
    }
    return;
  }
  switch (tok) {
    case Token::kNone:
      if (xm) {
        out.push_back(Cmp(Op::kGe, V(M, 0, 0)));
        out.push_back(Cmp(Op::kLt, Pre0(M + 1, 0, 0)));
      } else {
        out.push_back(Cmp(Op::kGe, V(M, m, 0)));
        out.push_back(Cmp(Op::kLt, Pre0(M, m + 1, 0)));
      }
      return;
    case Token::kGt:  // >1 := >=2.0.0, >1.2 := >=1.3.0
      out.push_back(Cmp(Op::kGe, xm ? V(M + 1, 0, 0) : V(M, m + 1, 0)));
      return;
    case Token::kLe:  // <=1.2 := <1.3.0-0
      out.push_back(Cmp(Op::kLt, xm ? Pre0(M + 1, 0, 0) : Pre0(M, m + 1, 0)));
      return;
    case Token::kLt:  // <1.2 := <1.2.0-0
      out.push_back(Cmp(Op::kLt, Pre0(M, m, 0)));
      return;
    default:  // >=1.2 := >=1.2.0
      out.push_back(Cmp(Op::kGe, V(M, m, 0)));
      return;
  }
}

void Tilde(const Partial& p, std::vector<Comparator>& out) {
  if (!p.major) return;  // ~* := *
  uint64_t M = *p.major;
  if (!p.minor) {
    out.push_back(Cmp(Op::kGe, V(M, 0, 0)));
    out.push_back(Cmp(Op::kLt, Pre0(M + 1, 0, 0)));
    return;
  }
  uint64_t m = *p.minor;
  out.push_back(Cmp(Op::kGe, p.patch ? p.Full() : V(M, m, 0)));
  out.push_back(Cmp(Op::kLt, Pre0(M, m + 1, 0)));
}

void Caret(const Partial& p, std::vector<Comparator>& out) {
  if (!p.major) return;  // ^* := *
  uint64_t M = *p.major;
  if (!p.minor) {
    out.push_back(Cmp(Op::kGe, V(M, 0, 0)));
    out.push_back(Cmp(Op::kLt, Pre0(M + 1, 0, 0)));
    return;
  }
  uint64_t m = *p.minor;
  if (!p.patch) {
    out.push_back(Cmp(Op::kGe, V(M, m, 0)));
    out.push_back(Cmp(Op::kLt, M == 0 ? Pre0(0, m + 1, 0) : Pre0(M + 1, 0, 0)));
    return;
  }
  uint64_t pt = *p.patch;
  out.push_back(Cmp(Op::kGe, p.Full()));
  if (M != 0) {
    out.push_back(Cmp(Op::kLt, Pre0(M + 1, 0, 0)));
  } else if (m != 0) {
    out.push_back(Cmp(Op::kLt, Pre0(0, m + 1, 0)));
  } else {
    out.push_back(Cmp(Op::kLt, Pre0(0, 0, pt + 1)));
  }
}

void Hyphen(const Partial& from, const Partial& to, std::vector<Comparator>& out) {
  if (from.major) {
    out.push_back(Cmp(Op::kGe, from.Full()));  // missing pieces are zeros
  }
  if (!to.major) return;
  if (!to.minor) {
    out.push_back(Cmp(Op::kLt, Pre0(*to.major + 1, 0, 0)));
  } else if (!to.patch) {
    out.push_back(Cmp(Op::kLt, Pre0(*to.major, *to.minor + 1, 0)));
  } else {
    out.push_back(Cmp(Op::kLe, to.Full()));
  }
}

// An item whose bound is the next major, minor or patch after the largest allowed
// number (e.g. "9007199254740991", which means <9007199254740992.0.0-0) is refused,
// as node-semver refuses it: that bound is no valid version, and the range could
// not be written back as one that parses.
Status BoundsInRange(const Cursor& c, size_t item_at, const std::vector<Comparator>& out,
                     size_t first) {
  for (size_t i = first; i < out.size(); ++i) {
    const Version& v = out[i].version;
    if (v.major > kMaxVersionComponent || v.minor > kMaxVersionComponent ||
        v.patch > kMaxVersionComponent)
      return c.ErrorAt(item_at, "its upper bound would be a version with a number larger than " +
                                    std::to_string(kMaxVersionComponent));
  }
  return Status::Ok();
}

Token ParseToken(Cursor& c) {
  static constexpr std::pair<std::string_view, Token> kTokens[] = {
      {"<=", Token::kLe}, {">=", Token::kGe},    {"<", Token::kLt},    {">", Token::kGt},
      {"=", Token::kEq},  {"~>", Token::kTilde}, {"~", Token::kTilde}, {"^", Token::kCaret},
  };
  for (const auto& [text, tok] : kTokens) {
    if (c.LookingAt(text)) {
      c.Advance(text.size());
      return tok;
    }
  }
  return Token::kNone;
}

// One comparator set (up to "||" or the end). Returns an empty vector when
// the set has no comparators at all.
StatusOr<std::vector<Comparator>> ParseSet(Cursor& c) {
  std::vector<Comparator> out;
  int items = 0;
  std::optional<size_t> hyphen_at;
  while (true) {
    c.SkipSpaces();
    if (c.AtEnd() || c.LookingAt("||")) break;
    if (c.Peek() == '|') return c.Error("expected '||' (a single '|' is not an operator)");
    size_t item_at = c.pos();
    if (hyphen_at) {
      return c.Error("a hyphen range (A - B) must be the only item of its comparator set");
    }
    Token tok = ParseToken(c);
    if (tok != Token::kNone) {
      c.SkipSpaces();
      if (c.AtEnd() || c.LookingAt("||")) return c.Expected("a version after the operator");
      if (ParseToken(c) != Token::kNone) return c.ErrorAt(item_at, "two operators in a row");
    }
    ASSIGN_OR_RETURN(Partial a, ParsePartial(c));
    RETURN_IF_ERROR(ExpectSeparator(c));
    if (tok == Token::kNone) {
      size_t save = c.pos();
      c.SkipSpaces();
      bool hyphen = c.pos() > save && c.Peek() == '-' && (IsSpace(c.Peek(1)) || c.Peek(1) == '\0');
      if (hyphen) {
        if (items > 0) {
          return c.ErrorAt(item_at,
                           "a hyphen range (A - B) must be the only item of its comparator set");
        }
        c.Advance();
        c.SkipSpaces();
        if (c.AtEnd() || c.LookingAt("||")) return c.Expected("a version after ' - '");
        ASSIGN_OR_RETURN(Partial b, ParsePartial(c));
        RETURN_IF_ERROR(ExpectSeparator(c));
        const size_t first = out.size();
        Hyphen(a, b, out);
        RETURN_IF_ERROR(BoundsInRange(c, item_at, out, first));
        hyphen_at = item_at;
        ++items;
        continue;
      }
      c.set_pos(save);
    }
    const size_t first = out.size();
    switch (tok) {
      case Token::kTilde:
        Tilde(a, out);
        break;
      case Token::kCaret:
        Caret(a, out);
        break;
      default:
        XRange(tok, a, out);
        break;
    }
    RETURN_IF_ERROR(BoundsInRange(c, item_at, out, first));
    ++items;
  }
  // Items that desugar to nothing (`~*`, `* - *`) still mean "any version".
  if (items > 0 && out.empty()) out.push_back(Any());
  return out;
}

}  // namespace

std::string Version::ToString() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (size_t i = 0; i < prerelease.size(); ++i) s += (i == 0 ? "-" : ".") + prerelease[i];
  for (size_t i = 0; i < build.size(); ++i) s += (i == 0 ? "+" : ".") + build[i];
  return s;
}

int Compare(const Version& a, const Version& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (size_t i = 0; i < n; ++i) {
    int c = CompareIdentifier(a.prerelease[i], b.prerelease[i]);
    if (c != 0) return c;
  }
  if (a.prerelease.size() != b.prerelease.size()) {
    return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
  }
  return 0;
}

StatusOr<Version> ParseVersion(std::string_view text) {
  Cursor c(text, "version");
  if (text.empty()) return c.Error("expected MAJOR.MINOR.PATCH, found an empty string");
  Version v;
  ASSIGN_OR_RETURN(v.major, c.Number("major"));
  if (c.Peek() != '.') return c.Expected("'.' after the major version");
  c.Advance();
  ASSIGN_OR_RETURN(v.minor, c.Number("minor"));
  if (c.Peek() != '.') return c.Expected("'.' after the minor version");
  c.Advance();
  ASSIGN_OR_RETURN(v.patch, c.Number("patch"));
  if (c.Peek() == '-') {
    c.Advance();
    ASSIGN_OR_RETURN(v.prerelease, c.Identifiers(true));
  }
  if (c.Peek() == '+') {
    c.Advance();
    ASSIGN_OR_RETURN(v.build, c.Identifiers(false));
  }
  if (!c.AtEnd()) return c.Expected("'-', '+' or the end of the version");
  return v;
}

StatusOr<Version> ParseReleaseVersion(std::string_view text) {
  Cursor c(text, "release version");
  if (text.empty()) return c.Error("expected MAJOR.MINOR.PATCH, found an empty string");
  if (text[0] == 'v' || text[0] == 'V') {
    return c.Error("a 'v' prefix is not allowed; write MAJOR.MINOR.PATCH, e.g. 1.2.3");
  }
  Version v;
  ASSIGN_OR_RETURN(v.major, c.Number("major"));
  if (c.Peek() != '.') return c.Expected("'.' and a minor version (MAJOR.MINOR.PATCH)");
  c.Advance();
  ASSIGN_OR_RETURN(v.minor, c.Number("minor"));
  if (c.Peek() != '.') return c.Expected("'.' and a patch version (MAJOR.MINOR.PATCH)");
  c.Advance();
  ASSIGN_OR_RETURN(v.patch, c.Number("patch"));
  if (c.Peek() == '-') {
    return c.Error(
        "a prerelease suffix is not allowed in a release version (Azure Compute Gallery "
        "versions are MAJOR.MINOR.PATCH)");
  }
  if (c.Peek() == '+') {
    return c.Error("build metadata is not allowed in a release version");
  }
  if (!c.AtEnd()) return c.Expected("the end of the version (MAJOR.MINOR.PATCH)");
  return v;
}

bool Comparator::Matches(const Version& v) const {
  int c = Compare(v, version);
  switch (op) {
    case Op::kEq:
      return c == 0;
    case Op::kLt:
      return c < 0;
    case Op::kLe:
      return c <= 0;
    case Op::kGt:
      return c > 0;
    case Op::kGe:
      return c >= 0;
  }
  return false;
}

std::string Comparator::ToString() const {
  Version v = version;
  v.build.clear();
  switch (op) {
    case Op::kEq:
      return v.ToString();
    case Op::kLt:
      return "<" + v.ToString();
    case Op::kLe:
      return "<=" + v.ToString();
    case Op::kGt:
      return ">" + v.ToString();
    case Op::kGe:
      return ">=" + v.ToString();
  }
  return v.ToString();
}

Range::Range() : sets_{{Any()}} {}

bool Range::Satisfies(const Version& v) const {
  for (const auto& set : sets_) {
    bool all =
        std::all_of(set.begin(), set.end(), [&](const Comparator& c) { return c.Matches(v); });
    if (!all) continue;
    if (!v.IsPrerelease()) return true;
    // npm's rule: a prerelease needs an opted-in comparator on its own tuple.
    bool opted_in = std::any_of(set.begin(), set.end(), [&](const Comparator& c) {
      return c.version.IsPrerelease() && c.version.SameTuple(v);
    });
    if (opted_in) return true;
  }
  return false;
}

std::string Range::ToString() const {
  std::string out;
  for (size_t i = 0; i < sets_.size(); ++i) {
    if (i > 0) out += "||";
    for (size_t j = 0; j < sets_[i].size(); ++j) {
      if (j > 0) out += " ";
      out += sets_[i][j].ToString();
    }
  }
  return out;
}

StatusOr<Range> ParseRange(std::string_view text) {
  Cursor c(text, "semver range");
  Range range;
  range.sets_.clear();
  while (true) {
    size_t set_at = c.pos();
    ASSIGN_OR_RETURN(std::vector<Comparator> set, ParseSet(c));
    if (set.empty()) {
      bool only_set = range.sets_.empty() && c.AtEnd();
      if (!only_set) {
        return c.ErrorAt(set_at, "expected a comparator set on this side of '||'");
      }
      set.push_back(Any());  // "" := *
    }
    range.sets_.push_back(std::move(set));
    if (c.AtEnd()) break;
    c.Advance(2);  // ParseSet stops only at the end or at "||"
  }
  return range;
}

std::optional<Version> MaxSatisfying(const std::vector<Version>& versions, const Range& range) {
  std::optional<Version> best;
  for (const Version& v : versions) {
    if (range.Satisfies(v) && (!best || Compare(v, *best) > 0)) best = v;
  }
  return best;
}

}  // namespace vmrelease::api
