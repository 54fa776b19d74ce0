#include "pg/wal_format.hpp"

#include <array>

namespace dbmedic::pg::wal {
namespace {

// Names as pg_waldump prints them (rmgrlist.h, second column).
constexpr std::array<std::string_view, kMaxBuiltinRmgr + 1> kRmgrNames = {
    "XLOG",     "Transaction", "Storage", "CLOG",     "Database",   "Tablespace",
    "MultiXact", "RelMap",     "Standby", "Heap2",    "Heap",       "Btree",
    "Hash",     "Gin",         "Gist",    "Sequence", "SPGist",     "BRIN",
    "CommitTs", "ReplicationOrigin", "Generic", "LogicalMessage",
};

}  // namespace

bool IsValidSegmentSize(std::uint64_t size) {
  return size >= (1u << 20) && size <= (1u << 30) && (size & (size - 1)) == 0;
}

std::optional<std::string_view> RmgrName(std::uint8_t rmid) {
  if (rmid <= kMaxBuiltinRmgr) return kRmgrNames[rmid];
  if (rmid >= kMinCustomRmgr) return "custom";
  return std::nullopt;
}

std::optional<int> PostgresVersionOfPageMagic(std::uint16_t magic) {
  switch (magic) {
    case 0xD097: return 10;
    case 0xD098: return 11;
    case 0xD101: return 12;
    case 0xD106: return 13;
    case 0xD10D: return 14;
    case 0xD110: return 15;
    case 0xD113: return 16;
    case 0xD116: return 17;
    default: return std::nullopt;
  }
}

}  // namespace dbmedic::pg::wal
