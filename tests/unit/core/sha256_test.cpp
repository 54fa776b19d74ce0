// core/sha256.hpp against FIPS 180-4 example vectors, the SHA-NI and portable compression
// functions against each other, and the whole against OpenSSL (through core's libcrypto
// forwarders, which these tests therefore exercise too).
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <string>

#include "core/sha256.hpp"

namespace dbmedic::core {
namespace {

std::string OpenSslSha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), md, &size, EVP_sha256(), nullptr), 1);
  std::string hex;
  for (unsigned i = 0; i < size; ++i) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

TEST(Sha256Test, MatchesTheFipsExamples) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalUpdatesInAnySplitGiveTheOneShotDigest) {
  const std::string data = RandomBytes(1000, 1);
  const std::string whole = Sha256Hex(data);
  for (std::size_t step : {1u, 3u, 63u, 64u, 65u, 127u, 500u}) {
    Sha256 sha;
    for (std::size_t i = 0; i < data.size(); i += step) {
      sha.Update(std::string_view(data).substr(i, step));
    }
    EXPECT_EQ(sha.Finish(), whole) << "step " << step;
  }
}

TEST(Sha256Test, EveryLengthAroundThePaddingBoundariesMatchesOpenSsl) {
  for (std::size_t n = 0; n <= 200; ++n) {
    const std::string data = RandomBytes(n, static_cast<unsigned>(n));
    EXPECT_EQ(Sha256Hex(data), OpenSslSha256Hex(data)) << n << " bytes";
  }
  const std::string segment = RandomBytes(16 << 20, 7);  // a WAL segment's size
  EXPECT_EQ(Sha256Hex(segment), OpenSslSha256Hex(segment));
}

TEST(Sha256Test, ShaExtensionsAndPortableCodeAgree) {
  if (!sha256_detail::CpuHasShaNi()) GTEST_SKIP() << "this CPU has no SHA extensions";
  const std::string data = RandomBytes(64 * 1000, 3);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.data());
  for (std::size_t blocks : {1u, 2u, 17u, 1000u}) {
    std::uint32_t portable[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    std::uint32_t extensions[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    sha256_detail::BlocksPortable(portable, bytes, blocks);
    sha256_detail::BlocksShaNi(extensions, bytes, blocks);
    EXPECT_EQ(std::vector<std::uint32_t>(portable, portable + 8),
              std::vector<std::uint32_t>(extensions, extensions + 8))
        << blocks << " blocks";
  }
}

}  // namespace
}  // namespace dbmedic::core
