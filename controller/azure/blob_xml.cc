#include "controller/azure/blob_xml.h"

#include <cstdlib>

namespace vmrelease::azure {
namespace {

struct Element {
  size_t inner_begin = 0;
  size_t inner_end = 0;
  size_t end = 0;  // one past the closing tag
};

// Finds the next element named `tag` at or after `from`.
std::optional<Element> FindElement(std::string_view xml, std::string_view tag, size_t from) {
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  size_t pos = from;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    const size_t after = pos + open.size();
    if (after >= xml.size()) return std::nullopt;
    const char c = xml[after];
    // "<Tag>" or "<Tag attr=...>" or "<Tag/>", but not "<TagSet>".
    if (c != '>' && c != ' ' && c != '/' && c != '\t' && c != '\r' && c != '\n') {
      pos = after;
      continue;
    }
    const size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) return std::nullopt;
    if (xml[gt - 1] == '/') return Element{gt + 1, gt + 1, gt + 1};
    const size_t end_tag = xml.find(close, gt + 1);
    if (end_tag == std::string_view::npos) return std::nullopt;
    return Element{gt + 1, end_tag, end_tag + close.size()};
  }
  return std::nullopt;
}

void AppendUtf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x110000) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::optional<std::string> XmlElementText(std::string_view xml, std::string_view tag) {
  auto e = FindElement(xml, tag, 0);
  if (!e) return std::nullopt;
  return XmlUnescape(xml.substr(e->inner_begin, e->inner_end - e->inner_begin));
}

std::vector<std::string> XmlElements(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (auto e = FindElement(xml, tag, pos)) {
    out.emplace_back(xml.substr(e->inner_begin, e->inner_end - e->inner_begin));
    pos = e->end;
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    const size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    const std::string_view ent = text.substr(i + 1, semi - i - 1);
    if (ent == "lt") {
      out.push_back('<');
    } else if (ent == "gt") {
      out.push_back('>');
    } else if (ent == "amp") {
      out.push_back('&');
    } else if (ent == "quot") {
      out.push_back('"');
    } else if (ent == "apos") {
      out.push_back('\'');
    } else if (ent.size() > 1 && ent[0] == '#') {
      const std::string num(ent.substr(1));
      const bool hex = num[0] == 'x' || num[0] == 'X';
      char* endp = nullptr;
      const unsigned long cp = std::strtoul(num.c_str() + (hex ? 1 : 0), &endp, hex ? 16 : 10);
      if (endp == nullptr || *endp != '\0') {
        out.push_back('&');
        continue;
      }
      AppendUtf8(out, cp);
    } else {
      out.push_back('&');
      continue;
    }
    i = semi;
  }
  return out;
}

}  // namespace vmrelease::azure
