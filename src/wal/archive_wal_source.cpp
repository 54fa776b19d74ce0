#include "wal/archive_wal_source.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::wal {
namespace {

constexpr std::string_view kPartialSuffix = ".partial";

std::string BaseName(const std::string& name) {
  return name.ends_with(kPartialSuffix) ? name.substr(0, name.size() - kPartialSuffix.size())
                                        : name;
}

// A complete segment's raw size is the cluster's wal_segment_size.
std::uint64_t SegmentSizeOf(const std::vector<ArchivedFile>& files) {
  for (const auto& f : files) {
    if (pg::IsWalSegmentName(f.name) && f.raw_size > 0) return f.raw_size;
  }
  return pg::kDefaultWalSegmentSize;
}

}  // namespace

ArchiveWalSource::ArchiveWalSource(const WalArchive& archive,
                                   std::optional<pg::TimelineId> timeline)
    : archive_(archive) {
  const std::vector<ArchivedFile> files = archive_.List();
  segment_size_ = SegmentSizeOf(files);
  // segno -> timelines that have it, complete segments preferred over .partial ones.
  std::map<std::uint64_t, std::set<pg::TimelineId>> by_segno;
  pg::TimelineId highest = 0;
  for (const auto& f : files) {
    const std::string base = BaseName(f.name);
    auto parsed = pg::ParseWalSegmentName(base, segment_size_);
    if (!parsed) continue;
    auto [it, fresh] = files_.try_emplace(base, f);
    if (!fresh && it->second.name.ends_with(kPartialSuffix)) it->second = f;
    by_segno[parsed->segno].insert(parsed->timeline);
    highest = std::max(highest, parsed->timeline);
  }
  if (by_segno.empty()) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("the WAL archive in {} holds no WAL segment",
                            archive_.repository().storage().Describe("archive")),
                "set archive_command to 'dbmedic wal push %p' or run 'dbmedic wal stream', "
                "then check with 'dbmedic check'");
  }
  timeline_ = timeline.value_or(highest);

  std::vector<pg::TimelineHistoryEntry> history;
  bool have_history = false;
  if (timeline_ > 1) {
    const std::string history_name = fmt::format("{:08X}.history", timeline_);
    if (auto h = archive_.Find(history_name)) {
      history = pg::ParseTimelineHistory(archive_.Read(*h));
      have_history = true;
    }
  }
  for (const auto& [segno, timelines] : by_segno) {
    pg::TimelineId chosen = 0;
    if (have_history) {
      pg::TimelineId want = pg::TimelineForSegment(segno, segment_size_, history, timeline_);
      if (timelines.contains(want)) chosen = want;
    } else {
      for (pg::TimelineId t : timelines) {
        if (t <= timeline_) chosen = t;
      }
    }
    if (chosen != 0) {
      segments_.push_back({chosen, segno, pg::WalSegmentName(chosen, segno, segment_size_)});
    }
  }
}

ArchiveWalSource::~ArchiveWalSource() {
  if (prefetch_.valid()) prefetch_.wait();
}

void ArchiveWalSource::Fetch(const std::string& name, std::string& stored, std::string& raw) const {
  auto it = files_.find(name);
  if (it == files_.end()) {
    throw Error(ErrorCode::kNotFound, fmt::format("WAL segment {} is not in the archive", name));
  }
  archive_.ReadInto(it->second, stored, raw);
}

void ArchiveWalSource::StartPrefetch(std::size_t index) {
  if (prefetch_.valid()) prefetch_.wait();
  prefetch_index_.reset();
  if (index >= segments_.size()) return;
  prefetch_index_ = index;
  prefetch_ = std::async(std::launch::async, [this, name = segments_[index].name] {
    Fetch(name, spare_stored_, spare_);
  });
}

void ArchiveWalSource::Read(const pg::WalSegmentRef& ref, std::vector<std::byte>& out) {
  std::span<const std::byte> bytes = Load(ref);
  out.assign(bytes.begin(), bytes.end());
}

std::span<const std::byte> ArchiveWalSource::Load(const pg::WalSegmentRef& ref) {
  auto pos = std::find_if(segments_.begin(), segments_.end(),
                          [&](const pg::WalSegmentRef& s) { return s.name == ref.name; });
  const std::size_t index = static_cast<std::size_t>(pos - segments_.begin());
  // At most one fetch runs at a time (the archive is not shared between threads): take the
  // prefetched segment when it is the one asked for, else let the stray prefetch finish first.
  bool fetched = false;
  if (prefetch_.valid()) {
    const bool ours = prefetch_index_ == index;
    prefetch_index_.reset();
    std::future<void> done = std::move(prefetch_);
    if (ours) {
      done.get();  // rethrows what the fetch threw
      std::swap(current_, spare_);
      fetched = true;
    } else {
      done.wait();
    }
  }
  if (!fetched) Fetch(ref.name, current_stored_, current_);
  StartPrefetch(index + 1);
  return std::as_bytes(std::span<const char>(current_.data(), current_.size()));
}

std::string ArchiveWalSource::Describe() const {
  return fmt::format("WAL archive {}", archive_.repository().storage().Describe("archive"));
}

}  // namespace dbmedic::wal
