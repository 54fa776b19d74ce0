// SHA-256 (FIPS 180-4), dbmedic's own: with the CPU's SHA extensions when it has them (x86-64
// SHA-NI), else portable C++.
//
// Why not OpenSSL's: every checksum in the repository is a SHA-256, so with OpenSSL every dbmedic
// process loaded libcrypto at start (~21,000 relocations) and initialised its provider machinery
// on the first digest (reading openssl.cnf): ~5 ms of each `wal push`, which PostgreSQL waits for
// once per WAL segment. libcrypto is now opened only for encryption and S3 signing
// (core/libcrypto_loader.cpp). With SHA-NI this runs at the speed of OpenSSL's own SHA-NI code.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dbmedic::core {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  Sha256Digest FinishDigest();  // the object is spent afterwards
  std::string Finish();         // same, as lowercase hex

 private:
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

std::string Sha256Hex(std::string_view data);

// The compression function over `blocks` 64-byte blocks, exposed so tests can check both
// implementations against each other.
namespace sha256_detail {
void BlocksPortable(std::uint32_t state[8], const std::uint8_t* data, std::size_t blocks);
void BlocksShaNi(std::uint32_t state[8], const std::uint8_t* data, std::size_t blocks);
bool CpuHasShaNi();
}  // namespace sha256_detail

}  // namespace dbmedic::core
