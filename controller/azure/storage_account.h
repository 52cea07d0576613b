// Where a storage account's blob service lives, and how blob URLs are built
// from it. Both URL styles are supported:
//
//   virtual-host (Azure, sovereign clouds): https://acct.blob.core.windows.net
//   path-style (Azurite, private endpoints behind a proxy): http://127.0.0.1:10000/devstoreaccount1
//
//   ASSIGN_OR_RETURN(StorageAccountUrl a,
//   StorageAccountUrl::Parse("http://127.0.0.1:10000/devstoreaccount1")); a.account(); //
//   "devstoreaccount1" a.BlobUrl("images", "app/1.0.vhd");  //
//   "http://127.0.0.1:10000/devstoreaccount1/images/app/1.0.vhd"
//
// Guarantees: URLs built here never carry a query string; container and blob
// names are percent-encoded (blob '/' kept), so the path is what SharedKey signs.
#pragma once

#include <string>
#include <string_view>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::azure {

// A blob inside an account: the unit every BlobStore call addresses.
struct BlobRef {
  std::string container;
  std::string name;
  std::string ToString() const { return container + "/" + name; }
};

class StorageAccountUrl {
 public:
  // Parses an account URL. The account name is the first DNS label of the
  // host (virtual-host style) or, when the URL has a path, its first segment
  // (path-style). `account_override` replaces the derived name, e.g. for a
  // custom domain whose host does not start with the account name.
  // Errors: kInvalidArgument for anything but an absolute http(s) URL with a
  // derivable account name, or a URL with a query string (a SAS belongs in a
  // StorageAuth, never in configuration that may be logged).
  static StatusOr<StorageAccountUrl> Parse(std::string_view url,
                                           std::string_view account_override = "");

  const std::string& account() const { return account_; }
  bool path_style() const { return path_style_; }
  // scheme://host[:port]
  const std::string& origin() const { return origin_; }
  // "https://acct.blob.core.windows.net" or "http://127.0.0.1:10000/devstoreaccount1"
  std::string AccountUrl() const { return origin_ + base_path_; }
  // The service root, with its trailing slash (Get User Delegation Key, list containers).
  std::string ServiceUrl() const { return origin_ + base_path_ + "/"; }
  std::string ContainerUrl(std::string_view container) const;
  std::string BlobUrl(std::string_view container, std::string_view blob) const;
  std::string BlobUrl(const BlobRef& ref) const { return BlobUrl(ref.container, ref.name); }

 private:
  std::string account_;
  std::string origin_;
  std::string base_path_;  // "" or "/account"
  bool path_style_ = false;
};

// Container names: 3-63 characters of lower-case letters, digits and single
// hyphens, starting and ending with a letter or digit (Azure naming rules).
Status ValidateContainerName(std::string_view name);
// Blob names: 1-1024 characters, not ending in '.' or '/', no control characters.
Status ValidateBlobName(std::string_view name);

// FormatHttpDate / ParseHttpDate (x-ms-date) live in controller/common/clock.h.

}  // namespace vmrelease::azure
