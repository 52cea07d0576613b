// Shared Key string-to-sign and signatures against independent references:
// the worked example of Microsoft's "storage-rest-api-auth" article, and
// vectors produced by the Azure SDK for Python (azure-storage-blob 2021-08-06
// as shipped with Debian's azure-cli, SharedKeyCredentialPolicy) for the same
// requests. Regenerate with /usr/bin/python3 and that policy if a vector changes.
#include "controller/azure/shared_key.h"

#include <gtest/gtest.h>

#include "controller/azure/storage_account.h"
#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

constexpr const char* kKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr const char* kDate = "Tue, 01 Jul 2025 10:00:00 GMT";

SharedKeySigner Signer(const std::string& account = "devstoreaccount1") {
  auto s = SharedKeySigner::Create(account, kKey);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return *s;
}

TEST(SharedKeyTest, DocumentedListBlobsExample) {
  // storage-rest-api-auth: GET container-1?restype=container&comp=list
  http::Request req{
      .method = "GET",
      .url = "https://contosorest.blob.core.windows.net/container-1?restype=container&comp=list"};
  req.headers.Set("x-ms-date", "Fri, 17 Nov 2017 05:16:48 GMT");
  req.headers.Set("x-ms-version", "2017-07-29");
  EXPECT_EQ(Signer("contosorest").StringToSign(req),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 17 Nov 2017 05:16:48 GMT\n"
            "x-ms-version:2017-07-29\n/contosorest/container-1\ncomp:list\nrestype:container");
}

TEST(SharedKeyTest, DocumentedCanonicalizedResources) {
  EXPECT_EQ(CanonicalizedResource("contosorest", "/", "comp=list"), "/contosorest/\ncomp:list");
  EXPECT_EQ(CanonicalizedResource("contosorest", "/container-1", "restype=container&comp=list"),
            "/contosorest/container-1\ncomp:list\nrestype:container");
}

TEST(SharedKeyTest, PathStylePutPageMatchesAzureSdk) {
  // Azurite's path-style URL: the account appears in the path AND as the prefix.
  http::Request req{.method = "PUT",
                    .url = "http://127.0.0.1:10000/devstoreaccount1/vhds/disk.vhd?comp=page"};
  req.headers.Set("x-ms-date", kDate);
  req.headers.Set("x-ms-version", "2021-12-02");
  req.headers.Set("x-ms-page-write", "update");
  req.headers.Set("x-ms-range", "bytes=0-4194303");
  req.body.assign(4194304, '\x01');
  const SharedKeySigner signer = Signer();
  EXPECT_EQ(signer.StringToSign(req),
            "PUT\n\n\n4194304\n\n\n\n\n\n\n\n\nx-ms-date:Tue, 01 Jul 2025 10:00:00 GMT\n"
            "x-ms-page-write:update\nx-ms-range:bytes=0-4194303\nx-ms-version:2021-12-02\n"
            "/devstoreaccount1/devstoreaccount1/vhds/disk.vhd\ncomp:page");
  ASSERT_TRUE(signer.Sign(req).ok());
  EXPECT_EQ(req.headers.Get("Authorization"),
            "SharedKey devstoreaccount1:wXjm+/dgqZkKvBH/ASHpFPUlArKWtFNcWmcM5hVhiCw=");
}

TEST(SharedKeyTest, CreateOnlyPageBlobMatchesAzureSdk) {
  // Put Blob with If-None-Match: * and an empty body: Content-Length is signed as "".
  http::Request req{.method = "PUT",
                    .url = "https://devstoreaccount1.blob.core.windows.net/images/app/1.0.vhd"};
  req.headers.Set("x-ms-date", kDate);
  req.headers.Set("x-ms-version", "2021-12-02");
  req.headers.Set("x-ms-blob-type", "PageBlob");
  req.headers.Set("x-ms-blob-content-length", "32212255232");
  req.headers.Set("x-ms-blob-content-type", "application/octet-stream");
  req.headers.Set("If-None-Match", "*");
  req.headers.Set("X-MS-Meta-image", "sql");  // names are lower-cased for signing
  const SharedKeySigner signer = Signer();
  EXPECT_EQ(
      signer.StringToSign(req),
      "PUT\n\n\n\n\n\n\n\n\n*\n\n\nx-ms-blob-content-length:32212255232\n"
      "x-ms-blob-content-type:application/octet-stream\nx-ms-blob-type:PageBlob\n"
      "x-ms-date:Tue, 01 Jul 2025 10:00:00 GMT\nx-ms-meta-image:sql\nx-ms-version:2021-12-02\n"
      "/devstoreaccount1/images/app/1.0.vhd");
  ASSERT_TRUE(signer.Sign(req).ok());
  EXPECT_EQ(req.headers.Get("Authorization"),
            "SharedKey devstoreaccount1:IeU8ZRArMHboDF4PDLZmyftLmL2pxZ62i1VaeatS7rI=");
}

TEST(SharedKeyTest, EncodedPathAndDecodedQueryMatchAzureSdk) {
  http::Request req{.method = "GET",
                    .url =
                        "https://devstoreaccount1.blob.core.windows.net/images/a%20b.vhd"
                        "?comp=tags&versionid=2025-07-01T10%3A00%3A00.0000000Z"};
  req.headers.Set("x-ms-date", kDate);
  req.headers.Set("x-ms-version", "2021-12-02");
  req.headers.Set("x-ms-range", "bytes=0-511");
  const SharedKeySigner signer = Signer();
  EXPECT_EQ(signer.StringToSign(req),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Tue, 01 Jul 2025 10:00:00 GMT\n"
            "x-ms-range:bytes=0-511\nx-ms-version:2021-12-02\n/devstoreaccount1/images/a%20b.vhd\n"
            "comp:tags\nversionid:2025-07-01T10:00:00.0000000Z");
  ASSERT_TRUE(signer.Sign(req).ok());
  EXPECT_EQ(req.headers.Get("Authorization"),
            "SharedKey devstoreaccount1:rqqjrMW+b7P+EUSEqBGsEBqXpjYRI1gJA7nXKKfrU0E=");
}

TEST(SharedKeyTest, StandardHeadersAndDateRules) {
  http::Request req{.method = "PUT", .url = "https://acct.blob.core.windows.net/c/b?comp=tags"};
  req.headers.Set("Content-Type", "application/xml");
  req.headers.Set("If-Match", "\"0x8D\"");
  req.headers.Set("Date", "Mon, 30 Jun 2025 10:00:00 GMT");
  req.body = "<Tags/>";
  const SharedKeySigner signer = Signer("acct");
  // Without x-ms-date the Date header is signed...
  EXPECT_EQ(signer.StringToSign(req),
            "PUT\n\n\n7\n\napplication/xml\nMon, 30 Jun 2025 10:00:00 GMT\n\n\"0x8D\"\n\n\n\n"
            "/acct/c/b\ncomp:tags");
  // ...with it, the Date line is empty and x-ms-date is a canonical header.
  req.headers.Set("x-ms-date", kDate);
  EXPECT_EQ(signer.StringToSign(req),
            "PUT\n\n\n7\n\napplication/xml\n\n\n\"0x8D\"\n\n\n\nx-ms-date:" + std::string(kDate) +
                "\n/acct/c/b\ncomp:tags");
}

TEST(SharedKeyTest, CanonicalHeadersCollapseWhitespaceOutsideQuotes) {
  http::Headers h;
  h.Set("x-ms-meta-b", "  two   words ");
  h.Set("X-Ms-Meta-A", "\"keep   inside\"  x");
  h.Set("Content-Type", "ignored");
  EXPECT_EQ(CanonicalizedHeaders(h), "x-ms-meta-a:\"keep   inside\" x\nx-ms-meta-b:two words\n");
}

TEST(SharedKeyTest, RepeatedQueryParametersAreSortedAndJoined) {
  EXPECT_EQ(CanonicalizedResource("a", "/c", "Z=2&z=1&b=%2Fx&flag"), "/a/c\nb:/x\nflag:\nz:1,2");
}

TEST(SharedKeyTest, RejectsBadKeysAndNeverLogsTheKey) {
  EXPECT_EQ(SharedKeySigner::Create("acct", "not base64!!").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SharedKeySigner::Create("", kKey).status().code(), StatusCode::kInvalidArgument);
  Signer();
  EXPECT_EQ(log::Redact(std::string("key=") + kKey), "key=REDACTED");
}

TEST(StorageAccountTest, ParsesVirtualHostAndPathStyle) {
  auto vh = StorageAccountUrl::Parse("https://acct.blob.core.windows.net/");
  ASSERT_TRUE(vh.ok()) << vh.status().ToString();
  EXPECT_EQ(vh->account(), "acct");
  EXPECT_FALSE(vh->path_style());
  EXPECT_EQ(vh->BlobUrl("images", "sql/1.0 final.vhd"),
            "https://acct.blob.core.windows.net/images/sql/1.0%20final.vhd");
  EXPECT_EQ(vh->ServiceUrl(), "https://acct.blob.core.windows.net/");

  auto ps = StorageAccountUrl::Parse("http://127.0.0.1:10000/devstoreaccount1");
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->account(), "devstoreaccount1");
  EXPECT_TRUE(ps->path_style());
  EXPECT_EQ(ps->ContainerUrl("c1"), "http://127.0.0.1:10000/devstoreaccount1/c1");
  EXPECT_EQ(ps->ServiceUrl(), "http://127.0.0.1:10000/devstoreaccount1/");

  auto sovereign = StorageAccountUrl::Parse("https://acct.blob.core.chinacloudapi.cn");
  ASSERT_TRUE(sovereign.ok());
  EXPECT_EQ(sovereign->account(), "acct");
  auto custom = StorageAccountUrl::Parse("https://images.example.com", "realacct");
  ASSERT_TRUE(custom.ok());
  EXPECT_EQ(custom->account(), "realacct");
}

TEST(StorageAccountTest, RejectsBadUrls) {
  EXPECT_FALSE(StorageAccountUrl::Parse("acct.blob.core.windows.net").ok());
  EXPECT_FALSE(StorageAccountUrl::Parse("https://acct.blob.core.windows.net/?sv=1&sig=x").ok());
  EXPECT_FALSE(StorageAccountUrl::Parse("http://127.0.0.1:10000/a/b").ok());
  // "my-images" is not a valid account name: the caller must name the account.
  EXPECT_FALSE(StorageAccountUrl::Parse("https://my-images.example.com").ok());
}

TEST(StorageAccountTest, NameValidation) {
  EXPECT_TRUE(ValidateContainerName("images-2").ok());
  EXPECT_FALSE(ValidateContainerName("Images").ok());
  EXPECT_FALSE(ValidateContainerName("a--b").ok());
  EXPECT_FALSE(ValidateContainerName("-ab").ok());
  EXPECT_FALSE(ValidateContainerName("ab").ok());
  EXPECT_TRUE(ValidateBlobName("sql/1.3.0.vhd").ok());
  EXPECT_FALSE(ValidateBlobName("trailing/").ok());
  EXPECT_FALSE(ValidateBlobName("").ok());
}

TEST(StorageAccountTest, HttpDatesAreLocaleFreeRfc1123) {
  const WallTime t = WallTime(std::chrono::seconds(1751364000));  // 2025-07-01T10:00:00Z
  EXPECT_EQ(FormatHttpDate(t), "Tue, 01 Jul 2025 10:00:00 GMT");
  WallTime back;
  ASSERT_TRUE(ParseHttpDate("Tue, 01 Jul 2025 10:00:00 GMT", &back));
  EXPECT_EQ(back, t);
  EXPECT_FALSE(ParseHttpDate("2025-07-01T10:00:00Z", &back));
  EXPECT_FALSE(ParseHttpDate("Tue, 01 Jul 2025 10:00:00 PST", &back));
}

}  // namespace
}  // namespace vmrelease::azure
