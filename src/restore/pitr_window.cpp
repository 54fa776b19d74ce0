#include "restore/pitr_window.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::restore {
namespace {

constexpr std::int64_t kMicros = 1000000;

std::string FormatMicros(std::int64_t micros) {
  const std::time_t seconds = static_cast<std::time_t>(micros / kMicros);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  const std::int64_t frac = micros % kMicros;
  return frac == 0 ? fmt::format("{}+00", buf) : fmt::format("{}.{:06d}+00", buf, frac);
}

// Every commit stamped after the server's clock at pg_backup_stop is past the backup's end.
// Older manifests kept the stop time in whole seconds: consistent from the next second.
std::int64_t ConsistentFromMicros(const repo::Manifest& m) {
  return m.stop_time_micros > 0 ? m.stop_time_micros : (m.stop_time + 1) * kMicros;
}

// The timeline (<= max_tli, newest first) whose archive holds `segno`.
std::optional<pg::TimelineId> HolderOf(const ArchiveView& archive, std::uint64_t segno,
                                       pg::TimelineId max_tli) {
  for (auto it = archive.segments.rbegin(); it != archive.segments.rend(); ++it) {
    if (it->first <= max_tli && it->second.contains(segno)) return it->first;
  }
  return std::nullopt;
}

struct Reach {
  pg::Lsn end;
  std::optional<std::int64_t> last_micros;
};

// How far recovery from `backup` gets on timeline `max_tli` without meeting a gap: the backup
// carries its own WAL up to its stop LSN, the archive continues from the stop segment on.
Reach ReachableEnd(const repo::Manifest& backup, const ArchiveView& archive,
                   pg::TimelineId max_tli) {
  const pg::Lsn stop = pg::Lsn::Parse(backup.stop_lsn);
  Reach reach{stop, std::nullopt};
  std::uint64_t segno = pg::SegmentNumber(stop);
  std::optional<std::pair<pg::TimelineId, std::uint64_t>> last;
  while (auto tli = HolderOf(archive, segno, max_tli)) {
    last = {*tli, segno};
    ++segno;
  }
  if (!last) return reach;
  reach.end = std::max(stop, pg::SegmentStart(last->second + 1));
  const std::set<std::uint64_t>& on_tli = archive.segments.at(last->first);
  const auto lt = archive.last_transaction_micros.find(last->first);
  if (*on_tli.rbegin() == last->second && lt != archive.last_transaction_micros.end()) {
    reach.last_micros = lt->second;
  }
  return reach;
}

std::set<pg::TimelineId> AllTimelines(const std::vector<repo::Manifest>& backups,
                                      const ArchiveView& archive) {
  std::set<pg::TimelineId> out;
  for (const auto& [tli, segs] : archive.segments) out.insert(tli);
  for (const repo::Manifest& m : backups) out.insert(m.timeline);
  return out;
}

pg::TimelineId TargetTimeline(const RecoveryTarget& target,
                              const std::vector<repo::Manifest>& backups,
                              const ArchiveView& archive) {
  if (target.timeline && target.timeline != "latest" && target.timeline != "current") {
    return static_cast<pg::TimelineId>(std::stoul(*target.timeline));
  }
  const std::set<pg::TimelineId> all = AllTimelines(backups, archive);
  return all.empty() ? 1 : *all.rbegin();
}

bool ReachesTarget(const repo::Manifest& m, const RecoveryTarget& target) {
  if (target.kind == TargetKind::kTime) return *target.unix_micros >= ConsistentFromMicros(m);
  if (target.lsn) return *target.lsn >= pg::Lsn::Parse(m.stop_lsn);
  return true;
}

std::string WindowsText(const std::vector<repo::Manifest>& backups, const ArchiveView& archive) {
  std::string text;
  for (const RecoverableWindow& w : ComputeWindows(backups, archive)) {
    text += "\n  " + DescribeWindow(w);
  }
  return text.empty() ? " none (no backup)" : text;
}

[[noreturn]] void RefuseTarget(const RecoveryTarget& target, std::string_view why,
                               const std::vector<repo::Manifest>& backups,
                               const ArchiveView& archive) {
  throw Error(ErrorCode::kTarget,
              fmt::format("recovery target {} is {}; recoverable window:{}", target.Describe(),
                          why, WindowsText(backups, archive)),
              "choose a target inside the window (dbmedic info shows it); a later target needs "
              "the missing WAL archived first (dbmedic check)");
}

}  // namespace

std::vector<RecoverableWindow> ComputeWindows(const std::vector<repo::Manifest>& backups,
                                              const ArchiveView& archive) {
  std::vector<RecoverableWindow> out;
  for (pg::TimelineId tli : AllTimelines(backups, archive)) {
    const auto oldest = std::find_if(backups.begin(), backups.end(),
                                     [&](const repo::Manifest& m) { return m.timeline <= tli; });
    if (oldest == backups.end()) continue;
    // The newest usable backup reaches at least as far as any older one.
    const auto newest = std::find_if(backups.rbegin(), backups.rend(),
                                     [&](const repo::Manifest& m) { return m.timeline <= tli; });
    const Reach reach = ReachableEnd(*newest, archive, tli);
    RecoverableWindow w;
    w.timeline = tli;
    w.oldest_backup = oldest->label;
    w.from_lsn = pg::Lsn::Parse(oldest->stop_lsn);
    w.from_micros = ConsistentFromMicros(*oldest);
    w.to_lsn = reach.end;
    w.to_micros = reach.last_micros;
    out.push_back(std::move(w));
  }
  return out;
}

std::string DescribeWindow(const RecoverableWindow& w) {
  return fmt::format("timeline {}: {} ({}, end of backup {}) .. {}{}", w.timeline,
                     w.from_lsn.ToString(), FormatMicros(w.from_micros), w.oldest_backup,
                     w.to_lsn.ToString(),
                     w.to_micros ? fmt::format(" (last transaction {})", FormatMicros(*w.to_micros))
                                 : std::string());
}

const repo::Manifest& ChooseBackup(const std::vector<repo::Manifest>& backups,
                                   const ArchiveView& archive, const RecoveryTarget& target,
                                   const std::optional<std::string>& label) {
  if (backups.empty()) {
    throw Error(ErrorCode::kNotFound, "the repository holds no backup to restore from",
                "take one first: dbmedic backup");
  }
  const pg::TimelineId tli = TargetTimeline(target, backups, archive);
  const repo::Manifest* chosen = nullptr;
  for (const repo::Manifest& m : backups) {
    if (label && m.label != *label) continue;
    if (m.timeline <= tli && ReachesTarget(m, target)) chosen = &m;
  }
  if (label && std::none_of(backups.begin(), backups.end(),
                            [&](const repo::Manifest& m) { return m.label == *label; })) {
    throw Error(ErrorCode::kNotFound, fmt::format("backup '{}' does not exist", *label),
                "list the backups with: dbmedic info");
  }
  if (!chosen) {
    RefuseTarget(target,
                 label ? fmt::format("before the end of backup {}", *label)
                       : std::string("before the end of the oldest backup"),
                 backups, archive);
  }
  const Reach reach = ReachableEnd(*chosen, archive, tli);
  if (target.lsn && *target.lsn > reach.end) {
    RefuseTarget(target, "beyond the end of the WAL archive", backups, archive);
  }
  if (target.kind == TargetKind::kTime && reach.last_micros &&
      *target.unix_micros > *reach.last_micros) {
    RefuseTarget(target, "after the last transaction in the WAL archive", backups, archive);
  }
  return *chosen;
}

}  // namespace dbmedic::restore
