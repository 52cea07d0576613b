#include "controller/common/log.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

namespace vmrelease {
namespace {

TEST(LogTest, JsonLinesWithFieldsAndRedaction) {
  std::vector<std::string> lines;
  log::SetCaptureForTesting([&](const std::string& l) { lines.push_back(l); });
  log::Init(log::Format::kJson, log::Level::kInfo);
  log::RegisterSecret("s3cr3t-value-123");
  log::Info("test", "calling https://a.blob.core.windows.net/c/b?sv=2021&sig=abcDEF%2B123&se=x",
            {{"auth", "Bearer eyJhbGciOi.xyz.abc"}, {"n", 3}, {"inner", "pw=s3cr3t-value-123"}});
  log::Debug("test", "hidden");
  log::SetCaptureForTesting(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["logger"], "test");
  EXPECT_EQ(j["n"], 3);
  EXPECT_EQ(lines[0].find("abcDEF"), std::string::npos);
  EXPECT_EQ(lines[0].find("eyJhbGciOi"), std::string::npos);
  EXPECT_EQ(lines[0].find("s3cr3t-value-123"), std::string::npos);
  EXPECT_NE(lines[0].find("sig=REDACTED"), std::string::npos);
  EXPECT_EQ(log::Redact("AccountKey=Eby8vdM02x==;EndpointSuffix"),
            "AccountKey=REDACTED;EndpointSuffix");
  // A signature printed on its own, not inside a URL (found by the secret-leak e2e test).
  EXPECT_EQ(log::Redact("signed with sig=abc%2Bdef%3D"), "signed with sig=REDACTED");
  EXPECT_EQ(log::Redact("config=keep"), "config=keep");
}

TEST(LogTest, ScopedFieldsJoinEveryLineOfTheirThreadUntilTheyEnd) {
  std::vector<nlohmann::json> lines;
  std::mutex mu;
  log::SetCaptureForTesting([&](const std::string& l) {
    std::lock_guard g(mu);
    lines.push_back(nlohmann::json::parse(l));
  });
  log::Init(log::Format::kJson, log::Level::kInfo);
  {
    log::ScopedFields outer({{"controller", "c"}, {"reconcileID", "id-1"}});
    log::Info("test", "outer");
    {
      log::ScopedFields inner({{"reconcileID", "id-2"}, {"name", "n"}});
      log::Info("test", "inner", {{"name", "own"}});
      std::thread([] { log::Info("test", "other thread"); }).join();
    }
    log::Info("test", "outer again");
  }
  log::Info("test", "none");
  log::SetCaptureForTesting(nullptr);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["controller"], "c");
  EXPECT_EQ(lines[0]["reconcileID"], "id-1");
  EXPECT_EQ(lines[1]["controller"], "c");
  EXPECT_EQ(lines[1]["reconcileID"], "id-2");
  EXPECT_EQ(lines[1]["name"], "own");  // the line's own field wins
  EXPECT_FALSE(lines[2].contains("reconcileID")) << "another thread: " << lines[2].dump();
  EXPECT_EQ(lines[3]["reconcileID"], "id-1");
  EXPECT_FALSE(lines[3].contains("name"));
  EXPECT_FALSE(lines[4].contains("controller"));
}

}  // namespace
}  // namespace vmrelease
