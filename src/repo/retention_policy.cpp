#include "repo/retention_policy.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::repo {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

void CheckPolicy(const RetentionPolicy& policy) {
  if (!policy.keep_full && !policy.keep_days) {
    throw Error(ErrorCode::kUsage, "no retention policy: nothing says which backups to keep",
                "give --keep-full N and/or --keep-days D (or retention.keep_full / "
                "retention.keep_days in the config file)");
  }
  if (policy.keep_full && *policy.keep_full < 1) {
    throw Error(ErrorCode::kUsage,
                fmt::format("keep-full must be at least 1, not {}", *policy.keep_full),
                "the newest full backup is always kept");
  }
  if (policy.keep_days && *policy.keep_days < 1) {
    throw Error(ErrorCode::kUsage,
                fmt::format("keep-days must be at least 1, not {}", *policy.keep_days));
  }
}

using Reasons = std::map<std::string, std::vector<RetainReason>>;

void KeepFull(const std::vector<BackupSummary>& sorted, int keep_full, Reasons& keep) {
  // Walk back from the newest: everything down to the N-th full backup is retained.
  int fulls = 0;
  for (auto it = sorted.rbegin(); it != sorted.rend() && fulls < keep_full; ++it) {
    keep[it->label].push_back(RetainReason::kKeepFull);
    if (it->type == "full") ++fulls;
  }
}

void KeepDays(const std::vector<BackupSummary>& sorted, int keep_days, std::int64_t now,
              Reasons& keep) {
  const std::int64_t cutoff = now - std::int64_t{keep_days} * kSecondsPerDay;
  const BackupSummary* window_start = nullptr;
  for (const BackupSummary& b : sorted) {
    if (b.stop_time >= cutoff) {
      keep[b.label].push_back(RetainReason::kKeepDays);
    } else if (!window_start || b.stop_time >= window_start->stop_time) {
      window_start = &b;
    }
  }
  if (window_start) keep[window_start->label].push_back(RetainReason::kWindowStart);
}

// Adds the reference chain of every retained backup (a chain is restored whole).
void KeepReferences(const std::vector<BackupSummary>& sorted, Reasons& keep) {
  std::map<std::string, const BackupSummary*> by_label;
  for (const BackupSummary& b : sorted) by_label[b.label] = &b;
  std::vector<std::string> todo;
  for (const auto& [label, reasons] : keep) todo.push_back(label);
  while (!todo.empty()) {
    const std::string label = todo.back();
    todo.pop_back();
    const auto it = by_label.find(label);
    if (it == by_label.end() || it->second->reference.empty()) continue;
    const std::string& ref = it->second->reference;
    auto& reasons = keep[ref];
    if (std::find(reasons.begin(), reasons.end(), RetainReason::kReference) == reasons.end()) {
      reasons.push_back(RetainReason::kReference);
      todo.push_back(ref);
    }
  }
}

// Segment number and timeline a WAL file's name starts with; nullopt for .history files.
std::optional<pg::ParsedWalName> SegmentOf(const std::string& name) {
  if (name.size() < 24) return std::nullopt;
  if (name.size() > 24 && name[24] != '.') return std::nullopt;
  if (name.ends_with(".history")) return std::nullopt;
  return pg::ParseWalSegmentName(std::string_view(name).substr(0, 24));
}

bool WalNeeded(const pg::ParsedWalName& seg, const std::vector<const BackupSummary*>& retained) {
  for (const BackupSummary* b : retained) {
    if (b->timeline <= seg.timeline && pg::SegmentNumber(b->start_lsn) <= seg.segno) return true;
  }
  return false;
}

}  // namespace

std::string_view RetainReasonName(RetainReason reason) {
  switch (reason) {
    case RetainReason::kKeepFull: return "keep-full";
    case RetainReason::kKeepDays: return "keep-days";
    case RetainReason::kWindowStart: return "start of the keep-days window";
    case RetainReason::kReference: return "reference of a retained backup";
    case RetainReason::kNewest: return "newest backup";
  }
  return "?";
}

ExpirePlan PlanExpire(const std::vector<BackupSummary>& backups,
                      const std::vector<WalObject>& wal, const RetentionPolicy& policy,
                      std::int64_t now) {
  CheckPolicy(policy);
  std::vector<BackupSummary> sorted = backups;
  std::sort(sorted.begin(), sorted.end(),
            [](const BackupSummary& a, const BackupSummary& b) { return a.label < b.label; });
  Reasons keep;
  if (policy.keep_full) KeepFull(sorted, *policy.keep_full, keep);
  if (policy.keep_days) KeepDays(sorted, *policy.keep_days, now, keep);
  if (!sorted.empty()) keep[sorted.back().label].push_back(RetainReason::kNewest);
  KeepReferences(sorted, keep);

  ExpirePlan plan;
  std::vector<const BackupSummary*> retained;
  for (const BackupSummary& b : sorted) {
    const auto it = keep.find(b.label);
    if (it == keep.end()) {
      plan.expired_backups.push_back(b.label);
      continue;
    }
    plan.retained.push_back({b.label, it->second});
    retained.push_back(&b);
  }
  if (retained.empty()) return plan;  // no backup: the archive is all there is, keep it

  const BackupSummary* oldest = retained.front();
  for (const BackupSummary* b : retained) {
    if (b->start_lsn < oldest->start_lsn) oldest = b;
  }
  plan.wal_kept_from = pg::WalSegmentName(oldest->timeline, pg::SegmentNumber(oldest->start_lsn));
  for (const WalObject& file : wal) {
    const std::optional<pg::ParsedWalName> seg = SegmentOf(file.name);
    if (!seg || WalNeeded(*seg, retained)) continue;
    plan.expired_wal.push_back(file);
    plan.expired_wal_bytes += file.stored_size;
  }
  std::sort(plan.expired_wal.begin(), plan.expired_wal.end(),
            [](const WalObject& a, const WalObject& b) { return a.name < b.name; });
  return plan;
}

}  // namespace dbmedic::repo
