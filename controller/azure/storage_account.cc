#include "controller/azure/storage_account.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "controller/http/types.h"

namespace vmrelease::azure {
namespace {

bool ValidAccountName(std::string_view a) {
  // Azure: 3-24 lower-case letters and digits. Azurite also accepts custom
  // names from AZURITE_ACCOUNTS that follow the same rule.
  if (a.size() < 3 || a.size() > 24) return false;
  for (char c : a) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c))))
      return false;
  }
  return true;
}

}  // namespace

StatusOr<StorageAccountUrl> StorageAccountUrl::Parse(std::string_view url,
                                                     std::string_view account_override) {
  http::Url u;
  if (!http::ParseUrl(url, &u)) {
    return InvalidArgumentError("storage account URL is not an absolute http(s) URL");
  }
  if (!u.query.empty()) {
    return InvalidArgumentError(
        "storage account URL must not carry a query string (put a SAS in the credential)");
  }
  StorageAccountUrl out;
  // Keep the port only when it is not the scheme's default, so URLs read as configured.
  const bool default_port =
      (u.scheme == "https" && u.port == 443) || (u.scheme == "http" && u.port == 80);
  const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  out.origin_ = u.scheme + "://" + host + (default_port ? "" : ":" + std::to_string(u.port));
  std::string path = u.path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (!path.empty()) {
    // Path-style: the first segment is the account; deeper paths are not an account URL.
    const std::string segment = path.substr(1);
    if (segment.find('/') != std::string::npos) {
      return InvalidArgumentError("storage account URL path must be empty or one segment, got " +
                                  path);
    }
    out.path_style_ = true;
    out.base_path_ = path;
    out.account_ = http::PercentDecode(segment);
  } else {
    const size_t dot = u.host.find('.');
    out.account_ = u.host.substr(0, dot);
  }
  if (!account_override.empty()) out.account_ = std::string(account_override);
  if (!ValidAccountName(out.account_)) {
    return InvalidArgumentError("cannot derive a storage account name from " + out.origin_ +
                                out.base_path_ + " (got \"" + out.account_ +
                                "\"); pass the account name explicitly");
  }
  return out;
}

std::string StorageAccountUrl::ContainerUrl(std::string_view container) const {
  return origin_ + base_path_ + "/" + http::PercentEncode(container);
}

std::string StorageAccountUrl::BlobUrl(std::string_view container, std::string_view blob) const {
  return ContainerUrl(container) + "/" + http::PercentEncode(blob, /*keep_slash=*/true);
}

Status ValidateContainerName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("invalid container name \"" + std::string(name) + "\": " + why);
  };
  if (name.size() < 3 || name.size() > 63) return bad("must be 3-63 characters");
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum =
        std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
    if (!alnum && c != '-') return bad("only lower-case letters, digits and '-' are allowed");
    if (c == '-' && (i == 0 || i + 1 == name.size() || name[i - 1] == '-')) {
      return bad("'-' must be between letters or digits");
    }
  }
  return Status::Ok();
}

Status ValidateBlobName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("invalid blob name \"" + std::string(name) + "\": " + why);
  };
  if (name.empty() || name.size() > 1024) return bad("must be 1-1024 characters");
  if (name.back() == '.' || name.back() == '/') return bad("must not end with '.' or '/'");
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return bad("control character");
  }
  return Status::Ok();
}

}  // namespace vmrelease::azure
