#include "pg/lsn.hpp"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::pg {
namespace {

bool IsHex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::uint64_t Hex(std::string_view s) {
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v, 16);
  return v;
}

}  // namespace

std::optional<Lsn> Lsn::TryParse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto hi = text.substr(0, slash), lo = text.substr(slash + 1);
  if (!IsHex(hi) || !IsHex(lo) || hi.size() > 8 || lo.size() > 8) return std::nullopt;
  return Lsn{(Hex(hi) << 32) | Hex(lo)};
}

Lsn Lsn::Parse(std::string_view text) {
  if (auto lsn = TryParse(text)) return *lsn;
  throw Error(ErrorCode::kUsage, fmt::format("'{}' is not an LSN", text),
              "write it as PostgreSQL does, e.g. 0/16B3748");
}

std::string Lsn::ToString() const {
  return fmt::format("{:X}/{:X}", static_cast<std::uint32_t>(value >> 32),
                     static_cast<std::uint32_t>(value));
}

std::uint64_t SegmentNumber(Lsn lsn, std::uint64_t seg_size) { return lsn.value / seg_size; }

Lsn SegmentStart(std::uint64_t segno, std::uint64_t seg_size) { return Lsn{segno * seg_size}; }

std::string WalSegmentName(TimelineId tli, std::uint64_t segno, std::uint64_t seg_size) {
  const std::uint64_t per_id = 0x100000000ull / seg_size;
  return fmt::format("{:08X}{:08X}{:08X}", tli, static_cast<std::uint32_t>(segno / per_id),
                     static_cast<std::uint32_t>(segno % per_id));
}

std::optional<ParsedWalName> ParseWalSegmentName(std::string_view name, std::uint64_t seg_size) {
  if (!IsWalSegmentName(name)) return std::nullopt;
  const std::uint64_t per_id = 0x100000000ull / seg_size;
  ParsedWalName parsed;
  parsed.timeline = static_cast<TimelineId>(Hex(name.substr(0, 8)));
  std::uint64_t log = Hex(name.substr(8, 8));
  std::uint64_t seg = Hex(name.substr(16, 8));
  if (seg >= per_id) return std::nullopt;
  parsed.segno = log * per_id + seg;
  return parsed;
}

bool IsWalSegmentName(std::string_view name) { return name.size() == 24 && IsHex(name); }

bool IsHistoryFileName(std::string_view name) {
  return name.size() == 16 && IsHex(name.substr(0, 8)) && name.substr(8) == ".history";
}

bool IsBackupHistoryName(std::string_view name) {
  return name.size() == 40 && IsHex(name.substr(0, 24)) && name[24] == '.' &&
         IsHex(name.substr(25, 8)) && name.substr(33) == ".backup";
}

}  // namespace dbmedic::pg
