#include "controller/common/crypto.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace vmrelease {
namespace {

TEST(CryptoTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(HmacSha256("key", "The quick brown fox jumps over the lazy dog")),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  EXPECT_EQ(*Base64Decode("aGVsbG8="), "hello");
  EXPECT_EQ(*Base64Decode("aGk="), "hi");
  EXPECT_EQ(*Base64Decode(""), "");
  EXPECT_FALSE(Base64Decode("a").ok());
  EXPECT_EQ(Base64UrlEncode("\xff\xfe"), "__4");
}

TEST(CryptoTest, StreamingEqualsOneShot) {
  std::string data(100000, 'x');
  Sha256 h;
  for (size_t i = 0; i < data.size(); i += 777)
    h.Update(data.data() + i, std::min<size_t>(777, data.size() - i));
  EXPECT_EQ(h.FinishHex(), Sha256Hex(data));
  EXPECT_EQ(RandomHex(10).size(), 10u);
}

TEST(CryptoTest, RandomUuidIsVersion4AndFresh) {
  const std::regex v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = RandomUuid();
    EXPECT_TRUE(std::regex_match(id, v4)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace vmrelease
