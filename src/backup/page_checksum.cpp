#include "backup/page_checksum.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace dbmedic::backup {
namespace {

// The page checksum algorithm PostgreSQL documents in storage/checksum_impl.h: 32 interleaved
// FNV-1a-like lanes over the page read as 32-bit words (pd_checksum counted as zero), two extra
// rounds of zeros, XOR of the lanes, XOR of the block number, reduced to 1..65535. The lane seeds
// are PostgreSQL's; any other value would not match what the server writes.
constexpr std::uint32_t kLanes = 32;
constexpr std::uint32_t kFnvPrime = 16777619;
constexpr std::uint32_t kLaneSeeds[kLanes] = {
    0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2,
    0x83E13D2C, 0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C,
    0xF718902A, 0x0B1C9CDB, 0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979,
    0xCCA6C0B2, 0x304A0979, 0x85AA43D4, 0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E,
    0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756};
constexpr std::size_t kChecksumOffset = 8;  // offsetof(PageHeaderData, pd_checksum)

inline void Mix(std::uint32_t& lane, std::uint32_t value) {
  const std::uint32_t tmp = lane ^ value;
  lane = tmp * kFnvPrime ^ (tmp >> 17);
}

}  // namespace
}  // namespace dbmedic::backup

namespace dbmedic::backup {

std::uint16_t ComputePageChecksum(const char* page, std::uint32_t block) {
  std::uint32_t words[kPageSize / 4];
  std::memcpy(words, page, kPageSize);
  std::memset(reinterpret_cast<char*>(words) + kChecksumOffset, 0, sizeof(std::uint16_t));
  std::uint32_t lanes[kLanes];
  std::memcpy(lanes, kLaneSeeds, sizeof(lanes));
  for (std::uint32_t row = 0; row < kPageSize / 4 / kLanes; ++row) {
    for (std::uint32_t j = 0; j < kLanes; ++j) Mix(lanes[j], words[row * kLanes + j]);
  }
  for (int round = 0; round < 2; ++round) {
    for (std::uint32_t j = 0; j < kLanes; ++j) Mix(lanes[j], 0);
  }
  std::uint32_t result = 0;
  for (std::uint32_t lane : lanes) result ^= lane;
  result ^= block;
  return static_cast<std::uint16_t>(result % 65535 + 1);
}

std::uint16_t StoredPageChecksum(const char* page) {
  std::uint16_t value;
  std::memcpy(&value, page + 8, sizeof(value));
  return value;
}

std::uint64_t PageLsn(const char* page) {
  std::uint32_t hi;
  std::uint32_t lo;
  std::memcpy(&hi, page, sizeof(hi));
  std::memcpy(&lo, page + 4, sizeof(lo));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

bool IsNewPage(const char* page) {
  return std::all_of(page, page + kPageSize, [](char c) { return c == 0; });
}

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "16384", "16384_fsm", "16384_vm", "16384_init", each with an optional ".N".
std::optional<std::uint32_t> ParseRelationFileName(std::string_view name) {
  std::uint32_t segment = 0;
  if (auto dot = name.find('.'); dot != name.npos) {
    std::string_view seg = name.substr(dot + 1);
    if (!AllDigits(seg) || seg.size() > 6) return std::nullopt;
    segment = static_cast<std::uint32_t>(std::stoul(std::string(seg)));
    name = name.substr(0, dot);
  }
  if (auto underscore = name.find('_'); underscore != name.npos) {
    std::string_view fork = name.substr(underscore + 1);
    if (fork != "fsm" && fork != "vm" && fork != "init") return std::nullopt;
    name = name.substr(0, underscore);
  }
  if (!AllDigits(name)) return std::nullopt;
  return segment;
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == path.npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

std::optional<std::uint32_t> RelationSegment(std::string_view path) {
  const std::vector<std::string_view> p = Split(path);
  const bool in_global = p.size() == 2 && p[0] == "global";
  const bool in_base = p.size() == 3 && p[0] == "base" && AllDigits(p[1]);
  const bool in_tablespace = p.size() == 5 && p[0] == "pg_tblspc" && p[2].starts_with("PG_") &&
                             AllDigits(p[3]);
  if (!in_global && !in_base && !in_tablespace) return std::nullopt;
  return ParseRelationFileName(p.back());
}

}  // namespace dbmedic::backup
