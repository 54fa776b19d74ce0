#include "wal/archive_check.hpp"

#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::wal {
namespace {

using Clock = std::chrono::steady_clock;

void ReadServerState(pg::Connection& conn, CheckReport& report) {
  pg::Result r = conn.Exec(
      "SELECT current_setting('archive_mode'), current_setting('archive_command'), "
      "pg_current_wal_lsn()::text, "
      "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int, "
      "coalesce(extract(epoch FROM now() - last_archived_time), 0)::float8, "
      "last_failed_wal, last_failed_time::text FROM pg_stat_archiver");
  report.archive_mode = r.GetString(0, 0);
  report.archive_command = r.GetString(0, 1);
  report.current_lsn = r.GetString(0, 2);
  report.timeline = static_cast<pg::TimelineId>(r.GetInt(0, 3));
  report.rpo_seconds = r.GetDouble(0, 4);
  report.last_failed_wal = r.GetOptional(0, 5);
  report.last_failed_time = r.GetOptional(0, 6);
}

void ComputeRpo(const ArchiveCatalog& catalog, CheckReport& report) {
  const pg::Lsn current = pg::Lsn::Parse(report.current_lsn);
  const auto it = catalog.timelines.find(report.timeline);
  if (it == catalog.timelines.end() || it->second.segnos.empty()) {
    report.rpo_bytes = current.value;  // nothing of this timeline archived yet
    return;
  }
  const std::uint64_t newest = *it->second.segnos.rbegin();
  report.newest_archived = pg::WalSegmentName(report.timeline, newest);
  const pg::Lsn end = pg::SegmentStart(newest + 1);
  report.rpo_bytes = current > end ? current.value - end.value : 0;
  if (report.rpo_bytes == 0) report.rpo_seconds = 0;
}

void FindMissing(const ArchiveCatalog& catalog, CheckReport& report) {
  for (const auto& [tli, coverage] : catalog.timelines) {
    for (const SegmentGap& gap : coverage.gaps) {
      report.missing.push_back({tli, pg::WalSegmentName(tli, gap.first_segno),
                                pg::WalSegmentName(tli, gap.last_segno)});
    }
  }
}

}  // namespace

CheckReport RunCheck(pg::Connection& conn, const WalArchive& archive,
                     std::chrono::milliseconds timeout) {
  CheckReport report;
  ReadServerState(conn, report);
  if (report.archive_mode == "off") {
    throw Error(ErrorCode::kConfig, "archiving is off on the server (archive_mode = off)",
                "set archive_mode = on and archive_command = 'dbmedic wal push --repo R %p', "
                "then restart the server");
  }
  const ArchiveCatalog catalog = BuildCatalog(archive.List());
  ComputeRpo(catalog, report);
  FindMissing(catalog, report);

  report.switched_segment = conn.Scalar("SELECT pg_walfile_name(pg_switch_wal())");
  const auto began = Clock::now();
  while (!archive.Find(report.switched_segment)) {
    if (Clock::now() - began > timeout) {
      ReadServerState(conn, report);
      throw Error(ErrorCode::kTimeout,
                  fmt::format("WAL segment {} did not reach repository '{}' within {} s (last "
                              "archiver failure: {} at {})",
                              report.switched_segment, archive.repository().storage().Describe(""),
                              timeout.count() / 1000, report.last_failed_wal.value_or("none"),
                              report.last_failed_time.value_or("-")),
                  fmt::format("archive_command is '{}': look for its errors in the server log",
                              report.archive_command));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  report.wait_seconds = std::chrono::duration<double>(Clock::now() - began).count();
  return report;
}

}  // namespace dbmedic::wal
