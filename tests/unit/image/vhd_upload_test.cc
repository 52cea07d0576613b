// The upload engine against the in-memory FakeBlobStore: exact bytes, exact
// set of Put Page calls (zero ranges skipped), bounded parallelism, first error
// wins, resume from the checkpoint, never overwriting, cancellation, and the
// verification of uploaded blobs. Also run under ThreadSanitizer (label tsan).
#include "controller/image/vhd_upload.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>

#include "controller/azure/blob_error.h"
#include "controller/common/crypto.h"
#include "controller/image/vhd_verify.h"
#include "tests/support/azurite/fake_blob_store.h"
#include "tests/support/testing/process.h"

namespace vmrelease::image {
namespace {

using namespace std::chrono_literals;
using testing::FakeBlobStore;

const azure::BlobRef kDest{"images", "disk.vhd"};

class VhdUploadTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(store_.CreateContainer("images").ok()); }

  // A file of `size` bytes (a hole everywhere) with random data at the given ranges.
  std::string MakeDisk(const std::string& name, int64_t size,
                       const std::vector<std::pair<int64_t, int64_t>>& data) {
    const std::string path = dir_.Join(name);
    const int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, size), 0);
    for (const auto& [off, len] : data) {
      std::string bytes = RandomBytes(static_cast<size_t>(len));
      bytes[0] = 'D';
      EXPECT_EQ(pwrite(fd, bytes.data(), bytes.size(), off), len);
    }
    close(fd);
    return path;
  }

  // raw + zero padding to `virtual_size` + footer.
  static std::string ExpectedBlob(const std::string& raw, int64_t virtual_size,
                                  const VhdFooter& footer) {
    std::string out = raw;
    out.resize(static_cast<size_t>(virtual_size), '\0');
    const auto f = EncodeFooter(footer);
    out.append(reinterpret_cast<const char*>(f.data()), f.size());
    return out;
  }

  testing::TempDir dir_;
  FakeBlobStore store_;
};

TEST_F(VhdUploadTest, RawDiskBecomesExactVhdAndOnlyNonZeroRangesAreSent) {
  // 20 MiB + 700 bytes: data in ranges 0, 5 and the partial last one; range 2 is allocated but
  // zero.
  const std::string path = MakeDisk("d.raw", 20 * kMiB + 700,
                                    {{100, 1000}, {5 * kMiB + 4096, 8192}, {20 * kMiB + 100, 600}});
  {
    const int fd = open(path.c_str(), O_WRONLY);
    const std::string zeros(kMiB, '\0');
    ASSERT_EQ(pwrite(fd, zeros.data(), zeros.size(), 2 * kMiB), static_cast<ssize_t>(kMiB));
    close(fd);
  }
  std::vector<UploadProgress> progress;
  auto r = UploadVhd(store_, kDest, path,
                     {.parallelism = 3,
                      .range_size = kMiB,
                      .metadata = {{"image", "app"}},
                      .tags = {{"version", "1.0.0"}},
                      .progress = [&](const UploadProgress& p) { progress.push_back(p); }});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->virtual_size, 21 * kMiB);
  EXPECT_EQ(r->blob_size, 21 * kMiB + 512);
  const std::string raw = testing::ReadFile(path);
  const std::string blob = store_.Content(kDest);
  EXPECT_TRUE(blob == ExpectedBlob(raw, 21 * kMiB, r->footer));
  EXPECT_EQ(r->sha256, Sha256Hex(blob));
  // Ranges 0, 5 and 20 (the tail, padded to a whole sector) plus the footer.
  EXPECT_EQ(store_.put_page_offsets(), (std::set<int64_t>{0, 5 * kMiB, 20 * kMiB, 21 * kMiB}));
  EXPECT_EQ(r->put_page_calls, 4);
  EXPECT_EQ(r->bytes_uploaded, 2 * kMiB + 1024);  // the 700-byte tail goes up as 1024
  EXPECT_EQ(r->bytes_skipped, 18 * kMiB);
  // Metadata and tags record the result.
  auto props = store_.GetProperties(kDest);
  ASSERT_TRUE(props.ok());
  EXPECT_EQ(props->metadata.at(kMetaSha256), r->sha256);
  EXPECT_EQ(props->metadata.at(kMetaUploadState), "complete");
  EXPECT_EQ(props->metadata.at("image"), "app");
  EXPECT_EQ(props->etag, r->etag);
  EXPECT_EQ(*store_.GetTags(kDest), (azure::BlobTags{{"version", "1.0.0"}}));
  // Progress is monotonic and ends complete.
  ASSERT_GE(progress.size(), 21u);
  for (size_t i = 1; i < progress.size(); ++i) {
    EXPECT_GE(progress[i].bytes_read, progress[i - 1].bytes_read);
  }
  EXPECT_EQ(progress.back().bytes_read, 20 * kMiB + 700);
  EXPECT_EQ(progress.back().bytes_uploaded, r->bytes_uploaded);
  // The hash-only path gives the same answer from the same single read.
  auto src = InspectDisk(path, WallTime{});
  ASSERT_TRUE(src.ok());
  src->footer = r->footer;
  EXPECT_EQ(*ComputeVhdSha256(*src, kMiB), r->sha256);
  auto verified =
      VerifyVhdBlob(store_, kDest, {.expected_sha256 = r->sha256, .hash_content = true});
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->content_sha256, r->sha256);
}

TEST_F(VhdUploadTest, ParallelismIsReachedAndNeverExceeded) {
  const int kParallel = 4;
  std::vector<std::pair<int64_t, int64_t>> data;
  for (int i = 0; i < 16; ++i) data.push_back({i * 512 * 1024LL, 512});
  const std::string path = MakeDisk("p.raw", 8 * kMiB, data);
  // Each Put Page waits until kParallel of them are in flight at once (or 30 s pass).
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  bool opened = false;
  store_.SetFault([&](const FakeBlobStore::Op& op) {
    if (op.name != "PutPages" || op.offset >= 8 * kMiB) return Status::Ok();
    std::unique_lock lock(mu);
    if (++inside >= kParallel) opened = true;
    cv.notify_all();
    cv.wait_for(lock, 30s, [&] { return opened; });
    --inside;
    return Status::Ok();
  });
  auto r = UploadVhd(store_, kDest, path, {.parallelism = kParallel, .range_size = 512 * 1024});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(opened) << "the uploader never had " << kParallel << " Put Page calls in flight";
  EXPECT_EQ(store_.max_concurrent_put_pages(), kParallel);
  EXPECT_EQ(r->put_page_calls, 17);
}

TEST_F(VhdUploadTest, FirstErrorStopsTheUploadAndTheSameUploadIdResumes) {
  std::vector<std::pair<int64_t, int64_t>> data;
  for (int i = 0; i < 8; ++i) data.push_back({i * kMiB, kMiB});
  const std::string path = MakeDisk("r.raw", 8 * kMiB, data);
  store_.SetFault([](const FakeBlobStore::Op& op) {
    if (op.name == "PutPages" && op.offset == 5 * kMiB) {
      ErrorDetail d;
      d.http_status = 500;
      return Status(StatusCode::kUnavailable, "injected: server error after retries", d);
    }
    return Status::Ok();
  });
  const VhdUploadOptions opts{.parallelism = 1,
                              .range_size = kMiB,
                              .upload_id = "release-uid-1",
                              .checkpoint_interval = kMiB};
  auto failed = UploadVhd(store_, kDest, path, opts);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(failed.status().message().find("injected"), std::string::npos);
  // Nothing after the failure was sent, and the blob is visibly unfinished.
  EXPECT_EQ(*store_.put_page_offsets().rbegin(), 4 * kMiB);
  auto props = store_.GetProperties(kDest);
  ASSERT_TRUE(props.ok());
  EXPECT_EQ(props->metadata.at(kMetaUploadState), "uploading");
  EXPECT_EQ(store_.Content(kDest).substr(8 * kMiB), std::string(512, '\0')) << "no footer yet";
  EXPECT_EQ(VerifyVhdBlob(store_, kDest).status().code(), StatusCode::kFailedPrecondition);
  // With two buffers and one worker, submitting range 5 means range 3 was done.
  const int64_t checkpoint = std::stoll(props->metadata.at(kMetaCheckpoint));
  EXPECT_GE(checkpoint, 4 * kMiB);
  EXPECT_LE(checkpoint, 5 * kMiB);

  // A different upload id never touches it.
  auto stranger = UploadVhd(store_, kDest, path, {.upload_id = "someone-else"});
  EXPECT_EQ(stranger.status().code(), StatusCode::kAlreadyExists);

  // The same id resumes: ranges below the checkpoint are hashed but not sent again.
  std::vector<int64_t> resent;
  std::mutex mu;
  store_.SetFault([&](const FakeBlobStore::Op& op) {
    if (op.name == "PutPages") {
      std::lock_guard g(mu);
      resent.push_back(op.offset);
    }
    return Status::Ok();
  });
  auto resumed = UploadVhd(store_, kDest, path, opts);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_TRUE(resumed->resumed);
  EXPECT_EQ(resumed->bytes_resumed, checkpoint);
  for (int64_t off : resent) EXPECT_GE(off, checkpoint);
  const std::string blob = store_.Content(kDest);
  EXPECT_TRUE(blob == ExpectedBlob(testing::ReadFile(path), 8 * kMiB, resumed->footer));
  EXPECT_EQ(resumed->sha256, Sha256Hex(blob));
  EXPECT_TRUE(VerifyVhdBlob(store_, kDest, {.hash_content = true}).ok());
}

TEST_F(VhdUploadTest, ExistingBlobIsNeverOverwritten) {
  const std::string path = MakeDisk("n.raw", 2 * kMiB, {{0, 4096}});
  ASSERT_TRUE(store_.PutBlockBlob(kDest, "published image", {}).ok());
  const std::string etag = store_.GetProperties(kDest)->etag;
  auto r = UploadVhd(store_, kDest, path, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(azure::ClassifyBlobError(r.status()), azure::BlobErrorKind::kAlreadyExists);
  EXPECT_NE(r.status().message().find("refusing to overwrite"), std::string::npos);
  EXPECT_EQ(store_.Content(kDest), "published image");
  EXPECT_EQ(store_.GetProperties(kDest)->etag, etag);
  EXPECT_EQ(store_.put_page_calls(), 0);
  // Only an explicit overwrite replaces it.
  auto forced = UploadVhd(store_, kDest, path, {.overwrite = true});
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_EQ(store_.Content(kDest).size(), static_cast<size_t>(2 * kMiB + 512));
}

TEST_F(VhdUploadTest, FixedVhdIsUploadedAsIsAndUnalignedOneIsRefootered) {
  const std::string raw = testing::ReadFile(MakeDisk("a.raw", 3 * kMiB, {{kMiB, 5000}}));
  const VhdFooter footer = NewFixedFooter(3 * kMiB, WallTime(std::chrono::seconds(1751364000)));
  const auto fb = EncodeFooter(footer);
  const std::string vhd = raw + std::string(reinterpret_cast<const char*>(fb.data()), 512);
  testing::WriteFile(dir_.Join("a.vhd"), vhd);
  auto r = UploadVhd(store_, kDest, dir_.Join("a.vhd"), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->footer_reused);
  EXPECT_EQ(r->source_format, SourceFormat::kFixedVhd);
  EXPECT_TRUE(store_.Content(kDest) == vhd);
  EXPECT_EQ(r->sha256, Sha256Hex(vhd));

  // A fixed VHD of 3 MiB + 512 is padded to 4 MiB and gets a footer with the same identity.
  const std::string odd_raw = raw + std::string(512, 'x');
  const VhdFooter odd = NewFixedFooter(3 * kMiB + 512, WallTime{});
  const auto ob = EncodeFooter(odd);
  testing::WriteFile(dir_.Join("odd.vhd"),
                     odd_raw + std::string(reinterpret_cast<const char*>(ob.data()), 512));
  const azure::BlobRef dest2{"images", "odd.vhd"};
  auto r2 = UploadVhd(store_, dest2, dir_.Join("odd.vhd"), {});
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_FALSE(r2->footer_reused);
  EXPECT_EQ(r2->virtual_size, 4 * kMiB);
  EXPECT_EQ(r2->footer.unique_id, odd.unique_id);
  EXPECT_EQ(r2->footer.current_size, static_cast<uint64_t>(4 * kMiB));
  EXPECT_TRUE(store_.Content(dest2) == ExpectedBlob(odd_raw, 4 * kMiB, r2->footer));
}

TEST_F(VhdUploadTest, CancelStopsBetweenRanges) {
  const std::string path = MakeDisk("c.raw", 8 * kMiB, {{0, 8 * kMiB}});
  std::atomic<bool> cancel{false};
  auto r = UploadVhd(store_, kDest, path,
                     {.parallelism = 1,
                      .range_size = kMiB,
                      .progress = [&](const UploadProgress&) { cancel = true; },
                      .cancel = &cancel});
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_LE(store_.put_page_calls(), 2);
  EXPECT_EQ(store_.GetProperties(kDest)->metadata.at(kMetaUploadState), "uploading");
}

TEST_F(VhdUploadTest, RejectsBadOptions) {
  const std::string path = MakeDisk("o.raw", kMiB, {});
  EXPECT_EQ(UploadVhd(store_, kDest, path, {.parallelism = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(UploadVhd(store_, kDest, path, {.range_size = 1000}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(UploadVhd(store_, kDest, path, {.range_size = 8 * kMiB}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(UploadVhd(store_, kDest, path, {.metadata = {{"sha256", "x"}}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      UploadVhd(store_, kDest, path, {.metadata = {{"VMRelease_Upload_Id", "x"}}}).status().code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(UploadVhd(store_, kDest, dir_.Join("missing.raw"), {}).status().code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(store_.Exists(kDest));
}

TEST_F(VhdUploadTest, VerifyCatchesWrongSizesFootersAndContent) {
  const std::string path = MakeDisk("v.raw", 2 * kMiB, {{0, 1000}});
  auto r = UploadVhd(store_, kDest, path, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(VerifyVhdBlob(store_, kDest, {.expected_virtual_size = 2 * kMiB}).ok());
  EXPECT_EQ(VerifyVhdBlob(store_, kDest, {.expected_virtual_size = kMiB}).status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(VerifyVhdBlob(store_, kDest, {.expected_sha256 = std::string(64, '0')}).status().code(),
            StatusCode::kDataLoss);
  // Tampering with a data page: only hashing the content notices.
  ASSERT_TRUE(store_.PutPages(kDest, 0, std::string(512, 'T')).ok());
  EXPECT_TRUE(VerifyVhdBlob(store_, kDest).ok());
  auto tampered = VerifyVhdBlob(store_, kDest, {.hash_content = true, .download_range = 300000});
  EXPECT_EQ(tampered.status().code(), StatusCode::kDataLoss);
  // A broken footer.
  ASSERT_TRUE(store_.PutPages(kDest, 2 * kMiB, std::string(512, '\0')).ok());
  EXPECT_EQ(VerifyVhdBlob(store_, kDest).status().code(), StatusCode::kDataLoss);
  // Not a page blob, wrong size.
  const azure::BlobRef block{"images", "block.vhd"};
  ASSERT_TRUE(store_.PutBlockBlob(block, std::string(kMiB + 512, 'x'), {}).ok());
  EXPECT_EQ(VerifyVhdBlob(store_, block).status().code(), StatusCode::kFailedPrecondition);
  const azure::BlobRef small{"images", "small.vhd"};
  ASSERT_TRUE(store_.CreatePageBlob(small, 4096, {}).ok());
  EXPECT_EQ(VerifyVhdBlob(store_, small).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(VerifyVhdBlob(store_, {"images", "none"}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vmrelease::image
