// SAS tokens compared with tokens produced independently, offline:
// - service SAS: `az storage blob generate-sas` (azure-cli 2.45, Debian) for a fixed key and times;
// - user delegation SAS: generate_blob_sas of the Azure SDK for Python
//   (azure.multiapi.storagev2.blob.v2021_08_06) with a fixed UserDelegationKey.
// The exact query strings are compared, so field order, escaping and signature all match.
#include "controller/azure/sas.h"

#include <gtest/gtest.h>

#include "controller/common/log.h"
#include "controller/http/types.h"

namespace vmrelease::azure {
namespace {

constexpr const char* kKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

WallTime At(const std::string& rfc3339) {
  WallTime t;
  EXPECT_TRUE(ParseRfc3339(rfc3339, &t)) << rfc3339;
  return t;
}

SharedKeySigner Signer() { return *SharedKeySigner::Create("devstoreaccount1", kKey); }

TEST(SasTest, ServiceSasMatchesAzCliWithAllOptionalFields) {
  // az storage blob generate-sas --account-name devstoreaccount1 --account-key <kKey>
  //   -c images -n app/1.0.vhd --permissions wr --start 2025-07-01T10:00:00Z
  //   --expiry 2025-07-02T10:00:00Z --https-only --ip 10.0.0.1-10.0.0.255
  BlobSasOptions o{.container = "images",
                   .blob = "app/1.0.vhd",
                   .permissions = "wr",
                   .start = At("2025-07-01T10:00:00Z"),
                   .expiry = At("2025-07-02T10:00:00Z"),
                   .ip = "10.0.0.1-10.0.0.255",
                   .protocol = "https",
                   .version = "2021-06-08"};
  auto t = GenerateServiceSas(Signer(), o);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->query,
            "st=2025-07-01T10%3A00%3A00Z&se=2025-07-02T10%3A00%3A00Z&sp=rw&sip=10.0.0.1-10.0.0.255"
            "&spr=https&sv=2021-06-08&sr=b&sig=zZ3%2B4r3N6bpcsMg7y5CQckBcG%2BcLEpBECqzpES5bVxE%3D");
  EXPECT_EQ(
      t->string_to_sign,
      "rw\n2025-07-01T10:00:00Z\n2025-07-02T10:00:00Z\n/blob/devstoreaccount1/images/app/1.0.vhd"
      "\n\n10.0.0.1-10.0.0.255\nhttps\n2021-06-08\nb\n\n\n\n\n\n\n");
}

TEST(SasTest, ServiceSasMatchesAzCliMinimal) {
  // az storage blob generate-sas ... -c staging -n rel-1.vhd --permissions wc
  //   --expiry 2030-01-01T00:00:00Z
  BlobSasOptions o{.container = "staging",
                   .blob = "rel-1.vhd",
                   .permissions = "wc",
                   .expiry = At("2030-01-01T00:00:00Z"),
                   .version = "2021-06-08"};
  auto t = GenerateServiceSas(Signer(), o);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->query,
            "se=2030-01-01T00%3A00%3A00Z&sp=cw&sv=2021-06-08&sr=b"
            "&sig=5VlYveWDVUepwtaYrFH5MQV5BZqXLsysqFuAbPoGjlc%3D");
}

TEST(SasTest, UserDelegationSasMatchesAzureSdk) {
  UserDelegationKey k{.signed_oid = "11059fcc-5514-4800-b5f8-49808b9cfab6",
                      .signed_tid = "ab1f708d-50f6-404c-a006-d71b2ac7a606",
                      .signed_start = "2025-07-01T09:55:00Z",
                      .signed_expiry = "2025-07-08T09:55:00Z",
                      .signed_service = "b",
                      .signed_version = "2021-08-06",
                      .value = "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHRlc3Qga2V5IDMyYg=="};
  BlobSasOptions o{.container = "images",
                   .blob = "app/1.0.vhd",
                   .permissions = "r",
                   .start = At("2025-07-01T10:00:00Z"),
                   .expiry = At("2025-07-01T12:00:00Z"),
                   .protocol = "https",
                   .version = "2021-08-06"};
  auto t = GenerateUserDelegationSas("acct", k, o);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->query,
            "st=2025-07-01T10%3A00%3A00Z&se=2025-07-01T12%3A00%3A00Z&sp=r&spr=https&sv=2021-08-06"
            "&sr=b&skoid=11059fcc-5514-4800-b5f8-49808b9cfab6"
            "&sktid=ab1f708d-50f6-404c-a006-d71b2ac7a606&skt=2025-07-01T09%3A55%3A00Z"
            "&ske=2025-07-08T09%3A55%3A00Z&sks=b&skv=2021-08-06"
            "&sig=kFGqLq/haFeF0BpI05o1xTkVRzE%2BSmv%2BfjE4fAFoYnc%3D");
}

TEST(SasTest, ContainerSasAndResponseOverrides) {
  BlobSasOptions o{.container = "images",
                   .permissions = "rl",
                   .expiry = At("2030-01-01T00:00:00Z"),
                   .content_disposition = "attachment; filename=a.vhd"};
  auto t = GenerateServiceSas(Signer(), o);
  ASSERT_TRUE(t.ok());
  const auto q = http::ParseQuery(t->query);
  EXPECT_EQ(q.at("sr"), "c");
  EXPECT_EQ(q.at("sp"), "rl");
  EXPECT_EQ(q.at("sv"), kSasVersion);
  EXPECT_EQ(q.at("rscd"), "attachment; filename=a.vhd");
  EXPECT_NE(t->string_to_sign.find("/blob/devstoreaccount1/images\n"), std::string::npos);
}

TEST(SasTest, PermissionsAreCanonicalAndValidated) {
  EXPECT_EQ(*NormalizeSasPermissions("wcr"), "rcw");
  EXPECT_EQ(*NormalizeSasPermissions("itdr"), "rdti");
  EXPECT_EQ(NormalizeSasPermissions("rr").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalizeSasPermissions("rq").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalizeSasPermissions("").status().code(), StatusCode::kInvalidArgument);
}

TEST(SasTest, RejectsInvalidOptions) {
  const SharedKeySigner s = Signer();
  BlobSasOptions ok{
      .container = "c", .blob = "b", .permissions = "r", .expiry = At("2030-01-01T00:00:00Z")};
  EXPECT_TRUE(GenerateServiceSas(s, ok).ok());
  BlobSasOptions bad = ok;
  bad.container = "";
  EXPECT_EQ(GenerateServiceSas(s, bad).status().code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.start = At("2031-01-01T00:00:00Z");
  EXPECT_EQ(GenerateServiceSas(s, bad).status().code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.protocol = "http";
  EXPECT_EQ(GenerateServiceSas(s, bad).status().code(), StatusCode::kInvalidArgument);
  bad = ok;
  bad.version = "2025-07-05";  // a different string-to-sign layout: refuse, do not guess
  EXPECT_EQ(GenerateServiceSas(s, bad).status().code(), StatusCode::kInvalidArgument);
  UserDelegationKey k{.value = "not base64 !"};
  EXPECT_EQ(GenerateUserDelegationSas("acct", k, ok).status().code(), StatusCode::kInvalidArgument);
}

TEST(SasTest, SignaturesAreRedactedFromLogs) {
  BlobSasOptions o{
      .container = "c", .blob = "b", .permissions = "r", .expiry = At("2030-01-01T00:00:00Z")};
  auto t = GenerateServiceSas(Signer(), o);
  ASSERT_TRUE(t.ok());
  const std::string sig = http::ParseQuery(t->query).at("sig");
  const std::string line = log::Redact("copy from https://a/c/b?" + t->query + " and raw " + sig);
  EXPECT_EQ(line.find(sig), std::string::npos) << line;
  EXPECT_EQ(line.find(http::PercentEncode(sig, true)), std::string::npos) << line;
  EXPECT_EQ(StripQuery("https://a/c/b?" + t->query), "https://a/c/b");
}

}  // namespace
}  // namespace vmrelease::azure
