// The codec pipeline: SHA-256 and compression round trips, and damaged data refused.
#include <gtest/gtest.h>

#include <random>

#include "core/error.hpp"
#include "repo/codec.hpp"

namespace dbmedic::repo {
namespace {

std::string MixedData(std::size_t size) {
  std::mt19937 rng(42);
  std::string s;
  while (s.size() < size) {
    s += "row " + std::to_string(rng() % 1000) + " value " + std::to_string(rng()) + "\n";
  }
  s.resize(size);
  return s;
}

TEST(Sha256, MatchesKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  const std::string data = MixedData(100000);
  Sha256 sha;
  sha.Update(std::string_view(data).substr(0, 777));
  sha.Update(std::string_view(data).substr(777));
  EXPECT_EQ(sha.Finish(), Sha256Hex(data));
}

class CodecRoundTrip : public ::testing::TestWithParam<Compression> {};

TEST_P(CodecRoundTrip, RestoresTheExactBytes) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{8192}, std::size_t{1} << 20}) {
    const std::string raw = MixedData(size);
    const std::string stored = Compress({GetParam(), 3}, raw);
    EXPECT_EQ(Decompress(GetParam(), stored, raw.size(), "test"), raw) << size;
  }
}

TEST_P(CodecRoundTrip, AlteredDataIsCorruptOrDetectedByChecksum) {
  const std::string raw = MixedData(65536);
  std::string stored = Compress({GetParam(), 3}, raw);
  stored[stored.size() / 2] ^= 0x5a;
  try {
    const std::string back = Decompress(GetParam(), stored, raw.size(), "obj");
    // Some codecs decode flipped literals without noticing: the checksum must then differ.
    EXPECT_NE(Sha256Hex(back), Sha256Hex(raw));
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("'obj' cannot be decompressed"), std::string::npos);
  }
}

TEST_P(CodecRoundTrip, TruncatedDataIsCorrupt) {
  const std::string raw = MixedData(65536);
  const std::string stored = Compress({GetParam(), 3}, raw);
  try {
    Decompress(GetParam(), std::string_view(stored).substr(0, stored.size() / 2), raw.size(), "obj");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecRoundTrip,
                         ::testing::Values(Compression::kNone, Compression::kZstd, Compression::kLz4));

TEST(Codec, ZstdCompressesRepetitiveData) {
  const std::string raw(1 << 20, 'a');
  EXPECT_LT(Compress({Compression::kZstd, 3}, raw).size(), raw.size() / 100);
  EXPECT_LT(Compress({Compression::kLz4, 1}, raw).size(), raw.size() / 100);
}

TEST(Codec, NamesRoundTrip) {
  for (Compression c : {Compression::kNone, Compression::kZstd, Compression::kLz4}) {
    EXPECT_EQ(ParseCompression(CompressionName(c)), c);
  }
  EXPECT_EQ(ParseCompression("gzip"), std::nullopt);
  EXPECT_EQ(CompressionExtension(Compression::kZstd), ".zst");
}

}  // namespace
}  // namespace dbmedic::repo
