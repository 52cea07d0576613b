#include "tests/support/azurite/fake_blob_store.h"

#include <cctype>

#include "controller/azure/blob_client.h"
#include "controller/common/crypto.h"
#include "controller/http/types.h"

namespace vmrelease::testing {
namespace {

std::string Key(const azure::BlobRef& ref) { return ref.container + "/" + ref.name; }

Status Http(StatusCode code, int http_status, const std::string& reason, const std::string& msg) {
  ErrorDetail d;
  d.http_status = http_status;
  d.reason = reason;
  return Status(code, msg + ": HTTP " + std::to_string(http_status) + " " + reason, d);
}

Status NotFound(const std::string& what) {
  return Http(StatusCode::kNotFound, 404, "BlobNotFound", what);
}

}  // namespace

FakeBlobStore::FakeBlobStore(std::string base_url) : base_url_(std::move(base_url)) {}

void FakeBlobStore::SetFault(Fault fault) {
  std::lock_guard g(mu_);
  fault_ = std::move(fault);
}

Status FakeBlobStore::Hook(const Op& op) {
  Fault f;
  {
    std::lock_guard g(mu_);
    ++op_counts_[op.name];
    f = fault_;
  }
  return f ? f(op) : Status::Ok();
}

std::string FakeBlobStore::NextEtag() { return "\"0x8D" + std::to_string(++etag_counter_) + "\""; }

Status FakeBlobStore::CheckWrite(const std::string& key, const std::string& if_match,
                                 bool overwrite, const std::string& what) const {
  auto it = blobs_.find(key);
  if (!if_match.empty()) {
    if (it == blobs_.end()) return NotFound(what);
    if (if_match != "*" && if_match != it->second.etag) {
      return Http(StatusCode::kFailedPrecondition, 412, "ConditionNotMet", what);
    }
    return Status::Ok();
  }
  if (!overwrite && it != blobs_.end()) {
    return Http(StatusCode::kAlreadyExists, 409, "BlobAlreadyExists", what);
  }
  return Status::Ok();
}

Status FakeBlobStore::CheckConditions(const std::string& key, const azure::BlobConditions& c,
                                      const std::string& what) const {
  auto it = blobs_.find(key);
  if (it == blobs_.end()) return NotFound(what);
  if (!c.if_match.empty() && c.if_match != "*" && c.if_match != it->second.etag) {
    return Http(StatusCode::kFailedPrecondition, 412, "ConditionNotMet", what);
  }
  if (!c.if_none_match.empty() && (c.if_none_match == "*" || c.if_none_match == it->second.etag)) {
    return Http(StatusCode::kFailedPrecondition, 412, "ConditionNotMet", what);
  }
  return Status::Ok();
}

StatusOr<FakeBlobStore::Blob*> FakeBlobStore::Find(const azure::BlobRef& ref,
                                                   const std::string& what) {
  auto it = blobs_.find(Key(ref));
  if (it == blobs_.end()) return NotFound(what);
  return &it->second;
}

bool FakeBlobStore::Exists(const azure::BlobRef& ref) const {
  std::lock_guard g(mu_);
  return blobs_.count(Key(ref)) > 0;
}

std::string FakeBlobStore::Content(const azure::BlobRef& ref) const {
  std::lock_guard g(mu_);
  auto it = blobs_.find(Key(ref));
  return it == blobs_.end() ? std::string() : it->second.content;
}

std::set<int64_t> FakeBlobStore::put_page_offsets() const {
  std::lock_guard g(mu_);
  return put_offsets_;
}

std::map<std::string, int> FakeBlobStore::op_counts() const {
  std::lock_guard g(mu_);
  return op_counts_;
}

Status FakeBlobStore::CreateContainer(const std::string& container) {
  RETURN_IF_ERROR(Hook({"CreateContainer", {container, ""}}));
  RETURN_IF_ERROR(azure::ValidateContainerName(container));
  std::lock_guard g(mu_);
  containers_.insert(container);
  return Status::Ok();
}

StatusOr<azure::BlobWriteResult> FakeBlobStore::CreatePageBlob(const azure::BlobRef& ref,
                                                               int64_t size,
                                                               const azure::PutBlobOptions& o) {
  RETURN_IF_ERROR(Hook({"CreatePageBlob", ref, 0, size}));
  RETURN_IF_ERROR(azure::ValidateMetadata(o.metadata));
  RETURN_IF_ERROR(azure::ValidateTags(o.tags));
  if (size < 0 || size % 512) return InvalidArgumentError("page blob size not 512-aligned");
  std::lock_guard g(mu_);
  if (!containers_.count(ref.container)) {
    return Http(StatusCode::kNotFound, 404, "ContainerNotFound", "create " + Key(ref));
  }
  RETURN_IF_ERROR(CheckWrite(Key(ref), o.if_match, o.overwrite, "create " + Key(ref)));
  Blob b;
  b.type = "PageBlob";
  b.content.assign(static_cast<size_t>(size), '\0');
  b.content_type = o.content_type;
  b.metadata = o.metadata;
  b.tags = o.tags;
  b.etag = NextEtag();
  blobs_[Key(ref)] = b;
  return azure::BlobWriteResult{b.etag, ""};
}

StatusOr<azure::BlobWriteResult> FakeBlobStore::PutPages(const azure::BlobRef& ref, int64_t offset,
                                                         std::string_view data,
                                                         const azure::BlobConditions& c) {
  const int now = concurrent_.fetch_add(1) + 1;
  int seen = max_concurrent_.load();
  while (now > seen && !max_concurrent_.compare_exchange_weak(seen, now)) {
  }
  struct Leave {
    std::atomic<int>& n;
    ~Leave() { n.fetch_sub(1); }
  } leave{concurrent_};
  put_page_calls_.fetch_add(1);
  RETURN_IF_ERROR(Hook({"PutPages", ref, offset, static_cast<int64_t>(data.size())}));
  const auto n = static_cast<int64_t>(data.size());
  if (offset % 512 || n % 512 || n == 0 || n > 4 * 1024 * 1024) {
    return InvalidArgumentError("put page: bad range");
  }
  std::lock_guard g(mu_);
  ASSIGN_OR_RETURN(Blob * b, Find(ref, "put page " + Key(ref)));
  RETURN_IF_ERROR(CheckConditions(Key(ref), c, "put page " + Key(ref)));
  if (b->type != "PageBlob")
    return Http(StatusCode::kInvalidArgument, 400, "InvalidBlobType", "put page");
  if (offset + n > static_cast<int64_t>(b->content.size())) {
    return Http(StatusCode::kOutOfRange, 416, "InvalidPageRange", "put page " + Key(ref));
  }
  b->content.replace(static_cast<size_t>(offset), data.size(), data);
  b->etag = NextEtag();
  put_offsets_.insert(offset);
  return azure::BlobWriteResult{b->etag, ""};
}

StatusOr<azure::BlobWriteResult> FakeBlobStore::ClearPages(const azure::BlobRef& ref,
                                                           azure::ByteRange r,
                                                           const azure::BlobConditions& c) {
  RETURN_IF_ERROR(Hook({"ClearPages", ref, r.offset, r.length}));
  std::lock_guard g(mu_);
  ASSIGN_OR_RETURN(Blob * b, Find(ref, "clear pages " + Key(ref)));
  RETURN_IF_ERROR(CheckConditions(Key(ref), c, "clear pages " + Key(ref)));
  if (r.offset % 512 || r.length % 512 ||
      r.offset + r.length > static_cast<int64_t>(b->content.size())) {
    return InvalidArgumentError("clear pages: bad range");
  }
  b->content.replace(static_cast<size_t>(r.offset), static_cast<size_t>(r.length),
                     static_cast<size_t>(r.length), '\0');
  b->etag = NextEtag();
  return azure::BlobWriteResult{b->etag, ""};
}

StatusOr<azure::BlobWriteResult> FakeBlobStore::PutBlockBlob(const azure::BlobRef& ref,
                                                             std::string_view data,
                                                             const azure::PutBlobOptions& o) {
  RETURN_IF_ERROR(Hook({"PutBlockBlob", ref, 0, static_cast<int64_t>(data.size())}));
  RETURN_IF_ERROR(azure::ValidateMetadata(o.metadata));
  RETURN_IF_ERROR(azure::ValidateTags(o.tags));
  std::lock_guard g(mu_);
  if (!containers_.count(ref.container)) {
    return Http(StatusCode::kNotFound, 404, "ContainerNotFound", "put blob " + Key(ref));
  }
  RETURN_IF_ERROR(CheckWrite(Key(ref), o.if_match, o.overwrite, "put blob " + Key(ref)));
  Blob& b = blobs_[Key(ref)];
  b = Blob{};
  b.type = "BlockBlob";
  b.content = std::string(data);
  b.content_type = o.content_type;
  b.metadata = o.metadata;
  b.tags = o.tags;
  b.etag = NextEtag();
  return azure::BlobWriteResult{b.etag, ""};
}

Status FakeBlobStore::PutBlock(const azure::BlobRef& ref, const std::string& block_id,
                               std::string_view data) {
  RETURN_IF_ERROR(Hook({"PutBlock", ref, 0, static_cast<int64_t>(data.size())}));
  std::lock_guard g(mu_);
  // Staged blocks live on a placeholder until the list is committed.
  staged_[Key(ref)][block_id] = std::string(data);
  return Status::Ok();
}

StatusOr<azure::BlobWriteResult> FakeBlobStore::PutBlockList(const azure::BlobRef& ref,
                                                             const std::vector<std::string>& ids,
                                                             const azure::PutBlobOptions& o) {
  RETURN_IF_ERROR(Hook({"PutBlockList", ref}));
  RETURN_IF_ERROR(azure::ValidateMetadata(o.metadata));
  std::lock_guard g(mu_);
  RETURN_IF_ERROR(CheckWrite(Key(ref), o.if_match, o.overwrite, "put block list " + Key(ref)));
  std::string content;
  auto& staged = staged_[Key(ref)];
  for (const auto& id : ids) {
    auto it = staged.find(id);
    if (it == staged.end()) {
      return Http(StatusCode::kInvalidArgument, 400, "InvalidBlockList", "put block list");
    }
    content += it->second;
  }
  staged_.erase(Key(ref));
  Blob& b = blobs_[Key(ref)];
  b = Blob{};
  b.type = "BlockBlob";
  b.content = std::move(content);
  b.content_type = o.content_type;
  b.metadata = o.metadata;
  b.tags = o.tags;
  b.etag = NextEtag();
  return azure::BlobWriteResult{b.etag, ""};
}

StatusOr<std::string> FakeBlobStore::GetBlob(const azure::BlobRef& ref,
                                             std::optional<azure::ByteRange> range) {
  RETURN_IF_ERROR(Hook({"GetBlob", ref, range ? range->offset : 0, range ? range->length : 0}));
  std::lock_guard g(mu_);
  ASSIGN_OR_RETURN(Blob * b, Find(ref, "get blob " + Key(ref)));
  if (!range) return b->content;
  if (range->offset >= static_cast<int64_t>(b->content.size())) {
    return Http(StatusCode::kOutOfRange, 416, "InvalidRange", "get blob " + Key(ref));
  }
  return b->content.substr(static_cast<size_t>(range->offset), static_cast<size_t>(range->length));
}

StatusOr<azure::BlobProperties> FakeBlobStore::GetProperties(const azure::BlobRef& ref) {
  RETURN_IF_ERROR(Hook({"GetProperties", ref}));
  std::lock_guard g(mu_);
  ASSIGN_OR_RETURN(Blob * b, Find(ref, "get properties " + Key(ref)));
  if (b->copy.state == azure::CopyState::kPending && b->copy_polls_left-- <= 0) {
    b->copy.state = azure::CopyState::kSuccess;
  }
  azure::BlobProperties p;
  p.etag = b->etag;
  p.content_length = static_cast<int64_t>(b->content.size());
  p.blob_type = b->type;
  p.content_type = b->content_type;
  for (const auto& [k, v] : b->metadata) {
    std::string lower = k;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    p.metadata[lower] = v;
  }
  p.tag_count = static_cast<int>(b->tags.size());
  p.copy = b->copy;
  return p;
}

StatusOr<azure::BlobWriteResult> FakeBlobStore::SetMetadata(const azure::BlobRef& ref,
                                                            const azure::BlobMetadata& metadata,
                                                            const azure::BlobConditions& c) {
  RETURN_IF_ERROR(Hook({"SetMetadata", ref}));
  RETURN_IF_ERROR(azure::ValidateMetadata(metadata));
  std::lock_guard g(mu_);
  ASSIGN_OR_RETURN(Blob * b, Find(ref, "set metadata " + Key(ref)));
  RETURN_IF_ERROR(CheckConditions(Key(ref), c, "set metadata " + Key(ref)));
  b->metadata = metadata;
  b->etag = NextEtag();
  return azure::BlobWriteResult{b->etag, ""};
}

Status FakeBlobStore::SetTags(const azure::BlobRef& ref, const azure::BlobTags& tags) {
  RETURN_IF_ERROR(Hook({"SetTags", ref}));
  RETURN_IF_ERROR(azure::ValidateTags(tags));
  std::lock_guard g(mu_);
  ASSIGN_OR_RETURN(Blob * b, Find(ref, "set tags " + Key(ref)));
  b->tags = tags;  // tags do not change the ETag
  return Status::Ok();
}

StatusOr<azure::BlobTags> FakeBlobStore::GetTags(const azure::BlobRef& ref) {
  RETURN_IF_ERROR(Hook({"GetTags", ref}));
  std::lock_guard g(mu_);
  ASSIGN_OR_RETURN(Blob * b, Find(ref, "get tags " + Key(ref)));
  return b->tags;
}

StatusOr<azure::CopyStatus> FakeBlobStore::StartCopyFromUrl(const azure::BlobRef& dest,
                                                            const std::string& source_url,
                                                            const azure::PutBlobOptions& o) {
  RETURN_IF_ERROR(Hook({"StartCopyFromUrl", dest}));
  const std::string prefix = base_url_ + "/";
  const std::string url = azure::StripQuery(source_url);
  if (url.rfind(prefix, 0) != 0) {
    return Http(StatusCode::kInvalidArgument, 400, "CannotVerifyCopySource", "copy");
  }
  const std::string source_key = http::PercentDecode(url.substr(prefix.size()));
  std::lock_guard g(mu_);
  auto src = blobs_.find(source_key);
  if (src == blobs_.end()) {
    return Http(StatusCode::kNotFound, 404, "CannotVerifyCopySource", "copy " + source_key);
  }
  RETURN_IF_ERROR(CheckWrite(Key(dest), o.if_match, o.overwrite, "copy to " + Key(dest)));
  Blob b = src->second;
  b.metadata = o.metadata.empty() ? src->second.metadata : o.metadata;
  b.tags = o.tags;
  b.etag = NextEtag();
  b.copy.copy_id = RandomHex(16);
  b.copy.state = copy_pending_polls_ > 0 ? azure::CopyState::kPending : azure::CopyState::kSuccess;
  b.copy_polls_left = copy_pending_polls_;
  b.immutability.reset();
  blobs_[Key(dest)] = b;
  return b.copy;
}

Status FakeBlobStore::Delete(const azure::BlobRef& ref, const azure::BlobConditions& c) {
  RETURN_IF_ERROR(Hook({"Delete", ref}));
  std::lock_guard g(mu_);
  ASSIGN_OR_RETURN(Blob * b, Find(ref, "delete " + Key(ref)));
  RETURN_IF_ERROR(CheckConditions(Key(ref), c, "delete " + Key(ref)));
  if (b->immutability) {
    return Http(StatusCode::kAborted, 409, "BlobImmutableDueToPolicy", "delete " + Key(ref));
  }
  blobs_.erase(Key(ref));
  return Status::Ok();
}

StatusOr<std::vector<std::string>> FakeBlobStore::ListBlobs(const std::string& container,
                                                            const std::string& prefix) {
  RETURN_IF_ERROR(Hook({"ListBlobs", {container, prefix}}));
  std::lock_guard g(mu_);
  std::vector<std::string> out;
  const std::string start = container + "/" + prefix;
  for (auto it = blobs_.lower_bound(start); it != blobs_.end() && it->first.rfind(start, 0) == 0;
       ++it)
    out.push_back(it->first.substr(container.size() + 1));
  return out;
}

Status FakeBlobStore::SetImmutabilityPolicy(const azure::BlobRef& ref,
                                            const azure::ImmutabilityPolicy& policy) {
  RETURN_IF_ERROR(Hook({"SetImmutabilityPolicy", ref}));
  std::lock_guard g(mu_);
  ASSIGN_OR_RETURN(Blob * b, Find(ref, "set immutability policy " + Key(ref)));
  if (!immutability_supported_) {
    ErrorDetail d;
    d.http_status = 501;
    d.reason = "APINotImplemented";
    return Status(StatusCode::kUnimplemented,
                  "immutability policies are not supported by the fake store", d);
  }
  b->immutability = policy;
  return Status::Ok();
}

std::string FakeBlobStore::BlobUrl(const azure::BlobRef& ref) const {
  return base_url_ + "/" + http::PercentEncode(ref.container) + "/" +
         http::PercentEncode(ref.name, /*keep_slash=*/true);
}

StatusOr<std::string> FakeBlobStore::GenerateSasUrl(const azure::BlobRef& ref,
                                                    const azure::SasRequest& request) {
  RETURN_IF_ERROR(Hook({"GenerateSasUrl", ref}));
  ASSIGN_OR_RETURN(std::string sp, azure::NormalizeSasPermissions(request.permissions));
  return BlobUrl(ref) + "?sp=" + sp + "&se=" + http::PercentEncode(FormatRfc3339(request.expiry)) +
         "&sig=" + RandomHex(32);
}

}  // namespace vmrelease::testing
