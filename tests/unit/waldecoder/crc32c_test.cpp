#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "pg/wal_crc32c.hpp"

namespace dbmedic::pg {
namespace {

TEST(Crc32c, MatchesTheStandardCheckValue) {
  // CRC-32C check value of "123456789" (RFC 3720, appendix B.4).
  std::string data = "123456789";
  EXPECT_EQ(Crc32cFinish(Crc32cUpdate(kCrc32cInit, data.data(), data.size())), 0xE3069283u);
  EXPECT_EQ(Crc32cFinish(Crc32cUpdateSoftware(kCrc32cInit, data.data(), data.size())),
            0xE3069283u);
}

TEST(Crc32c, HardwareAndSoftwareAgreeOnEveryLengthAndSplit) {
  std::mt19937 rng(42);
  std::vector<unsigned char> data(1000);
  for (auto& b : data) b = static_cast<unsigned char>(rng());
  for (std::size_t len = 0; len < data.size(); len += 37) {
    std::size_t split = len / 3;
    std::uint32_t a = Crc32cUpdate(Crc32cUpdate(kCrc32cInit, data.data(), split),
                                   data.data() + split, len - split);
    std::uint32_t b = Crc32cUpdateSoftware(kCrc32cInit, data.data(), len);
    EXPECT_EQ(a, b) << "length " << len;
  }
}

// Long inputs take the three-lane path (3 kB blocks joined by table shifts); lengths around the
// block size and splits inside a block must still give the plain CRC.
TEST(Crc32c, ThreeLanePathAgreesWithSoftwareAroundBlockBoundaries) {
  std::mt19937 rng(7);
  std::vector<unsigned char> data(20000);
  for (auto& b : data) b = static_cast<unsigned char>(rng());
  for (std::size_t len : {3071u, 3072u, 3073u, 6144u, 8192u, 9999u, 20000u}) {
    for (std::size_t split : {std::size_t{0}, std::size_t{5}, len / 2}) {
      std::uint32_t a = Crc32cUpdate(Crc32cUpdate(kCrc32cInit, data.data(), split),
                                     data.data() + split, len - split);
      std::uint32_t b = Crc32cUpdateSoftware(kCrc32cInit, data.data(), len);
      EXPECT_EQ(a, b) << "length " << len << " split " << split;
    }
  }
}

}  // namespace
}  // namespace dbmedic::pg
