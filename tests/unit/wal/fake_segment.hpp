// A fake WAL segment for the wal unit tests: a PostgreSQL 15 long page header naming `sysid`
// (what the archive checks before storing a segment), then pseudo-random, compressible bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace dbmedic::wal::testing {

inline std::string FakeSegment(std::uint64_t sysid, unsigned seed, std::size_t size = 64 * 1024) {
  std::string s(size, '\0');
  std::mt19937 rng(seed);
  for (std::size_t i = 40; i < size; i += 4) s[i] = static_cast<char>(rng() % 7);
  const std::uint16_t magic = 0xD110, info = 0x0002;
  std::memcpy(s.data(), &magic, 2);
  std::memcpy(s.data() + 2, &info, 2);
  std::memcpy(s.data() + 24, &sysid, 8);
  return s;
}

}  // namespace dbmedic::wal::testing
