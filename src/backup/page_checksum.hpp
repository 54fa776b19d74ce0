// PostgreSQL data page checksums (the algorithm of storage/checksum_impl.h, which PostgreSQL
// publishes for external programs) and what a backup needs around it: which files hold pages,
// and how to judge a page whose checksum fails.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dbmedic::backup {

inline constexpr std::size_t kPageSize = 8192;
inline constexpr std::uint32_t kPagesPerSegment = 131072;  // RELSEG_SIZE: 1 GiB files

// The checksum PostgreSQL stores in pd_checksum for `page` at absolute block `block`.
std::uint16_t ComputePageChecksum(const char* page, std::uint32_t block);
std::uint16_t StoredPageChecksum(const char* page);
std::uint64_t PageLsn(const char* page);
// A never-initialised page (all zero) carries no checksum.
bool IsNewPage(const char* page);

// For a relation file ("base/5/16384.2", "global/1262", "pg_tblspc/T/PG_15_X/5/16384_fsm"):
// its segment number (the ".N" suffix, 0 without). nullopt for files that do not hold pages.
std::optional<std::uint32_t> RelationSegment(std::string_view path);

}  // namespace dbmedic::backup
