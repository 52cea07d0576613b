#include "controller/image/vhd_upload.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "controller/azure/blob_error.h"
#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "controller/image/sparse.h"

namespace vmrelease::image {
namespace {

constexpr const char* kLogger = "image.upload";

int64_t RoundUp512(int64_t n) { return (n + kSectorSize - 1) / kSectorSize * kSectorSize; }

Status ReadFully(int fd, char* buf, int64_t n, int64_t offset, const std::string& path) {
  while (n > 0) {
    const ssize_t r = pread(fd, buf, static_cast<size_t>(n), offset);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return InternalError("reading " + path + ": " + std::strerror(errno));
    if (r == 0) {
      return DataLossError("reading " + path + " at " + std::to_string(offset) +
                           ": file shrank during the upload");
    }
    buf += r;
    n -= r;
    offset += r;
  }
  return Status::Ok();
}

class File {
 public:
  static StatusOr<File> Open(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return InternalError("opening " + path + ": " + std::strerror(errno));
    // The whole file is read once, front to back.
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return File(fd);
  }
  File(File&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  File& operator=(File&&) = delete;
  ~File() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  explicit File(int fd) : fd_(fd) {}
  int fd_;
};

// Put Page workers with a bounded set of buffers. The reader acquires a
// buffer, fills it and submits it; a worker uploads it and releases it. The
// first failure stops everything: queued ranges are dropped, and the reader
// sees it on its next Acquire().
class PageWriter {
 public:
  PageWriter(azure::BlobStore* store, azure::BlobRef dest, int parallelism, int64_t range_size)
      : store_(store), dest_(std::move(dest)) {
    const int buffers = store ? parallelism + 1 : 1;
    for (int i = 0; i < buffers; ++i) {
      buffers_.push_back(std::make_unique<char[]>(static_cast<size_t>(range_size)));
      free_.push_back(i);
    }
    if (store_) {
      for (int i = 0; i < parallelism; ++i) workers_.emplace_back([this] { Work(); });
    }
  }
  ~PageWriter() { Finish().IgnoreError(); }

  // A free buffer index, or nullopt once an upload failed.
  std::optional<int> Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty() || !error_.ok(); });
    if (!error_.ok()) return std::nullopt;
    const int i = free_.back();
    free_.pop_back();
    return i;
  }
  char* buffer(int i) { return buffers_[static_cast<size_t>(i)].get(); }
  void Release(int i) {
    std::lock_guard g(mu_);
    free_.push_back(i);
    cv_.notify_all();
  }
  void Submit(int64_t offset, int64_t length, int buffer) {
    std::lock_guard g(mu_);
    in_flight_.insert(offset);
    queue_.push_back({offset, length, buffer});
    cv_.notify_all();
  }
  // Every byte below the returned offset that was submitted has been written,
  // assuming nothing at or after `next_offset` has been submitted yet.
  int64_t Watermark(int64_t next_offset) {
    std::lock_guard g(mu_);
    return in_flight_.empty() ? next_offset : *in_flight_.begin();
  }
  bool failed() {
    std::lock_guard g(mu_);
    return !error_.ok();
  }
  void Fail(Status s) {
    std::lock_guard g(mu_);
    if (error_.ok()) error_ = std::move(s);
    cv_.notify_all();
  }
  // Waits for all submitted ranges and stops the workers. Returns the first error.
  Status Finish() {
    {
      std::lock_guard g(mu_);
      done_ = true;
      cv_.notify_all();
    }
    for (auto& t : workers_) {
      if (t.joinable()) t.join();
    }
    std::lock_guard g(mu_);
    return error_;
  }
  int64_t bytes_uploaded() const { return bytes_uploaded_.load(); }
  int64_t calls() const { return calls_.load(); }

 private:
  struct Job {
    int64_t offset;
    int64_t length;
    int buffer;
  };

  void Work() {
    while (true) {
      Job job{};
      bool skip = false;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || done_; });
        if (queue_.empty()) return;
        job = queue_.front();
        queue_.pop_front();
        skip = !error_.ok();
      }
      Status s;
      if (!skip) {
        s = store_
                ->PutPages(dest_, job.offset,
                           std::string_view(buffer(job.buffer), static_cast<size_t>(job.length)))
                .status();
        calls_.fetch_add(1);
        if (s.ok()) bytes_uploaded_.fetch_add(job.length);
      }
      std::lock_guard g(mu_);
      // A range that was not written stays "in flight" for good, so the
      // resume watermark never moves past it.
      if (s.ok() && !skip) in_flight_.erase(job.offset);
      free_.push_back(job.buffer);
      if (!s.ok() && error_.ok()) error_ = std::move(s);
      cv_.notify_all();
    }
  }

  azure::BlobStore* const store_;
  const azure::BlobRef dest_;
  std::vector<std::unique_ptr<char[]>> buffers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> free_;
  std::deque<Job> queue_;
  std::set<int64_t> in_flight_;
  Status error_;
  bool done_ = false;
  std::atomic<int64_t> bytes_uploaded_{0};
  std::atomic<int64_t> calls_{0};
  std::vector<std::thread> workers_;  // last: started after everything above exists
};

struct ScanResult {
  std::string sha256;
  int64_t bytes_skipped = 0;
  int64_t bytes_resumed = 0;
};

struct ScanHooks {
  int64_t resume_below = 0;  // ranges ending at or below this are already in the blob
  int64_t checkpoint_interval = 0;
  std::function<Status(int64_t watermark)> checkpoint;
  std::function<void(const UploadProgress&)> progress;
  const std::atomic<bool>* cancel = nullptr;
};

// The single sequential pass: hashes the final VHD bytes and hands every
// non-zero range to `writer` (which uploads it, or drops it in hash-only mode).
StatusOr<ScanResult> Scan(const DiskSource& src, int64_t range_size, PageWriter& writer,
                          bool upload, const ScanHooks& hooks) {
  ASSIGN_OR_RETURN(File file, File::Open(src.path));
  const std::vector<Extent> extents = DataExtents(file.fd(), src.data_size);
  ExtentCursor cursor(extents);
  const std::string zeros(static_cast<size_t>(std::min<int64_t>(range_size, kMiB)), '\0');
  auto hash_zeros = [&](Sha256& h, int64_t n) {
    while (n > 0) {
      const auto k = std::min<int64_t>(n, static_cast<int64_t>(zeros.size()));
      h.Update(zeros.data(), static_cast<size_t>(k));
      n -= k;
    }
  };
  Sha256 hash;
  ScanResult out;
  UploadProgress progress{.total_bytes = src.data_size};
  int64_t last_checkpoint = hooks.resume_below;
  int64_t offset = 0;
  for (; offset < src.data_size; offset += range_size) {
    if (hooks.cancel && hooks.cancel->load()) {
      writer.Fail(CancelledError("upload of " + src.path + " cancelled"));
      break;
    }
    if (writer.failed()) break;
    const int64_t len = std::min(range_size, src.data_size - offset);
    if (!cursor.Overlaps(offset, len)) {
      hash_zeros(hash, len);  // a hole: zero without touching the disk
      out.bytes_skipped += len;
    } else {
      std::optional<int> buf = writer.Acquire();
      if (!buf) break;  // an upload failed; Finish() reports it
      char* data = writer.buffer(*buf);
      if (Status s = ReadFully(file.fd(), data, len, offset, src.path); !s.ok()) {
        writer.Release(*buf);
        writer.Fail(std::move(s));
        break;
      }
      hash.Update(data, static_cast<size_t>(len));
      const int64_t put_len = RoundUp512(len);  // the tail sector is zero-padded
      if (!upload || IsAllZero(data, static_cast<size_t>(len))) {
        if (upload) out.bytes_skipped += len;
        writer.Release(*buf);
      } else if (offset + put_len <= hooks.resume_below) {
        out.bytes_resumed += len;
        writer.Release(*buf);
      } else {
        std::memset(data + len, 0, static_cast<size_t>(put_len - len));
        writer.Submit(offset, put_len, *buf);
      }
    }
    if (hooks.checkpoint && hooks.checkpoint_interval > 0) {
      const int64_t mark = writer.Watermark(offset + range_size);
      if (mark - last_checkpoint >= hooks.checkpoint_interval) {
        if (Status s = hooks.checkpoint(mark); !s.ok()) {
          writer.Fail(s.WithContext("saving the resume checkpoint"));
          break;
        }
        last_checkpoint = mark;
      }
    }
    if (hooks.progress) {
      progress.bytes_read = std::min(offset + range_size, src.data_size);
      progress.bytes_uploaded = writer.bytes_uploaded();
      progress.bytes_skipped = out.bytes_skipped;
      hooks.progress(progress);
    }
  }
  RETURN_IF_ERROR(writer.Finish());
  hash_zeros(hash, src.virtual_size - src.data_size);
  const std::array<uint8_t, 512> footer = EncodeFooter(src.footer);
  hash.Update(footer.data(), footer.size());
  out.sha256 = hash.FinishHex();
  return out;
}

Status ValidateOptions(const VhdUploadOptions& o) {
  if (o.parallelism < 1 || o.parallelism > 64) {
    return InvalidArgumentError("upload parallelism must be 1-64");
  }
  if (o.range_size < kSectorSize || o.range_size > kMaxPutPage || o.range_size % kSectorSize) {
    return InvalidArgumentError("upload range size must be a multiple of 512 up to 4 MiB");
  }
  for (const auto& [k, v] : o.metadata) {
    // Metadata names are case-insensitive on the service.
    std::string lower = k;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kMetaSha256 || lower.rfind("vmrelease_", 0) == 0) {
      return InvalidArgumentError("metadata name " + k + " is reserved for the uploader");
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> ComputeVhdSha256(const DiskSource& source, int64_t range_size) {
  if (range_size < kSectorSize || range_size % kSectorSize) {
    return InvalidArgumentError("range size must be a positive multiple of 512");
  }
  PageWriter null_writer(nullptr, {}, 1, range_size);
  ASSIGN_OR_RETURN(ScanResult r, Scan(source, range_size, null_writer, /*upload=*/false, {}));
  return r.sha256;
}

StatusOr<VhdUploadResult> UploadVhd(azure::BlobStore& store, const azure::BlobRef& dest,
                                    const std::string& path, const VhdUploadOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  Clock& clock = options.clock ? *options.clock : RealClock::Get();
  ASSIGN_OR_RETURN(DiskSource src, InspectDisk(path, clock.WallNow()));
  RETURN_IF_ERROR(ValidateForAzure(src.footer), path);
  const std::string upload_id = options.upload_id.empty() ? RandomHex(32) : options.upload_id;
  const std::string what = "upload " + path + " to " + dest.ToString();

  azure::BlobMetadata meta = options.metadata;
  meta[kMetaUploadId] = upload_id;
  meta[kMetaUploadState] = "uploading";
  meta[kMetaSource] = src.fingerprint;

  VhdUploadResult result;
  result.blob_size = src.blob_size();
  result.virtual_size = src.virtual_size;
  result.source_format = src.format;
  result.footer_reused = src.footer_reused;

  // 1. Create the blob, refusing to replace anything that is not our own unfinished upload.
  int64_t resume_below = 0;
  StatusOr<azure::BlobWriteResult> created = store.CreatePageBlob(
      dest, src.blob_size(),
      {.content_type = options.content_type, .metadata = meta, .overwrite = options.overwrite});
  if (!created.ok()) {
    if (azure::ClassifyBlobError(created.status()) != azure::BlobErrorKind::kAlreadyExists) {
      return created.status().WithContext(what);
    }
    ASSIGN_OR_RETURN(azure::BlobProperties existing, store.GetProperties(dest));
    auto get = [&](const char* k) {
      auto it = existing.metadata.find(k);
      return it == existing.metadata.end() ? std::string() : it->second;
    };
    const bool ours = get(kMetaUploadId) == upload_id && get(kMetaUploadState) == "uploading" &&
                      get(kMetaSource) == src.fingerprint &&
                      existing.content_length == src.blob_size() &&
                      existing.blob_type == "PageBlob";
    if (!ours) {
      Status refused(StatusCode::kAlreadyExists,
                     what + ": blob already exists (etag " + existing.etag +
                         ") and is not an unfinished upload of this file; refusing to overwrite it",
                     created.status().detail());
      return refused;
    }
    try {
      resume_below = std::stoll(get(kMetaCheckpoint).empty() ? "0" : get(kMetaCheckpoint));
    } catch (const std::exception&) {
      resume_below = 0;
    }
    result.resumed = true;
    log::Info(kLogger, "resuming unfinished upload",
              {{"blob", dest.ToString()}, {"upload_id", upload_id}, {"checkpoint", resume_below}});
  }
  log::Info(kLogger, "upload started",
            {{"path", path},
             {"blob", dest.ToString()},
             {"format", SourceFormatName(src.format)},
             {"data_bytes", src.data_size},
             {"blob_bytes", src.blob_size()},
             {"parallelism", options.parallelism}});

  // 2. One sequential pass: hash everything, upload non-zero ranges in parallel.
  ScanHooks hooks;
  hooks.resume_below = resume_below;
  hooks.checkpoint_interval = options.checkpoint_interval;
  hooks.checkpoint = [&](int64_t mark) {
    azure::BlobMetadata m = meta;
    m[kMetaCheckpoint] = std::to_string(mark);
    return store.SetMetadata(dest, m).status();
  };
  hooks.progress = options.progress;
  hooks.cancel = options.cancel;
  PageWriter writer(&store, dest, options.parallelism, options.range_size);
  StatusOr<ScanResult> scan = Scan(src, options.range_size, writer, /*upload=*/true, hooks);
  if (!scan.ok()) {
    log::Warn(
        kLogger, "upload failed; the blob stays unfinished and can be resumed",
        {{"blob", dest.ToString()}, {"upload_id", upload_id}, {"error", scan.status().message()}});
    return scan.status().WithContext(what);
  }

  // 3. The footer, last: only a complete upload looks like a VHD.
  const std::array<uint8_t, 512> footer = EncodeFooter(src.footer);
  RETURN_IF_ERROR(
      store
          .PutPages(dest, src.virtual_size,
                    std::string_view(reinterpret_cast<const char*>(footer.data()), footer.size()))
          .status(),
      what + ": writing the VHD footer");

  // 4. Record what was uploaded.
  meta[kMetaUploadState] = "complete";
  meta[kMetaSha256] = scan->sha256;
  ASSIGN_OR_RETURN(azure::BlobWriteResult done, store.SetMetadata(dest, meta));
  if (!options.tags.empty()) RETURN_IF_ERROR(store.SetTags(dest, options.tags), what);

  result.sha256 = scan->sha256;
  result.etag = done.etag;
  result.bytes_uploaded = writer.bytes_uploaded();
  result.bytes_skipped = scan->bytes_skipped;
  result.bytes_resumed = scan->bytes_resumed;
  result.put_page_calls = writer.calls() + 1;
  result.footer = src.footer;
  if (options.progress) {
    options.progress({.total_bytes = src.data_size,
                      .bytes_read = src.data_size,
                      .bytes_uploaded = result.bytes_uploaded,
                      .bytes_skipped = result.bytes_skipped});
  }
  log::Info(kLogger, "upload complete",
            {{"blob", dest.ToString()},
             {"sha256", result.sha256},
             {"bytes_uploaded", result.bytes_uploaded},
             {"bytes_skipped", result.bytes_skipped},
             {"put_page_calls", result.put_page_calls}});
  return result;
}

}  // namespace vmrelease::image
