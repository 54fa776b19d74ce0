#include "wal/archive_catalog.hpp"

#include <cstring>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_format.hpp"
#include "pg/wal_reader.hpp"
#include "pg/wal_source.hpp"

namespace dbmedic::wal {
namespace {

// PostgreSQL timestamps count microseconds from 2000-01-01 00:00:00 UTC.
constexpr std::int64_t kPgEpochUnixMicros = 946684800LL * 1000000LL;

std::optional<pg::TimelineId> TimelineOfName(const std::string& name) {
  if (name.size() < 8) return std::nullopt;
  return static_cast<pg::TimelineId>(std::stoul(name.substr(0, 8), nullptr, 16));
}

void FindGaps(TimelineCoverage& coverage) {
  std::optional<std::uint64_t> previous;
  for (std::uint64_t segno : coverage.segnos) {
    if (previous && segno > *previous + 1) coverage.gaps.push_back({*previous + 1, segno - 1});
    previous = segno;
  }
}

}  // namespace

ArchiveCatalog BuildCatalog(const std::vector<ArchivedFile>& files) {
  ArchiveCatalog catalog;
  for (const ArchivedFile& file : files) {
    const std::optional<pg::TimelineId> tli = TimelineOfName(file.name);
    if (!tli) continue;
    TimelineCoverage& coverage = catalog.timelines[*tli];
    coverage.timeline = *tli;
    coverage.stored_bytes += file.stored_size;
    ++catalog.files;
    catalog.stored_bytes += file.stored_size;
    catalog.raw_bytes += file.raw_size;
    if (const auto parsed = pg::ParseWalSegmentName(file.name)) {
      coverage.segnos.insert(parsed->segno);
    } else if (pg::IsHistoryFileName(file.name)) {
      coverage.has_history = true;
    } else if (file.name.ends_with(".partial")) {
      ++coverage.partial_files;
    }
  }
  for (auto& [tli, coverage] : catalog.timelines) FindGaps(coverage);
  return catalog;
}

std::optional<ArchivedFile> NewestSegment(const WalArchive& archive, pg::TimelineId timeline) {
  std::optional<ArchivedFile> newest;
  for (ArchivedFile& file : archive.List()) {
    if (!pg::IsWalSegmentName(file.name) || TimelineOfName(file.name) != timeline) continue;
    if (!newest || file.name > newest->name) newest = std::move(file);
  }
  return newest;
}

std::optional<LastTransaction> FindLastTransaction(const WalArchive& archive,
                                                   const ArchivedFile& file) {
  const std::optional<pg::ParsedWalName> parsed = pg::ParseWalSegmentName(file.name);
  if (!parsed) return std::nullopt;
  const std::string raw = archive.Read(file);
  pg::MemoryWalSource source(raw.size());
  std::vector<std::byte> bytes(raw.size());
  std::memcpy(bytes.data(), raw.data(), raw.size());
  source.Put(parsed->timeline, parsed->segno, std::move(bytes));
  pg::WalReader reader(source);
  std::optional<LastTransaction> last;
  while (const pg::WalRecord* record = reader.Next()) {
    if (!record->IsRmgr(static_cast<std::uint8_t>(pg::wal::Rmgr::kXact))) continue;
    const std::optional<pg::XactRecord> xact = pg::DecodeXact(*record);
    if (!xact || xact->time == 0) continue;
    last = LastTransaction{record->lsn, xact->time + kPgEpochUnixMicros};
  }
  return last;
}

std::string FormatUnixMicros(std::int64_t unix_micros) {
  const std::time_t seconds = static_cast<std::time_t>(unix_micros / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:06d}+00", buf, unix_micros % 1000000);
}

}  // namespace dbmedic::wal
