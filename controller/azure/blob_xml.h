// The few XML shapes the blob service speaks (error bodies, tag sets, block
// lists, user delegation keys), read and written without an XML library.
//
//   std::optional<std::string> code = XmlElementText(body, "Code");   // "BlobNotFound"
//   std::string xml = "<Key>" + XmlEscape(k) + "</Key>";
//
// Caveats: this is not a general XML parser. It finds elements by name in
// documents without namespace prefixes, CDATA or comments inside the elements
// it reads, which holds for every blob-service response used here. Text is
// entity-decoded (&lt; &gt; &amp; &quot; &apos; and numeric references).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmrelease::azure {

// Text of the first <tag>...</tag> (or "" for <tag/>), decoded; nullopt if absent.
std::optional<std::string> XmlElementText(std::string_view xml, std::string_view tag);
// Raw inner markup of every <tag>...</tag>, in document order (not decoded, so
// callers can read child elements from it).
std::vector<std::string> XmlElements(std::string_view xml, std::string_view tag);
std::string XmlEscape(std::string_view text);
std::string XmlUnescape(std::string_view text);

}  // namespace vmrelease::azure
