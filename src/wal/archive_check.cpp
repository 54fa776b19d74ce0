#include "wal/archive_check.hpp"

#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"
#include "wal/push_spool.hpp"
#include "wal/stream_receiver.hpp"

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

// Segments per timeline: archived ones and those `wal stream` holds as partials.
struct Coverage {
  std::map<pg::TimelineId, std::set<std::uint64_t>> segnos;
  std::map<pg::TimelineId, pg::Lsn> streamed_end;  // end of the newest partial
};

Coverage CoverageOf(const ArchiveCatalog& catalog, const std::vector<StreamPartial>& partials) {
  Coverage out;
  for (const auto& [tli, c] : catalog.timelines) out.segnos[tli] = c.segnos;
  for (const StreamPartial& p : partials) {
    const auto parsed = pg::ParseWalSegmentName(p.name);
    if (!parsed) continue;
    out.segnos[parsed->timeline].insert(parsed->segno);
    const pg::Lsn end{pg::SegmentStart(parsed->segno).value + p.bytes};
    pg::Lsn& newest = out.streamed_end[parsed->timeline];
    newest = std::max(newest, end);
  }
  return out;
}

void ComputeRpo(const ArchiveCatalog& catalog, const Coverage& coverage, CheckReport& report) {
  const pg::Lsn current = pg::Lsn::Parse(report.current_lsn);
  pg::Lsn end{0};
  const auto it = catalog.timelines.find(report.timeline);
  if (it != catalog.timelines.end() && !it->second.segnos.empty()) {
    const std::uint64_t newest = *it->second.segnos.rbegin();
    report.newest_archived = pg::WalSegmentName(report.timeline, newest);
    end = pg::SegmentStart(newest + 1);
  }
  if (const auto s = coverage.streamed_end.find(report.timeline); s != coverage.streamed_end.end()) {
    report.streamed_lsn = s->second.ToString();
    end = std::max(end, s->second);
  }
  report.rpo_bytes = current > end ? current.value - end.value : 0;
  if (report.rpo_bytes == 0) report.rpo_seconds = 0;
}

void FindMissing(const Coverage& coverage, CheckReport& report) {
  for (const auto& [tli, segnos] : coverage.segnos) {
    std::optional<std::uint64_t> previous;
    for (const std::uint64_t segno : segnos) {
      if (previous && segno > *previous + 1) {
        report.missing.push_back({tli, pg::WalSegmentName(tli, *previous + 1),
                                  pg::WalSegmentName(tli, segno - 1)});
      }
      previous = segno;
    }
  }
}

void ReadSpool(const std::filesystem::path& dir, CheckReport& report) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return;
  const PushSpool spool(dir, 0);
  report.spool_files = spool.Queued().size();
  report.spool_bytes = spool.QueuedBytes();
  report.spool_error = spool.LastError();
}

}  // namespace

CheckReport RunCheck(pg::Connection& conn, const WalArchive& archive, const CheckOptions& options) {
  CheckReport report;
  ReadServerState(conn, report);
  const std::vector<StreamPartial> partials = ListStreamPartials(options.stream_dir);
  if (report.archive_mode == "off" && partials.empty()) {
    throw Error(ErrorCode::kConfig,
                "archiving is off on the server (archive_mode = off) and no WAL is streamed into "
                "the repository",
                "set archive_mode = on and archive_command = 'dbmedic wal push --repo R %p', "
                "then restart the server; or run `dbmedic wal stream`");
  }
  const ArchiveCatalog catalog = BuildCatalog(archive.List());
  const Coverage coverage = CoverageOf(catalog, partials);
  ComputeRpo(catalog, coverage, report);
  FindMissing(coverage, report);
  if (options.push_spool) ReadSpool(*options.push_spool, report);
  const std::chrono::milliseconds timeout = options.timeout;

  report.switched_segment = conn.Scalar("SELECT pg_walfile_name(pg_switch_wal())");
  const auto began = Clock::now();
  while (!archive.Find(report.switched_segment)) {
    if (Clock::now() - began > timeout) {
      ReadServerState(conn, report);
      if (options.push_spool) ReadSpool(*options.push_spool, report);
      const std::string spool =
          report.spool_files == 0 && !report.spool_error
              ? ""
              : fmt::format("; the asynchronous push spool holds {} files, last failure: {}",
                            report.spool_files, report.spool_error.value_or("none"));
      throw Error(ErrorCode::kTimeout,
                  fmt::format("WAL segment {} did not reach repository '{}' within {} s (last "
                              "archiver failure: {} at {}){}",
                              report.switched_segment, archive.repository().storage().Describe(""),
                              timeout.count() / 1000, report.last_failed_wal.value_or("none"),
                              report.last_failed_time.value_or("-"), spool),
                  fmt::format("archive_command is '{}': look for its errors in the server log",
                              report.archive_command));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  report.wait_seconds = std::chrono::duration<double>(Clock::now() - began).count();
  return report;
}

}  // namespace dbmedic::wal
