// LSNs, timelines and WAL segment file names (PostgreSQL's "X/X" and 24-hex-digit names).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dbmedic::pg {

inline constexpr std::uint64_t kDefaultWalSegmentSize = 16ull * 1024 * 1024;

struct Lsn {
  std::uint64_t value = 0;

  // "16/B374D848" -> Lsn. Throws Error(kUsage) on bad text.
  static Lsn Parse(std::string_view text);
  static std::optional<Lsn> TryParse(std::string_view text);
  std::string ToString() const;  // "16/B374D848"
  auto operator<=>(const Lsn&) const = default;
};

using TimelineId = std::uint32_t;

// Segment number of the segment that contains `lsn`.
std::uint64_t SegmentNumber(Lsn lsn, std::uint64_t seg_size = kDefaultWalSegmentSize);
// LSN of the first byte of segment `segno`.
Lsn SegmentStart(std::uint64_t segno, std::uint64_t seg_size = kDefaultWalSegmentSize);

// "000000010000000A00000042" for timeline 1, segment containing LSN A/42000000.
std::string WalSegmentName(TimelineId tli, std::uint64_t segno,
                           std::uint64_t seg_size = kDefaultWalSegmentSize);

struct ParsedWalName {
  TimelineId timeline = 0;
  std::uint64_t segno = 0;
};
// Parses a 24-hex-digit segment name; nullopt for anything else (.history, .backup, .partial).
std::optional<ParsedWalName> ParseWalSegmentName(std::string_view name,
                                                 std::uint64_t seg_size = kDefaultWalSegmentSize);

bool IsWalSegmentName(std::string_view name);    // 24 hex digits
bool IsHistoryFileName(std::string_view name);   // 00000002.history
bool IsBackupHistoryName(std::string_view name); // 000000010000000000000002.00000028.backup

}  // namespace dbmedic::pg
