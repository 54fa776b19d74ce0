#include "pg/wal_crc32c.hpp"

#include <array>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace dbmedic::pg {
namespace {

constexpr std::uint32_t kPolyReflected = 0x82F63B78u;

// tables[k][b]: CRC of byte b followed by k zero bytes (slice-by-8).
using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t crc = b;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ ((crc & 1u) ? kPolyReflected : 0u);
    t[0][b] = crc;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
  }
  return t;
}

constexpr Tables kTables = MakeTables();

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint64_t Crc32cSerial(std::uint64_t c, const unsigned char* p,
                                                                std::size_t len) {
  for (; len >= 8; p += 8, len -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  for (; len > 0; --len) c = _mm_crc32_u8(static_cast<std::uint32_t>(c), *p++);
  return c;
}

// The crc32 instruction has a latency of three cycles but accepts one per cycle: three lanes
// of kLane bytes each run at once, and are joined by shifting a lane's CRC over the bytes that
// follow it. Shifting over n zero bytes is linear in the CRC, so it is four table lookups.
constexpr std::size_t kLane = 1024;

class ZeroShift {
 public:
  explicit ZeroShift(std::size_t zero_bytes) {
    std::array<std::uint32_t, 32> basis{};
    const std::vector<unsigned char> zeros(zero_bytes, 0);
    for (int bit = 0; bit < 32; ++bit) {
      basis[bit] = static_cast<std::uint32_t>(Crc32cSerial(1u << bit, zeros.data(), zeros.size()));
    }
    for (int k = 0; k < 4; ++k) {
      for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t v = 0;
        for (int bit = 0; bit < 8; ++bit) {
          if (b & (1u << bit)) v ^= basis[8 * k + bit];
        }
        table_[k][b] = v;
      }
    }
  }
  std::uint32_t operator()(std::uint32_t crc) const {
    return table_[0][crc & 0xFF] ^ table_[1][(crc >> 8) & 0xFF] ^ table_[2][(crc >> 16) & 0xFF] ^
           table_[3][crc >> 24];
  }

 private:
  std::array<std::array<std::uint32_t, 256>, 4> table_{};
};

__attribute__((target("sse4.2"))) std::uint32_t Crc32cHardware(std::uint32_t crc,
                                                                  const unsigned char* p,
                                                                  std::size_t len) {
  static const ZeroShift kShiftOneLane(kLane);
  static const ZeroShift kShiftTwoLanes(2 * kLane);
  std::uint64_t c = crc;
  for (; len >= 3 * kLane; p += 3 * kLane, len -= 3 * kLane) {
    std::uint64_t a = c, b = 0, d = 0;
    for (std::size_t i = 0; i < kLane; i += 8) {
      std::uint64_t wa, wb, wd;
      std::memcpy(&wa, p + i, 8);
      std::memcpy(&wb, p + kLane + i, 8);
      std::memcpy(&wd, p + 2 * kLane + i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      d = _mm_crc32_u64(d, wd);
    }
    c = kShiftTwoLanes(static_cast<std::uint32_t>(a)) ^
        kShiftOneLane(static_cast<std::uint32_t>(b)) ^ static_cast<std::uint32_t>(d);
  }
  return static_cast<std::uint32_t>(Crc32cSerial(c, p, len));
}

bool DetectHardware() { return __builtin_cpu_supports("sse4.2"); }
#else
bool DetectHardware() { return false; }
#endif

const bool kHardware = DetectHardware();

}  // namespace

std::uint32_t Crc32cUpdateSoftware(std::uint32_t crc, const void* data, std::size_t len) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (len >= 8) {
    std::uint32_t lo;
    std::uint32_t hi;
    std::memcpy(&lo, p, 4);  // little-endian hosts only, like PostgreSQL's WAL itself
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
          kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len > 0) {
    crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xFF];
    --len;
  }
  return crc;
}

std::uint32_t Crc32cUpdate(std::uint32_t crc, const void* data, std::size_t len) {
#if defined(__x86_64__)
  if (kHardware) return Crc32cHardware(crc, static_cast<const unsigned char*>(data), len);
#endif
  return Crc32cUpdateSoftware(crc, data, len);
}

bool Crc32cUsesHardware() { return kHardware; }

}  // namespace dbmedic::pg
