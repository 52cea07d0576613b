// The blob client and the VHD engine against a real Azurite (started by the
// azurite fixture): a sparse 1 GiB raw disk becomes a fixed-VHD page blob that
// downloads byte-identical, that qemu-img reads as a VHD and whose recorded
// SHA-256 is sha256sum's; published blobs are never overwritten; conditional
// writes, metadata, tags, copy with SAS, block blobs, and the immutability
// capability error behave as Azure documents. Every test captures the logs
// and fails if a key, token or SAS signature shows up in them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include "controller/azure/blob_client.h"
#include "controller/azure/blob_error.h"
#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "controller/http/client.h"
#include "controller/image/sparse.h"
#include "controller/image/vhd_upload.h"
#include "controller/image/vhd_verify.h"
#include "tests/support/azurite/azurite.h"

namespace vmrelease {
namespace {

using namespace std::chrono_literals;
using azure::BlobClient;
using azure::BlobRef;
using testing::Azurite;
using testing::kAzuriteAccount;
using testing::kAzuriteKey;

constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kGiB = 1024 * kMiB;

// --- a second, independent reader of the VHD footer --------------------------------
// Decodes the 512-byte footer straight from the bytes by Microsoft's "Virtual Hard
// Disk Image Format Specification" (Hard Disk Footer Format), without
// controller/image/vhd_footer: the product's footer must not be judged by the
// product's own reader. qemu-img cannot do it either: it probes a VHD by the cookie
// at offset 0, which only dynamic VHDs have, so `qemu-img info` without `-f vpc`
// calls a fixed VHD "raw".

uint64_t BigEndian(const std::string& b, size_t offset, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b[offset + i]);
  return v;
}

// Cylinders, heads and sectors per track by the specification's CHS algorithm.
std::tuple<uint64_t, uint64_t, uint64_t> SpecGeometry(int64_t size) {
  uint64_t total = static_cast<uint64_t>(size) / 512;
  total = std::min<uint64_t>(total, 65535ull * 16 * 255);
  uint64_t spt, heads, cylinder_times_heads;
  if (total >= 65535ull * 16 * 63) {
    spt = 255;
    heads = 16;
    cylinder_times_heads = total / spt;
  } else {
    spt = 17;
    cylinder_times_heads = total / spt;
    heads = std::max<uint64_t>((cylinder_times_heads + 1023) / 1024, 4);
    if (cylinder_times_heads >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cylinder_times_heads = total / spt;
    }
    if (cylinder_times_heads >= heads * 1024) {
      spt = 63;
      heads = 16;
      cylinder_times_heads = total / spt;
    }
  }
  return {cylinder_times_heads / heads, heads, spt};
}

// Checks `footer` (the last 512 bytes of a blob) is a fixed-disk footer for
// `virtual_size` bytes, stamped between `earliest` and `latest`.
void ExpectSpecFixedVhdFooter(const std::string& footer, int64_t virtual_size,
                              std::chrono::system_clock::time_point earliest,
                              std::chrono::system_clock::time_point latest) {
  ASSERT_EQ(footer.size(), 512u);
  EXPECT_EQ(footer.substr(0, 8), "conectix") << "cookie";
  EXPECT_EQ(BigEndian(footer, 8, 4), 0x00000002u) << "features: only the reserved bit";
  EXPECT_EQ(BigEndian(footer, 12, 4), 0x00010000u) << "file format version";
  EXPECT_EQ(BigEndian(footer, 16, 8), 0xFFFFFFFFFFFFFFFFull) << "data offset of a fixed disk";
  // Seconds since 2000-01-01T00:00:00Z (946684800 in Unix time).
  const auto stamped = std::chrono::system_clock::from_time_t(946684800) +
                       std::chrono::seconds(BigEndian(footer, 24, 4));
  EXPECT_GE(stamped, earliest - std::chrono::seconds(2)) << "time stamp";
  EXPECT_LE(stamped, latest + std::chrono::seconds(2)) << "time stamp";
  const std::string host_os = footer.substr(36, 4);
  EXPECT_TRUE(host_os == "Wi2k" || host_os == "Mac ") << "creator host OS " << host_os;
  EXPECT_EQ(BigEndian(footer, 40, 8), static_cast<uint64_t>(virtual_size)) << "original size";
  EXPECT_EQ(BigEndian(footer, 48, 8), static_cast<uint64_t>(virtual_size)) << "current size";
  const auto [cylinders, heads, spt] = SpecGeometry(virtual_size);
  EXPECT_EQ(BigEndian(footer, 56, 2), cylinders) << "geometry: cylinders";
  EXPECT_EQ(BigEndian(footer, 58, 1), heads) << "geometry: heads";
  EXPECT_EQ(BigEndian(footer, 59, 1), spt) << "geometry: sectors per track";
  EXPECT_EQ(BigEndian(footer, 60, 4), 2u) << "disk type: fixed";
  uint32_t sum = 0;
  for (size_t i = 0; i < footer.size(); ++i) {
    if (i < 64 || i >= 68) sum += static_cast<uint8_t>(footer[i]);
  }
  EXPECT_EQ(BigEndian(footer, 64, 4), static_cast<uint32_t>(~sum)) << "checksum";
  EXPECT_NE(footer.substr(68, 16), std::string(16, '\0')) << "unique id";
  EXPECT_EQ(footer[84], '\0') << "saved state";
  EXPECT_EQ(footer.substr(85), std::string(427, '\0')) << "reserved bytes";
}

class BlobAzuriteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto a = Azurite::Start();
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    azurite_ = a->release();
  }
  static void TearDownTestSuite() {
    delete azurite_;
    azurite_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(azurite_, nullptr);
    log::SetCaptureForTesting(
        [this](const std::string& line) {
          std::lock_guard g(log_mu_);
          log_lines_.push_back(line);
        },
        getenv("BLOB_TEST_LOG_STDERR") != nullptr);
    auto signer = azure::SharedKeySigner::Create(kAzuriteAccount, kAzuriteKey);
    ASSERT_TRUE(signer.ok());
    auto c = BlobClient::Create({.account_url = azurite_->account_url()},
                                azure::SharedKeyAuth(std::move(*signer)));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    container_ = "t" + RandomHex(12);
    ASSERT_TRUE(client_->CreateContainer(container_).ok());
    ASSERT_TRUE(client_->CreateContainer(container_).ok()) << "create container is idempotent";
  }

  void TearDown() override {
    log::SetCaptureForTesting(nullptr);
    std::lock_guard g(log_mu_);
    EXPECT_FALSE(log_lines_.empty())
        << "no log line captured: the secret check below proves nothing";
    for (const std::string& line : log_lines_) {
      EXPECT_EQ(line.find(kAzuriteKey), std::string::npos) << "account key leaked into a log line";
      EXPECT_EQ(line.find("SharedKey " + std::string(kAzuriteAccount) + ":"), std::string::npos)
          << "request signature leaked";
      for (const std::string& s : secrets_) {
        EXPECT_EQ(line.find(s), std::string::npos) << "a SAS signature leaked into a log line";
      }
    }
  }

  // Remembers the signature of a SAS URL so TearDown can look for it.
  void NoteSas(const std::string& url) {
    const auto q = http::ParseQuery(url.substr(url.find('?') + 1));
    ASSERT_TRUE(q.count("sig"));
    secrets_.push_back(q.at("sig"));
    secrets_.push_back(http::PercentEncode(q.at("sig"), true));
  }

  BlobRef Ref(const std::string& name) const { return {container_, name}; }

  static Azurite* azurite_;
  std::unique_ptr<BlobClient> client_;
  std::string container_;
  std::mutex log_mu_;
  std::vector<std::string> log_lines_;
  std::vector<std::string> secrets_;
};

Azurite* BlobAzuriteTest::azurite_ = nullptr;

// A sparse raw disk: ftruncate to `size`, then random data written at `at`.
struct SparseDisk {
  std::string path;
  std::vector<std::pair<int64_t, std::string>> data;
};

SparseDisk MakeSparseDisk(const std::string& path, int64_t size,
                          const std::vector<std::pair<int64_t, int64_t>>& at) {
  SparseDisk d{path, {}};
  const int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(ftruncate(fd, size), 0);
  for (const auto& [offset, length] : at) {
    std::string bytes = RandomBytes(static_cast<size_t>(length));
    bytes[0] = '\x5a';  // never all zero
    EXPECT_EQ(pwrite(fd, bytes.data(), bytes.size(), offset), static_cast<ssize_t>(bytes.size()));
    d.data.emplace_back(offset, std::move(bytes));
  }
  close(fd);
  return d;
}

// Downloads `ref` in 32 MiB ranges (four at a time), checks every byte against
// `expected(offset, n)` and writes it to `out_path` as a sparse file (zero ranges become holes).
void DownloadAndCompare(azure::BlobStore& store, const BlobRef& ref, int64_t size,
                        const std::function<std::string(int64_t, int64_t)>& expected,
                        const std::string& out_path) {
  constexpr int64_t kChunk = 32 * kMiB;
  const int fd = open(out_path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, size), 0);
  std::atomic<int64_t> next{0};
  std::mutex mu;
  std::vector<std::string> failures;
  auto work = [&] {
    for (int64_t off; (off = next.fetch_add(kChunk)) < size;) {
      const int64_t n = std::min(kChunk, size - off);
      auto chunk = store.GetBlob(ref, azure::ByteRange{off, n});
      std::string problem;
      if (!chunk.ok()) {
        problem = chunk.status().ToString();
      } else if (static_cast<int64_t>(chunk->size()) != n || *chunk != expected(off, n)) {
        problem = "blob differs from raw+padding+footer in the range at " + std::to_string(off);
      } else if (!image::IsAllZero(chunk->data(), chunk->size()) &&
                 pwrite(fd, chunk->data(), chunk->size(), off) != n) {
        problem = "writing the download failed";
      }
      if (!problem.empty()) {
        std::lock_guard g(mu);
        failures.push_back(problem);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  close(fd);
  EXPECT_TRUE(failures.empty()) << (failures.empty() ? "" : failures.front());
}

TEST_F(BlobAzuriteTest, SparseGiBRawDiskBecomesAFixedVhdPageBlob) {
  const auto started = std::chrono::system_clock::now();
  testing::TempDir dir;
  // A few scattered MiB, some not aligned to the 4 MiB upload ranges, one at the very end.
  const SparseDisk disk = MakeSparseDisk(
      dir.Join("disk.raw"), kGiB,
      {{0, 3 * kMiB}, {300 * kMiB + 123, kMiB}, {700 * kMiB, 2 * kMiB}, {kGiB - 4096, 4096}});
  const BlobRef ref = Ref("sql/1.0.0.vhd");
  std::vector<image::UploadProgress> progress;
  auto up = image::UploadVhd(
      *client_, ref, disk.path,
      {.parallelism = 4,
       .metadata = {{"image", "sql"}},
       .tags = {{"image", "sql"}, {"version", "1.0.0"}},
       .progress = [&](const image::UploadProgress& p) { progress.push_back(p); }});
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->blob_size, kGiB + 512);
  EXPECT_EQ(up->virtual_size, kGiB);
  EXPECT_EQ(up->source_format, image::SourceFormat::kRaw);
  // Only the 4 MiB ranges that hold data were sent: [0,4), [300,304), [700,704), [1020,1024) MiB.
  EXPECT_EQ(up->bytes_uploaded, 16 * kMiB);
  EXPECT_EQ(up->bytes_skipped, kGiB - 16 * kMiB);
  EXPECT_EQ(up->put_page_calls, 5);  // four data ranges and the footer
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().bytes_read, kGiB);
  EXPECT_EQ(progress.back().bytes_uploaded, 16 * kMiB);

  // Downloaded back: byte-identical to raw + footer.
  const int raw_fd = open(disk.path.c_str(), O_RDONLY);
  ASSERT_GE(raw_fd, 0);
  const std::array<uint8_t, 512> footer = image::EncodeFooter(up->footer);
  auto expected = [&](int64_t off, int64_t n) {
    std::string want(static_cast<size_t>(n), '\0');
    const int64_t data_n = std::max<int64_t>(0, std::min(n, kGiB - off));
    if (data_n > 0) {
      EXPECT_EQ(pread(raw_fd, want.data(), data_n, off), data_n);
    }
    for (int64_t i = std::max(off, kGiB); i < off + n; ++i) {
      want[static_cast<size_t>(i - off)] = static_cast<char>(footer[static_cast<size_t>(i - kGiB)]);
    }
    return want;
  };
  const std::string download = dir.Join("download.vhd");
  DownloadAndCompare(*client_, ref, kGiB + 512, expected, download);
  close(raw_fd);

  // The footer as stored, read by the specification rather than by vhd_footer.
  {
    const int fd = open(download.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    std::string stored(512, '\0');
    EXPECT_EQ(pread(fd, stored.data(), stored.size(), kGiB), 512);
    close(fd);
    ExpectSpecFixedVhdFooter(stored, kGiB, started, std::chrono::system_clock::now());
  }
  // And qemu's vpc driver (told the format: it cannot probe a fixed VHD) accepts it
  // (it checks cookie and checksum) with the exact virtual size.
  auto info = testing::RunCommand({"qemu-img", "info", "-f", "vpc", "--output=json", download});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j.at("virtual-size").get<int64_t>(), kGiB);

  // The recorded SHA-256 is what sha256sum says about the download.
  auto sum = testing::RunCommand({"sha256sum", download});
  ASSERT_EQ(sum.exit_code, 0) << sum.err;
  EXPECT_EQ(sum.out.substr(0, 64), up->sha256);
  auto props = client_->GetProperties(ref);
  ASSERT_TRUE(props.ok()) << props.status().ToString();
  EXPECT_EQ(props->metadata.at("sha256"), up->sha256);
  EXPECT_EQ(props->metadata.at("image"), "sql");
  EXPECT_EQ(props->metadata.at(image::kMetaUploadState), "complete");
  EXPECT_EQ(props->content_length, kGiB + 512);
  EXPECT_EQ(props->blob_type, "PageBlob");
  EXPECT_EQ(props->etag, up->etag);
  auto tags = client_->GetTags(ref);
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  EXPECT_EQ(*tags, (azure::BlobTags{{"image", "sql"}, {"version", "1.0.0"}}));
  auto verified = image::VerifyVhdBlob(
      *client_, ref, {.expected_virtual_size = kGiB, .expected_sha256 = up->sha256});
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->footer.current_size, static_cast<uint64_t>(kGiB));

  // A second upload to the same name is refused, and the first blob is untouched.
  const SparseDisk other = MakeSparseDisk(dir.Join("other.raw"), kGiB, {{0, kMiB}});
  auto again = image::UploadVhd(*client_, ref, other.path, {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();
  EXPECT_NE(again.status().message().find("refusing to overwrite"), std::string::npos);
  auto after = client_->GetProperties(ref);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->etag, props->etag);
  EXPECT_EQ(after->metadata.at("sha256"), up->sha256);
  auto first_mib = client_->GetBlob(ref, azure::ByteRange{0, kMiB});
  ASSERT_TRUE(first_mib.ok());
  EXPECT_TRUE(*first_mib == disk.data[0].second.substr(0, kMiB));
  unlink(download.c_str());
}

TEST_F(BlobAzuriteTest, OddSizedRawGetsZeroPaddingThenFooter) {
  testing::TempDir dir;
  const int64_t raw_size = 5 * kMiB + 1000;  // not even a whole sector
  const SparseDisk disk = MakeSparseDisk(dir.Join("odd.raw"), raw_size, {{raw_size - 3000, 3000}});
  const BlobRef ref = Ref("odd.vhd");
  auto up = image::UploadVhd(*client_, ref, disk.path, {.parallelism = 2, .range_size = kMiB});
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->blob_size, 6 * kMiB + 512);
  auto blob = client_->GetBlob(ref);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  std::string want = testing::ReadFile(disk.path);
  want.resize(6 * kMiB, '\0');
  const auto footer = image::EncodeFooter(up->footer);
  want.append(reinterpret_cast<const char*>(footer.data()), footer.size());
  EXPECT_TRUE(*blob == want);
  EXPECT_EQ(Sha256Hex(*blob), up->sha256);
  auto verified = image::VerifyVhdBlob(*client_, ref, {.hash_content = true});
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->content_sha256, up->sha256);
}

TEST_F(BlobAzuriteTest, FixedVhdInputIsUploadedAsIsWithItsFooter) {
  testing::TempDir dir;
  const std::string vhd = dir.Join("fixed.vhd");
  auto made = testing::RunCommand(
      {"qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", vhd, "8M"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string before = testing::ReadFile(vhd);
  const BlobRef ref = Ref("from-qemu.vhd");
  auto up = image::UploadVhd(*client_, ref, vhd, {});
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_TRUE(up->footer_reused);
  EXPECT_EQ(up->source_format, image::SourceFormat::kFixedVhd);
  auto blob = client_->GetBlob(ref);
  ASSERT_TRUE(blob.ok());
  EXPECT_TRUE(*blob == before) << "a valid fixed VHD must be uploaded byte for byte";
  EXPECT_EQ(up->sha256, Sha256Hex(before));
}

TEST_F(BlobAzuriteTest, IfMatchFailsOnStaleEtag) {
  const BlobRef ref = Ref("cond.vhd");
  auto created = client_->CreatePageBlob(ref, 4096, {});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto updated = client_->SetMetadata(ref, {{"step", "1"}}, {.if_match = created->etag});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_NE(updated->etag, created->etag);
  Status stale = client_->SetMetadata(ref, {{"step", "2"}}, {.if_match = created->etag}).status();
  EXPECT_EQ(azure::ClassifyBlobError(stale), azure::BlobErrorKind::kConditionFailed)
      << stale.ToString();
  EXPECT_EQ(stale.detail().http_status, 412);
  EXPECT_EQ(stale.detail().reason, "ConditionNotMet");
  Status stale_page =
      client_->PutPages(ref, 0, std::string(512, 'x'), {.if_match = created->etag}).status();
  EXPECT_EQ(stale_page.code(), StatusCode::kFailedPrecondition) << stale_page.ToString();
  auto props = client_->GetProperties(ref);
  ASSERT_TRUE(props.ok());
  EXPECT_EQ(props->metadata.at("step"), "1");
  // Replacing the exact version we saw works; create-only does not.
  EXPECT_TRUE(client_->CreatePageBlob(ref, 512, {.if_match = props->etag}).ok());
  EXPECT_EQ(client_->CreatePageBlob(ref, 512, {}).status().code(), StatusCode::kAlreadyExists);
}

TEST_F(BlobAzuriteTest, PagesBlocksRangesAndDelete) {
  const BlobRef page = Ref("pages.bin");
  ASSERT_TRUE(client_->CreatePageBlob(page, 8192, {}).ok());
  ASSERT_TRUE(client_->PutPages(page, 1024, std::string(2048, 'p')).ok());
  ASSERT_TRUE(client_->ClearPages(page, {1536, 512}).ok());
  auto got = client_->GetBlob(page, azure::ByteRange{1024, 2048});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, std::string(512, 'p') + std::string(512, '\0') + std::string(1024, 'p'));

  const BlobRef block = Ref("dir/blocks.txt");
  ASSERT_TRUE(client_->PutBlock(block, "block-000001", "hello ").ok());
  ASSERT_TRUE(client_->PutBlock(block, "block-000002", "world").ok());
  auto committed = client_->PutBlockList(block, {"block-000001", "block-000002"},
                                         {.content_type = "text/plain", .metadata = {{"k", "v"}}});
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  auto whole = client_->GetBlob(block);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole, "hello world");
  auto range = client_->GetBlob(block, azure::ByteRange{6, 5});
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(*range, "world");
  auto props = client_->GetProperties(block);
  ASSERT_TRUE(props.ok());
  EXPECT_EQ(props->blob_type, "BlockBlob");
  EXPECT_EQ(props->content_type, "text/plain");
  EXPECT_EQ(props->content_length, 11);
  // Create-only applies to block blobs and block lists too.
  EXPECT_EQ(client_->PutBlockBlob(block, "other", {}).status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(client_->PutBlockBlob(block, "other", {.overwrite = true}).ok());

  ASSERT_TRUE(client_->Delete(block).ok());
  EXPECT_EQ(client_->GetProperties(block).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->GetProperties(block).status().detail().reason, "BlobNotFound");
  EXPECT_EQ(client_->Delete(block).code(), StatusCode::kNotFound);
}

TEST_F(BlobAzuriteTest, CopyFromUrlWithSas) {
  const BlobRef src = Ref("staging/build-42.vhd");
  const std::string payload = RandomBytes(3 * 512);
  ASSERT_TRUE(client_->CreatePageBlob(src, 3 * 512, {}).ok());
  ASSERT_TRUE(client_->PutPages(src, 0, payload).ok());
  // Azurite serves http, so the SAS must allow it.
  auto sas = client_->GenerateSasUrl(
      src, {.permissions = "r", .expiry = std::chrono::system_clock::now() + 1h, .protocol = ""});
  ASSERT_TRUE(sas.ok()) << sas.status().ToString();
  NoteSas(*sas);

  // The SAS really authorises the (private) source: with it an anonymous read works, without it
  // not.
  http::Client anon;
  auto with = anon.Send({.url = *sas});
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(with->status, 200);
  EXPECT_TRUE(with->body == payload);
  auto without = anon.Send({.url = azure::StripQuery(*sas)});
  ASSERT_TRUE(without.ok());
  EXPECT_NE(without->status, 200);
  std::string tampered = *sas;
  tampered.replace(tampered.find("sig=") + 4, 4, "AAAA");
  auto bad = anon.Send({.url = tampered});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 403);

  const BlobRef dest = Ref("images/app/1.0.0.vhd");
  auto started = client_->StartCopyFromUrl(dest, *sas, {.metadata = {{"image", "app"}}});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_FALSE(started->copy_id.empty());
  auto done = azure::WaitForCopy(*client_, dest, RealClock::Get(), 100ms, 30s);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->state, azure::CopyState::kSuccess);
  auto copied = client_->GetBlob(dest);
  ASSERT_TRUE(copied.ok());
  EXPECT_TRUE(*copied == payload);
  // Publishing twice to the same name is refused.
  auto twice = client_->StartCopyFromUrl(dest, *sas, {});
  EXPECT_EQ(twice.status().code(), StatusCode::kAlreadyExists) << twice.status().ToString();
  // A failing copy names the source without its SAS.
  auto missing_sas = client_->GenerateSasUrl(
      Ref("staging/missing.vhd"),
      {.permissions = "r", .expiry = std::chrono::system_clock::now() + 1h, .protocol = ""});
  ASSERT_TRUE(missing_sas.ok());
  NoteSas(*missing_sas);
  auto failed = client_->StartCopyFromUrl(Ref("images/other.vhd"), *missing_sas, {});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("staging/missing.vhd"), std::string::npos);
  EXPECT_EQ(failed.status().message().find("sig="), std::string::npos);
  for (const std::string& s : secrets_)
    EXPECT_EQ(failed.status().message().find(s), std::string::npos);
}

TEST_F(BlobAzuriteTest, ImmutabilityPolicyReturnsCapabilityError) {
  const BlobRef ref = Ref("locked.vhd");
  ASSERT_TRUE(client_->CreatePageBlob(ref, 512, {}).ok());
  Status st = client_->SetImmutabilityPolicy(
      ref, {.until = std::chrono::system_clock::now() + std::chrono::hours(24 * 90)});
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented) << st.ToString();
  EXPECT_EQ(azure::ClassifyBlobError(st), azure::BlobErrorKind::kUnsupported);
  EXPECT_EQ(st.detail().http_status, 501);
  EXPECT_NE(st.message().find("immutability policies are not supported"), std::string::npos);
  bool logged = false;
  {
    std::lock_guard g(log_mu_);
    for (const auto& l : log_lines_)
      logged |= l.find("immutability policy not supported") != std::string::npos;
  }
  EXPECT_TRUE(logged);
}

// The fixture's Restart() (used by the pipeline fault test to take Azurite away
// during an upload): the same port and account URL, the blobs still there, and
// requests in between fail as a restart would make them fail.
TEST(AzuriteFixtureTest, RestartKeepsPortUrlAndBlobs) {
  auto a = Azurite::Start();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Azurite& azurite = **a;
  auto signer = azure::SharedKeySigner::Create(kAzuriteAccount, kAzuriteKey);
  ASSERT_TRUE(signer.ok());
  auto c = BlobClient::Create({.account_url = azurite.account_url()},
                              azure::SharedKeyAuth(std::move(*signer)));
  ASSERT_TRUE(c.ok());
  BlobClient& client = **c;
  ASSERT_TRUE(client.CreateContainer("keep").ok());
  ASSERT_TRUE(client.PutBlockBlob({"keep", "a.txt"}, "survives", {}).ok());
  const int port = azurite.port();
  const std::string url = azurite.account_url();

  azurite.Stop();
  http::Client probe;
  EXPECT_FALSE(probe.Send({.method = "GET", .url = url + "?comp=list", .timeout = 2s}).ok())
      << "Azurite still answers after Stop()";
  ASSERT_TRUE(azurite.Restart().ok());
  EXPECT_EQ(azurite.port(), port);
  EXPECT_EQ(azurite.account_url(), url);
  auto back = client.GetBlob({"keep", "a.txt"});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, "survives");
}

}  // namespace
}  // namespace vmrelease
