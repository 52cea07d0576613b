#include "controller/azure/blob_client.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <thread>

#include "controller/azure/blob_error.h"
#include "controller/azure/blob_xml.h"
#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::azure {

constexpr const char* kLogger = "azure.blob";
constexpr int64_t kMaxPageWrite = 4 * 1024 * 1024;

struct BlobClient::Call {
  std::string method;
  std::string url;  // no query
  std::vector<std::pair<std::string, std::string>> query;
  http::Headers headers;
  std::string_view body;
  std::string what;  // "PUT images/app.vhd?comp=page": for logs and errors, never a SAS
};

namespace {

bool IsRetryableStatus(int s) {
  return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

// Azure answers an expired or invalid bearer token with 401; Azurite (and
// Azure for some signature failures) with 403 AuthenticationFailed.
bool IsTokenRejection(const http::Response& r) {
  if (r.status == 401) return true;
  if (r.status != 403) return false;
  std::string code = r.headers.Get("x-ms-error-code");
  if (code.empty()) {
    if (auto body = ParseStorageErrorBody(r.body)) code = body->code;
  }
  return code == "AuthenticationFailed";
}

std::string RangeHeader(int64_t offset, int64_t length) {
  return "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
}

bool ValidIdentifier(std::string_view name) {
  if (name.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

bool ValidTagChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '+' || c == '-' ||
         c == '.' || c == '/' || c == ':' || c == '=' || c == '_';
}

void AddWriteOptions(BlobClient::Call& call, const PutBlobOptions& o) {
  for (const auto& [k, v] : o.metadata) call.headers.Set("x-ms-meta-" + k, v);
  if (!o.tags.empty()) {
    std::vector<std::pair<std::string, std::string>> pairs(o.tags.begin(), o.tags.end());
    call.headers.Set("x-ms-tags", http::BuildQuery(pairs));
  }
  if (!o.if_match.empty()) {
    call.headers.Set("If-Match", o.if_match);
  } else if (!o.overwrite) {
    call.headers.Set("If-None-Match", "*");
  }
}

void AddConditions(BlobClient::Call& call, const BlobConditions& c) {
  if (!c.if_match.empty()) call.headers.Set("If-Match", c.if_match);
  if (!c.if_none_match.empty()) call.headers.Set("If-None-Match", c.if_none_match);
}

BlobWriteResult WriteResult(const http::Response& r) {
  return {r.headers.Get("ETag"), r.headers.Get("Last-Modified")};
}

CopyState ParseCopyState(std::string_view s) {
  if (s == "pending") return CopyState::kPending;
  if (s == "success") return CopyState::kSuccess;
  if (s == "aborted") return CopyState::kAborted;
  if (s == "failed") return CopyState::kFailed;
  return CopyState::kNone;
}

// Codes with which an endpoint says "I do not have this feature" rather than
// "your request is wrong": Azurite answers 501 APINotImplemented; Azure refuses
// containers without version-level immutability with a *NotEnabled/*NotSupported code.
bool IsCapabilityError(const Status& s) {
  if (s.detail().http_status == 501) return true;
  const std::string& code = s.detail().reason;
  for (const char* marker : {"NotImplemented", "NotSupported", "NotEnabled", "Unsupported"}) {
    if (code.find(marker) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

const char* CopyStateName(CopyState s) {
  switch (s) {
    case CopyState::kNone:
      return "none";
    case CopyState::kPending:
      return "pending";
    case CopyState::kSuccess:
      return "success";
    case CopyState::kAborted:
      return "aborted";
    case CopyState::kFailed:
      return "failed";
  }
  return "none";
}

Status ValidateMetadata(const BlobMetadata& metadata) {
  for (const auto& [k, v] : metadata) {
    if (!ValidIdentifier(k)) {
      return InvalidArgumentError("metadata name \"" + k + "\" is not a C# identifier");
    }
    for (char c : v) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f) {
        return InvalidArgumentError("metadata \"" + k +
                                    "\" has a non-printable or non-ASCII value");
      }
    }
  }
  return Status::Ok();
}

Status ValidateTags(const BlobTags& tags) {
  if (tags.size() > 10) return InvalidArgumentError("a blob can carry at most 10 tags");
  for (const auto& [k, v] : tags) {
    if (k.empty() || k.size() > 128)
      return InvalidArgumentError("tag key must be 1-128 characters");
    if (v.size() > 256)
      return InvalidArgumentError("tag \"" + k + "\" value exceeds 256 characters");
    if (!std::all_of(k.begin(), k.end(), ValidTagChar) ||
        !std::all_of(v.begin(), v.end(), ValidTagChar)) {
      return InvalidArgumentError("tag \"" + k +
                                  "\" uses characters outside letters, digits, space and +-./:=_");
    }
  }
  return Status::Ok();
}

std::string TagsToXml(const BlobTags& tags) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Tags><TagSet>";
  for (const auto& [k, v] : tags) {
    xml += "<Tag><Key>" + XmlEscape(k) + "</Key><Value>" + XmlEscape(v) + "</Value></Tag>";
  }
  return xml + "</TagSet></Tags>";
}

StatusOr<BlobTags> TagsFromXml(std::string_view xml) {
  if (xml.find("<Tags") == std::string_view::npos) {
    return InternalError("Get Blob Tags: response is not a <Tags> document");
  }
  BlobTags tags;
  for (const std::string& tag : XmlElements(xml, "Tag")) {
    auto key = XmlElementText(tag, "Key");
    if (!key) return InternalError("Get Blob Tags: <Tag> without <Key>");
    tags[*key] = XmlElementText(tag, "Value").value_or("");
  }
  return tags;
}

StatusOr<std::unique_ptr<BlobClient>> BlobClient::Create(BlobClientOptions options,
                                                         std::unique_ptr<StorageAuth> auth) {
  if (!auth) return InvalidArgumentError("blob client: no authorisation configured");
  ASSIGN_OR_RETURN(StorageAccountUrl account,
                   StorageAccountUrl::Parse(options.account_url, options.account_name));
  if (auth->shared_key() && auth->shared_key()->account() != account.account()) {
    return InvalidArgumentError("blob client: shared key is for account " +
                                auth->shared_key()->account() + " but the URL names " +
                                account.account());
  }
  if (options.retry.max_attempts < 1) options.retry.max_attempts = 1;
  return std::unique_ptr<BlobClient>(
      new BlobClient(std::move(options), std::move(account), std::move(auth)));
}

BlobClient::BlobClient(BlobClientOptions options, StorageAccountUrl account,
                       std::unique_ptr<StorageAuth> auth)
    : options_(std::move(options)),
      account_(std::move(account)),
      auth_(std::move(auth)),
      clock_(options_.clock ? *options_.clock : RealClock::Get()),
      http_(http::Client::Options{.tls = options_.tls, .user_agent = "vmrelease-blob/0.1"}) {}

BlobClient::~BlobClient() = default;

StatusOr<http::Response> BlobClient::Execute(const Call& call) {
  Backoff backoff(options_.retry.backoff);
  bool refreshed_token = false;
  Status last_error;
  for (int attempt = 1;; ++attempt) {
    http::Request req;
    req.method = call.method;
    req.url = call.url;
    if (!call.query.empty()) req.url += "?" + http::BuildQuery(call.query);
    req.headers = call.headers;
    req.headers.Set("x-ms-version", options_.api_version);
    req.headers.Set("x-ms-date", FormatHttpDate(clock_.WallNow()));
    req.headers.Set("x-ms-client-request-id", RandomHex(32));
    req.body.assign(call.body.data(), call.body.size());
    req.timeout = options_.timeout;
    RETURN_IF_ERROR(auth_->Authorize(req), call.what);

    StatusOr<http::Response> resp = http_.Send(req);
    if (options_.on_response) options_.on_response(resp.ok() ? resp->status : 0);
    std::optional<std::chrono::milliseconds> retry_after;
    std::string failure;
    if (!resp.ok()) {
      const StatusCode c = resp.status().code();
      if (c != StatusCode::kUnavailable && c != StatusCode::kDeadlineExceeded) {
        return resp.status().WithContext(call.what);
      }
      last_error = Status(c, log::Redact(call.what + ": " + resp.status().message()));
      failure = resp.status().message();
    } else if (IsTokenRejection(*resp) && !refreshed_token && auth_->OnUnauthorized()) {
      // A token may expire between acquisition and use; one fresh try is enough.
      refreshed_token = true;
      log::Info(kLogger, "storage token rejected; retrying with a fresh token",
                {{"op", call.what}, {"request_id", resp->headers.Get("x-ms-request-id")}});
      --attempt;
      continue;
    } else if (IsRetryableStatus(resp->status)) {
      last_error = BlobHttpError(*resp, call.what, clock_.WallNow());
      retry_after = last_error.detail().retry_after;
      failure = last_error.message();
    } else {
      return resp;
    }
    if (attempt >= options_.retry.max_attempts) {
      return last_error.WithContext("giving up after " + std::to_string(attempt) + " attempts");
    }
    Duration delay = backoff.Next();
    if (retry_after) delay = std::min<Duration>(*retry_after, options_.retry.max_retry_after);
    retries_.fetch_add(1);
    log::Warn(kLogger, "blob request failed; retrying",
              {{"op", call.what},
               {"attempt", attempt},
               {"delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()},
               {"error", failure}});
    clock_.SleepFor(delay);
  }
}

StatusOr<http::Response> BlobClient::ExecuteExpect(const Call& call,
                                                   std::initializer_list<int> expected) {
  ASSIGN_OR_RETURN(http::Response resp, Execute(call));
  if (std::find(expected.begin(), expected.end(), resp.status) == expected.end()) {
    return BlobHttpError(resp, call.what, clock_.WallNow());
  }
  return resp;
}

Status BlobClient::CreateContainer(const std::string& container) {
  RETURN_IF_ERROR(ValidateContainerName(container));
  Call call{.method = "PUT",
            .url = account_.ContainerUrl(container),
            .query = {{"restype", "container"}},
            .what = "create container " + container};
  ASSIGN_OR_RETURN(http::Response resp, Execute(call));
  if (resp.status == 201) {
    log::Info(kLogger, "container created", {{"container", container}});
    return Status::Ok();
  }
  Status err = BlobHttpError(resp, call.what, clock_.WallNow());
  if (err.code() == StatusCode::kAlreadyExists) return Status::Ok();
  return err;
}

StatusOr<BlobWriteResult> BlobClient::CreatePageBlob(const BlobRef& ref, int64_t size,
                                                     const PutBlobOptions& options) {
  RETURN_IF_ERROR(ValidateBlobName(ref.name));
  RETURN_IF_ERROR(ValidateMetadata(options.metadata));
  RETURN_IF_ERROR(ValidateTags(options.tags));
  if (size < 0 || size % 512 != 0) {
    return InvalidArgumentError("page blob size " + std::to_string(size) +
                                " is not a multiple of 512");
  }
  Call call{
      .method = "PUT", .url = account_.BlobUrl(ref), .what = "create page blob " + ref.ToString()};
  call.headers.Set("x-ms-blob-type", "PageBlob");
  call.headers.Set("x-ms-blob-content-length", std::to_string(size));
  if (!options.content_type.empty())
    call.headers.Set("x-ms-blob-content-type", options.content_type);
  AddWriteOptions(call, options);
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {201}));
  return WriteResult(resp);
}

StatusOr<BlobWriteResult> BlobClient::PutPages(const BlobRef& ref, int64_t offset,
                                               std::string_view data,
                                               const BlobConditions& conditions) {
  const auto n = static_cast<int64_t>(data.size());
  if (offset < 0 || offset % 512 != 0 || n == 0 || n % 512 != 0 || n > kMaxPageWrite) {
    return InvalidArgumentError("put page: range at " + std::to_string(offset) + " of " +
                                std::to_string(n) +
                                " bytes must be 512-aligned, non-empty and at most 4 MiB");
  }
  Call call{.method = "PUT",
            .url = account_.BlobUrl(ref),
            .query = {{"comp", "page"}},
            .body = data,
            .what = "put page " + ref.ToString() + " " + RangeHeader(offset, n)};
  call.headers.Set("x-ms-page-write", "update");
  call.headers.Set("x-ms-range", RangeHeader(offset, n));
  AddConditions(call, conditions);
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {201}));
  return WriteResult(resp);
}

StatusOr<BlobWriteResult> BlobClient::ClearPages(const BlobRef& ref, ByteRange range,
                                                 const BlobConditions& conditions) {
  if (range.offset < 0 || range.offset % 512 != 0 || range.length <= 0 || range.length % 512 != 0) {
    return InvalidArgumentError("clear pages: range must be 512-aligned and non-empty");
  }
  Call call{
      .method = "PUT",
      .url = account_.BlobUrl(ref),
      .query = {{"comp", "page"}},
      .what = "clear pages " + ref.ToString() + " " + RangeHeader(range.offset, range.length)};
  call.headers.Set("x-ms-page-write", "clear");
  call.headers.Set("x-ms-range", RangeHeader(range.offset, range.length));
  AddConditions(call, conditions);
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {201}));
  return WriteResult(resp);
}

StatusOr<BlobWriteResult> BlobClient::PutBlockBlob(const BlobRef& ref, std::string_view data,
                                                   const PutBlobOptions& options) {
  RETURN_IF_ERROR(ValidateBlobName(ref.name));
  RETURN_IF_ERROR(ValidateMetadata(options.metadata));
  RETURN_IF_ERROR(ValidateTags(options.tags));
  Call call{.method = "PUT",
            .url = account_.BlobUrl(ref),
            .body = data,
            .what = "put block blob " + ref.ToString()};
  call.headers.Set("x-ms-blob-type", "BlockBlob");
  if (!options.content_type.empty())
    call.headers.Set("x-ms-blob-content-type", options.content_type);
  AddWriteOptions(call, options);
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {201}));
  return WriteResult(resp);
}

Status BlobClient::PutBlock(const BlobRef& ref, const std::string& block_id,
                            std::string_view data) {
  if (block_id.empty() || block_id.size() > 64) {
    return InvalidArgumentError("block id must be 1-64 bytes before base64 encoding");
  }
  Call call{.method = "PUT",
            .url = account_.BlobUrl(ref),
            .query = {{"comp", "block"}, {"blockid", Base64Encode(block_id)}},
            .body = data,
            .what = "put block " + ref.ToString()};
  return ExecuteExpect(call, {201}).status();
}

StatusOr<BlobWriteResult> BlobClient::PutBlockList(const BlobRef& ref,
                                                   const std::vector<std::string>& block_ids,
                                                   const PutBlobOptions& options) {
  RETURN_IF_ERROR(ValidateMetadata(options.metadata));
  RETURN_IF_ERROR(ValidateTags(options.tags));
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const std::string& id : block_ids) xml += "<Latest>" + Base64Encode(id) + "</Latest>";
  xml += "</BlockList>";
  Call call{.method = "PUT",
            .url = account_.BlobUrl(ref),
            .query = {{"comp", "blocklist"}},
            .body = xml,
            .what = "put block list " + ref.ToString()};
  call.headers.Set("Content-Type", "application/xml");
  if (!options.content_type.empty())
    call.headers.Set("x-ms-blob-content-type", options.content_type);
  AddWriteOptions(call, options);
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {201}));
  return WriteResult(resp);
}

StatusOr<std::string> BlobClient::GetBlob(const BlobRef& ref, std::optional<ByteRange> range) {
  Call call{.method = "GET", .url = account_.BlobUrl(ref), .what = "get blob " + ref.ToString()};
  if (range) {
    if (range->offset < 0 || range->length <= 0) {
      return InvalidArgumentError("get blob: empty or negative range");
    }
    call.headers.Set("x-ms-range", RangeHeader(range->offset, range->length));
    call.what += " " + RangeHeader(range->offset, range->length);
  }
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {200, 206}));
  return std::move(resp.body);
}

StatusOr<BlobProperties> BlobClient::GetProperties(const BlobRef& ref) {
  Call call{
      .method = "HEAD", .url = account_.BlobUrl(ref), .what = "get properties " + ref.ToString()};
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {200}));
  const http::Headers& h = resp.headers;
  BlobProperties p;
  p.etag = h.Get("ETag");
  p.last_modified = h.Get("Last-Modified");
  p.blob_type = h.Get("x-ms-blob-type");
  p.content_type = h.Get("Content-Type");
  try {
    if (h.Has("Content-Length")) p.content_length = std::stoll(h.Get("Content-Length"));
    if (h.Has("x-ms-blob-sequence-number")) {
      p.sequence_number = std::stoll(h.Get("x-ms-blob-sequence-number"));
    }
    if (h.Has("x-ms-tag-count")) p.tag_count = std::stoi(h.Get("x-ms-tag-count"));
  } catch (const std::exception&) {
    return InternalError(call.what + ": malformed numeric header in response");
  }
  for (const auto& [name, value] : h) {
    std::string lower = AsciiLower(name);
    if (lower.rfind("x-ms-meta-", 0) == 0) p.metadata[lower.substr(10)] = value;
  }
  p.copy.state = ParseCopyState(h.Get("x-ms-copy-status"));
  p.copy.copy_id = h.Get("x-ms-copy-id");
  p.copy.progress = h.Get("x-ms-copy-progress");
  p.copy.description = log::Redact(h.Get("x-ms-copy-status-description"));
  return p;
}

StatusOr<BlobWriteResult> BlobClient::SetMetadata(const BlobRef& ref, const BlobMetadata& metadata,
                                                  const BlobConditions& conditions) {
  RETURN_IF_ERROR(ValidateMetadata(metadata));
  Call call{.method = "PUT",
            .url = account_.BlobUrl(ref),
            .query = {{"comp", "metadata"}},
            .what = "set metadata " + ref.ToString()};
  for (const auto& [k, v] : metadata) call.headers.Set("x-ms-meta-" + k, v);
  AddConditions(call, conditions);
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {200}));
  return WriteResult(resp);
}

Status BlobClient::SetTags(const BlobRef& ref, const BlobTags& tags) {
  RETURN_IF_ERROR(ValidateTags(tags));
  const std::string xml = TagsToXml(tags);
  Call call{.method = "PUT",
            .url = account_.BlobUrl(ref),
            .query = {{"comp", "tags"}},
            .body = xml,
            .what = "set tags " + ref.ToString()};
  call.headers.Set("Content-Type", "application/xml");
  return ExecuteExpect(call, {204, 200}).status();
}

StatusOr<BlobTags> BlobClient::GetTags(const BlobRef& ref) {
  Call call{.method = "GET",
            .url = account_.BlobUrl(ref),
            .query = {{"comp", "tags"}},
            .what = "get tags " + ref.ToString()};
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {200}));
  return TagsFromXml(resp.body);
}

StatusOr<CopyStatus> BlobClient::StartCopyFromUrl(const BlobRef& dest,
                                                  const std::string& source_url,
                                                  const PutBlobOptions& options) {
  RETURN_IF_ERROR(ValidateBlobName(dest.name));
  RETURN_IF_ERROR(ValidateMetadata(options.metadata));
  RETURN_IF_ERROR(ValidateTags(options.tags));
  Call call{.method = "PUT",
            .url = account_.BlobUrl(dest),
            .what = "copy " + StripQuery(source_url) + " to " + dest.ToString()};
  call.headers.Set("x-ms-copy-source", source_url);
  AddWriteOptions(call, options);
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {202, 201}));
  CopyStatus s;
  s.copy_id = resp.headers.Get("x-ms-copy-id");
  s.state = ParseCopyState(resp.headers.Get("x-ms-copy-status"));
  log::Info(kLogger, "copy started",
            {{"source", StripQuery(source_url)},
             {"dest", dest.ToString()},
             {"copy_id", s.copy_id},
             {"status", CopyStateName(s.state)}});
  return s;
}

Status BlobClient::Delete(const BlobRef& ref, const BlobConditions& conditions) {
  Call call{.method = "DELETE", .url = account_.BlobUrl(ref), .what = "delete " + ref.ToString()};
  call.headers.Set("x-ms-delete-snapshots", "include");
  AddConditions(call, conditions);
  return ExecuteExpect(call, {202, 200}).status();
}

StatusOr<std::vector<std::string>> BlobClient::ListBlobs(const std::string& container,
                                                         const std::string& prefix) {
  std::vector<std::string> names;
  std::string marker;
  do {
    Call call{.method = "GET",
              .url = account_.ContainerUrl(container),
              .query = {{"restype", "container"}, {"comp", "list"}},
              .what = "list blobs in " + container};
    if (!prefix.empty()) call.query.push_back({"prefix", prefix});
    if (!marker.empty()) call.query.push_back({"marker", marker});
    ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {200}));
    for (const std::string& blob : XmlElements(resp.body, "Blob")) {
      if (auto name = XmlElementText(blob, "Name")) names.push_back(*name);
    }
    marker = XmlElementText(resp.body, "NextMarker").value_or("");
  } while (!marker.empty());
  return names;
}

Status BlobClient::SetImmutabilityPolicy(const BlobRef& ref, const ImmutabilityPolicy& policy) {
  Call call{.method = "PUT",
            .url = account_.BlobUrl(ref),
            .query = {{"comp", "immutabilityPolicies"}},
            .what = "set immutability policy " + ref.ToString()};
  call.headers.Set("x-ms-immutability-policy-until-date", FormatHttpDate(policy.until));
  call.headers.Set("x-ms-immutability-policy-mode", policy.locked ? "Locked" : "Unlocked");
  StatusOr<http::Response> resp = ExecuteExpect(call, {200});
  if (resp.ok()) {
    log::Info(kLogger, "immutability policy set",
              {{"blob", ref.ToString()}, {"until", FormatRfc3339(policy.until)}});
    return Status::Ok();
  }
  if (!IsCapabilityError(resp.status())) return resp.status();
  ErrorDetail detail = resp.status().detail();
  const std::string msg =
      "immutability policies are not supported by the storage endpoint " + account_.AccountUrl() +
      " (" + resp.status().message() +
      "); the blob stays protected by create-only writes, but not by a time-based retention "
      "policy. Enable version-level immutability on the container to get one";
  log::Warn(
      kLogger, "immutability policy not supported",
      {{"blob", ref.ToString()}, {"endpoint", account_.AccountUrl()}, {"code", detail.reason}});
  return Status(StatusCode::kUnimplemented, msg, std::move(detail));
}

StatusOr<UserDelegationKey> BlobClient::GetUserDelegationKey(WallTime start, WallTime expiry) {
  if (auth_->kind() != StorageAuth::Kind::kBearer) {
    return FailedPreconditionError("a user delegation key needs an Entra ID (bearer) credential");
  }
  const std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><KeyInfo><Start>" +
                          FormatRfc3339(start) + "</Start><Expiry>" + FormatRfc3339(expiry) +
                          "</Expiry></KeyInfo>";
  Call call{.method = "POST",
            .url = account_.ServiceUrl(),
            .query = {{"restype", "service"}, {"comp", "userdelegationkey"}},
            .body = xml,
            .what = "get user delegation key for " + account_.account()};
  call.headers.Set("Content-Type", "application/xml");
  ASSIGN_OR_RETURN(http::Response resp, ExecuteExpect(call, {200}));
  UserDelegationKey k;
  k.signed_oid = XmlElementText(resp.body, "SignedOid").value_or("");
  k.signed_tid = XmlElementText(resp.body, "SignedTid").value_or("");
  k.signed_start = XmlElementText(resp.body, "SignedStart").value_or("");
  k.signed_expiry = XmlElementText(resp.body, "SignedExpiry").value_or("");
  k.signed_service = XmlElementText(resp.body, "SignedService").value_or("");
  k.signed_version = XmlElementText(resp.body, "SignedVersion").value_or("");
  k.value = XmlElementText(resp.body, "Value").value_or("");
  if (k.value.empty() || k.signed_oid.empty()) {
    return InternalError(call.what + ": response has no key value or object id");
  }
  log::RegisterSecret(k.value);
  return k;
}

StatusOr<std::string> BlobClient::GenerateSasUrl(const BlobRef& ref, const SasRequest& request) {
  BlobSasOptions o{.container = ref.container,
                   .blob = ref.name,
                   .permissions = request.permissions,
                   .start = request.start,
                   .expiry = request.expiry,
                   .ip = request.ip,
                   .protocol = request.protocol};
  if (const SharedKeySigner* signer = auth_->shared_key()) {
    ASSIGN_OR_RETURN(SasToken t, GenerateServiceSas(*signer, o));
    return account_.BlobUrl(ref) + "?" + t.query;
  }
  if (auth_->kind() == StorageAuth::Kind::kBearer) {
    // The service caps user delegation keys at 7 days; one key signs many SAS.
    const WallTime now = clock_.WallNow();
    if (request.expiry > now + std::chrono::hours(24 * 7)) {
      return InvalidArgumentError("a user delegation SAS cannot outlive 7 days");
    }
    std::optional<UserDelegationKey> key;
    {
      std::lock_guard g(udk_mu_);
      if (udk_ && udk_expiry_ >= request.expiry) key = udk_;
    }
    if (!key) {
      const WallTime expiry = std::min(now + std::chrono::hours(24 * 7),
                                       std::max(request.expiry, now + std::chrono::hours(24)));
      ASSIGN_OR_RETURN(UserDelegationKey fresh,
                       GetUserDelegationKey(now - std::chrono::minutes(5), expiry));
      std::lock_guard g(udk_mu_);
      udk_ = fresh;
      udk_expiry_ = expiry;
      key = std::move(fresh);
    }
    ASSIGN_OR_RETURN(SasToken t, GenerateUserDelegationSas(account_.account(), *key, o));
    return account_.BlobUrl(ref) + "?" + t.query;
  }
  return FailedPreconditionError("cannot sign a SAS with " + auth_->Describe() +
                                 " (needs a shared key or an Entra ID credential)");
}

StatusOr<CopyStatus> WaitForCopy(BlobStore& store, const BlobRef& dest, Clock& clock, Duration poll,
                                 Duration timeout) {
  const TimePoint deadline = clock.Now() + timeout;
  while (true) {
    ASSIGN_OR_RETURN(BlobProperties p, store.GetProperties(dest));
    switch (p.copy.state) {
      case CopyState::kSuccess:
        return p.copy;
      case CopyState::kFailed:
      case CopyState::kAborted:
        return AbortedError("copy into " + dest.ToString() + " ended " +
                            CopyStateName(p.copy.state) + ": " + p.copy.description);
      case CopyState::kNone:
        return FailedPreconditionError(dest.ToString() + " has no copy operation");
      case CopyState::kPending:
        break;
    }
    if (clock.Now() + poll > deadline) {
      return DeadlineExceededError("copy into " + dest.ToString() + " still pending (" +
                                   p.copy.progress + ")");
    }
    clock.SleepFor(poll);
  }
}

}  // namespace vmrelease::azure
