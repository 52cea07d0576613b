#include "controller/azure/shared_key.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <vector>

#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::azure {
namespace {

// Trims and collapses runs of whitespace to one space, except inside double quotes.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool quoted = false;
  bool pending_space = false;
  for (char c : v) {
    if (c == '"') quoted = !quoted;
    const bool ws = !quoted && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
    if (ws) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

StatusOr<SharedKeySigner> SharedKeySigner::Create(std::string account,
                                                  std::string_view key_base64) {
  if (account.empty()) return InvalidArgumentError("shared key: account name is empty");
  StatusOr<std::string> key = Base64Decode(key_base64);
  if (!key.ok() || key->empty()) {
    return InvalidArgumentError("shared key for account " + account + " is not valid base64");
  }
  log::RegisterSecret(key_base64);
  return SharedKeySigner(std::move(account), std::move(*key));
}

std::string CanonicalizedHeaders(const http::Headers& headers) {
  std::map<std::string, std::string> ms;
  for (const auto& [name, value] : headers) {
    std::string lower = AsciiLower(name);
    if (lower.rfind("x-ms-", 0) != 0) continue;
    // A repeated header is sent as a comma-joined list (RFC 9110), so sign it that way.
    auto [it, inserted] = ms.emplace(std::move(lower), CanonicalValue(value));
    if (!inserted) it->second += "," + CanonicalValue(value);
  }
  std::string out;
  for (const auto& [name, value] : ms) out += name + ":" + value + "\n";
  return out;
}

std::string CanonicalizedResource(std::string_view account, std::string_view raw_path,
                                  std::string_view raw_query) {
  std::string out = "/" + std::string(account) + std::string(raw_path.empty() ? "/" : raw_path);
  std::map<std::string, std::vector<std::string>> params;
  size_t pos = 0;
  while (pos < raw_query.size()) {
    size_t amp = raw_query.find('&', pos);
    if (amp == std::string_view::npos) amp = raw_query.size();
    const std::string_view pair = raw_query.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string name = AsciiLower(http::PercentDecode(pair.substr(0, eq)));
    const std::string value =
        eq == std::string_view::npos ? "" : http::PercentDecode(pair.substr(eq + 1));
    params[name].push_back(value);
  }
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    out += "\n" + name + ":";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + values[i];
  }
  return out;
}

std::string SharedKeySigner::StringToSign(const http::Request& request) const {
  http::Url url;
  http::ParseUrl(request.url, &url);
  const http::Headers& h = request.headers;
  // Content-Length comes from the body (the HTTP layer derives it); zero is signed as "".
  const std::string content_length =
      request.body.empty() ? std::string() : std::to_string(request.body.size());
  // Date is signed only when x-ms-date is absent.
  const std::string date = h.Has("x-ms-date") ? std::string() : h.Get("Date");
  std::string s;
  s += request.method + "\n";
  s += h.Get("Content-Encoding") + "\n";
  s += h.Get("Content-Language") + "\n";
  s += content_length + "\n";
  s += h.Get("Content-MD5") + "\n";
  s += h.Get("Content-Type") + "\n";
  s += date + "\n";
  s += h.Get("If-Modified-Since") + "\n";
  s += h.Get("If-Match") + "\n";
  s += h.Get("If-None-Match") + "\n";
  s += h.Get("If-Unmodified-Since") + "\n";
  s += h.Get("Range") + "\n";
  s += CanonicalizedHeaders(h);
  s += CanonicalizedResource(account_, url.path, url.query);
  return s;
}

std::string SharedKeySigner::Signature(std::string_view string_to_sign) const {
  // Request signatures are not registered as log secrets: there is one per
  // request, each is useless after ~15 minutes, and the "SharedKey acct:sig"
  // redaction pattern already covers the only place they appear.
  return Base64Encode(HmacSha256(key_, string_to_sign));
}

Status SharedKeySigner::Sign(http::Request& request) const {
  http::Url url;
  if (!http::ParseUrl(request.url, &url)) {
    return InvalidArgumentError("shared key: cannot sign a request with an invalid URL");
  }
  request.headers.Set("Authorization",
                      "SharedKey " + account_ + ":" + Signature(StringToSign(request)));
  return Status::Ok();
}

}  // namespace vmrelease::azure
