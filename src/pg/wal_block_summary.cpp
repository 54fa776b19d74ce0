#include "pg/wal_block_summary.hpp"

#include <algorithm>
#include <exception>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "pg/wal_bytes.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_format.hpp"
#include "pg/wal_reader.hpp"

namespace dbmedic::pg {
namespace {

constexpr auto kXlogId = static_cast<std::uint8_t>(wal::Rmgr::kXlog);
constexpr auto kXactId = static_cast<std::uint8_t>(wal::Rmgr::kXact);
constexpr auto kSmgrId = static_cast<std::uint8_t>(wal::Rmgr::kSmgr);
constexpr auto kDbaseId = static_cast<std::uint8_t>(wal::Rmgr::kDbase);
constexpr auto kTblspcId = static_cast<std::uint8_t>(wal::Rmgr::kTblspc);

// catalog/pg_control.h and access/xlog_internal.h (xl_parameter_change.wal_level at offset 20,
// after five int fields); WAL_LEVEL_MINIMAL is 0.
constexpr std::uint8_t kXlogParameterChange = 0x60;
constexpr std::uint8_t kXlogEndOfRecovery = 0x90;
constexpr std::size_t kParameterChangeWalLevelOffset = 20;
constexpr std::int32_t kWalLevelReplica = 1;

void MarkUnusable(BlockSummary& summary, std::string why) {
  if (!summary.unusable) summary.unusable = std::move(why);
}

// Memory bound: past this many distinct blocks (4 bytes each, 256 MiB) so much of the cluster
// changed that reading every page costs about as much as reading the named ones.
constexpr std::uint64_t kMaxSummaryBlocks = 64ull << 20;
constexpr std::uint64_t kCheckEveryReferences = 1u << 20;

void EnforceMemoryBound(BlockSummary& summary) {
  std::uint64_t held = 0;
  for (auto& [rel, blocks] : summary.changed) {
    blocks.Compact();
    held += blocks.blocks().size();
  }
  if (held <= kMaxSummaryBlocks) return;
  MarkUnusable(summary, fmt::format("more than {} distinct blocks changed", kMaxSummaryBlocks));
  summary.changed.clear();
}

void AddXlogRecord(const WalRecord& record, BlockSummary& summary) {
  const std::uint8_t info = record.rmgr_info();
  if (info == kXlogEndOfRecovery) {
    MarkUnusable(summary, fmt::format("an end-of-recovery record at {} (timeline switch)",
                                      record.lsn.ToString()));
  } else if (info == kXlogParameterChange) {
    wal::ByteReader in(record.main_data, "parameter change record");
    in.Skip(kParameterChangeWalLevelOffset);
    if (in.Read<std::int32_t>() < kWalLevelReplica) {
      MarkUnusable(summary, fmt::format("wal_level was set to minimal at {} (changes made then "
                                        "are not in the WAL)",
                                        record.lsn.ToString()));
    }
  }
}

void AddSmgrRecord(const WalRecord& record, BlockSummary& summary) {
  if (auto created = DecodeSmgrCreate(record)) {
    summary.recreated.insert(created->rel);
  } else if (auto truncated = DecodeSmgrTruncate(record)) {
    summary.truncated.insert(truncated->rel);
  } else {
    MarkUnusable(summary, fmt::format("unknown storage record (info {:#04x}) at {}",
                                      record.info, record.lsn.ToString()));
  }
}

// Every database record (create by file copy, create by WAL log, drop) starts with db_id.
void AddDbaseRecord(const WalRecord& record, BlockSummary& summary) {
  wal::ByteReader in(record.main_data, "database record");
  summary.recreated_databases.insert(in.Read<std::uint32_t>());
}

}  // namespace

void BlockSet::Add(std::uint32_t block) {
  blocks_.push_back(block);
  // Fold the unsorted tail in once it outgrows the sorted part: memory stays within about
  // twice the distinct blocks, and the work is amortised O(log n) per block.
  if (blocks_.size() - sorted_ > std::max<std::size_t>(4096, sorted_)) Compact();
}

void BlockSet::Compact() {
  if (sorted_ == blocks_.size()) return;
  std::sort(blocks_.begin() + static_cast<std::ptrdiff_t>(sorted_), blocks_.end());
  std::inplace_merge(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(sorted_),
                     blocks_.end());
  blocks_.erase(std::unique(blocks_.begin(), blocks_.end()), blocks_.end());
  sorted_ = blocks_.size();
}

void AddRecordToSummary(const WalRecord& record, BlockSummary& summary) {
  ++summary.records;
  for (const WalBlockRef& b : record.blocks) {
    if (++summary.block_references % kCheckEveryReferences == 0) EnforceMemoryBound(summary);
    if (b.fork == 0) summary.changed[b.rnode].Add(b.block);
  }
  switch (record.rmid) {
    case kXlogId:
      AddXlogRecord(record, summary);
      break;
    case kSmgrId:
      AddSmgrRecord(record, summary);
      break;
    case kDbaseId:
      AddDbaseRecord(record, summary);
      break;
    case kTblspcId:
      MarkUnusable(summary, fmt::format("a tablespace was created or dropped at {}",
                                        record.lsn.ToString()));
      break;
    case kXactId:
      if (auto xact = DecodeXact(record)) {
        summary.recreated.insert(xact->dropped_files.begin(), xact->dropped_files.end());
      }
      break;
    default:
      break;
  }
}

namespace {

// The segments the range needs that the source lacks or holds on another timeline.
std::optional<std::string> CheckSegments(const WalSource& source, const BlockSummaryRange& range) {
  const std::uint64_t seg_size = source.segment_size();
  const std::uint64_t first = SegmentNumber(range.start, seg_size);
  const std::uint64_t last = SegmentNumber(range.end, seg_size);
  std::map<std::uint64_t, WalSegmentRef> by_segno;
  for (WalSegmentRef& ref : source.Segments()) by_segno.emplace(ref.segno, std::move(ref));
  for (std::uint64_t segno = first; segno <= last; ++segno) {
    auto it = by_segno.find(segno);
    if (it == by_segno.end()) {
      return fmt::format("WAL segment {} is not in {}",
                         WalSegmentName(range.timeline, segno, seg_size), source.Describe());
    }
    if (it->second.timeline != range.timeline) {
      return fmt::format("WAL segment {} is on timeline {}, not {} (timeline switch)",
                         it->second.name, it->second.timeline, range.timeline);
    }
  }
  return std::nullopt;
}

}  // namespace

namespace {

// Reads [start, end) of `source` into `summary` (the checks of the whole range are done).
void SummarizePart(WalSource& source, Lsn start, Lsn end,
                   std::optional<std::uint64_t> system_identifier, BlockSummary& summary) {
  try {
    WalReaderOptions options;
    options.start = start;
    options.end = end;
    options.system_identifier = system_identifier;
    WalReader reader(source, options);
    while (const WalRecord* record = reader.Next()) {
      AddRecordToSummary(*record, summary);
      if (summary.unusable) return;  // no need to read further
    }
    summary.segments = reader.segments_read();
    if (reader.stop().reason != WalStopReason::kEndLsn) {
      MarkUnusable(summary, fmt::format("the WAL ends before {}: {}", end.ToString(),
                                        reader.stop().detail));
    }
  } catch (const Error& e) {
    MarkUnusable(summary, fmt::format("the WAL could not be decoded: {}", e.what()));
  }
}

void MergeInto(BlockSummary& into, BlockSummary&& part) {
  if (part.unusable) MarkUnusable(into, std::move(*part.unusable));
  for (auto& [rel, blocks] : part.changed) {
    BlockSet& target = into.changed[rel];
    for (std::uint32_t b : blocks.blocks()) target.Add(b);
  }
  into.recreated.merge(part.recreated);
  into.truncated.merge(part.truncated);
  into.recreated_databases.merge(part.recreated_databases);
  into.records += part.records;
  into.block_references += part.block_references;
  into.segments += part.segments;
}

}  // namespace

BlockSummary SummarizeChangedBlocks(WalSource& source, const BlockSummaryRange& range) {
  BlockSummary summary;
  if (range.end < range.start) {
    summary.unusable = fmt::format("the WAL range {} .. {} is reversed", range.start.ToString(),
                                   range.end.ToString());
    return summary;
  }
  if (auto missing = CheckSegments(source, range)) {
    summary.unusable = std::move(missing);
    return summary;
  }
  SummarizePart(source, range.start, range.end, range.system_identifier, summary);
  if (summary.unusable) summary.changed.clear();
  for (auto& [rel, blocks] : summary.changed) blocks.Compact();
  return summary;
}

BlockSummary SummarizeChangedBlocks(const std::function<std::unique_ptr<WalSource>()>& make_source,
                                    const BlockSummaryRange& range, int jobs) {
  std::unique_ptr<WalSource> first_source = make_source();
  const std::uint64_t seg_size = first_source->segment_size();
  const std::uint64_t first = SegmentNumber(range.start, seg_size);
  const std::uint64_t count =
      range.end < range.start ? 0 : SegmentNumber(range.end, seg_size) - first + 1;
  const std::uint64_t parts = std::min<std::uint64_t>(std::max(jobs, 1), count);
  if (parts <= 1) return SummarizeChangedBlocks(*first_source, range);
  BlockSummary summary;
  if (auto missing = CheckSegments(*first_source, range)) {
    summary.unusable = std::move(missing);
    return summary;
  }
  // Part k reads the records that start in its segments (the last one it begins may continue
  // into the next part's first segment; that part skips its continuation).
  std::vector<BlockSummary> results(parts);
  std::vector<std::exception_ptr> errors(parts);
  std::vector<std::thread> threads;
  auto part_start = [&](std::uint64_t k) {
    return k == 0 ? range.start : SegmentStart(first + k * count / parts, seg_size);
  };
  for (std::uint64_t k = 0; k < parts; ++k) {
    threads.emplace_back([&, k] {
      try {
        std::unique_ptr<WalSource> own = k == 0 ? std::move(first_source) : make_source();
        const Lsn end = k + 1 == parts ? range.end : part_start(k + 1);
        SummarizePart(*own, part_start(k), end, range.system_identifier, results[k]);
      } catch (const Error& e) {
        MarkUnusable(results[k], fmt::format("the WAL could not be read: {}", e.what()));
      } catch (...) {
        errors[k] = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  for (BlockSummary& part : results) MergeInto(summary, std::move(part));
  EnforceMemoryBound(summary);
  if (summary.unusable) summary.changed.clear();
  for (auto& [rel, blocks] : summary.changed) blocks.Compact();
  return summary;
}

CombinedWalSource::CombinedWalSource(std::vector<std::unique_ptr<WalSource>> sources)
    : sources_(std::move(sources)) {
  if (sources_.empty()) throw Error(ErrorCode::kUsage, "a combined WAL source needs a source");
  segment_size_ = sources_.front()->segment_size();
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    if (sources_[i]->segment_size() != segment_size_) {
      throw Error(ErrorCode::kUsage,
                  fmt::format("{} has WAL segments of {} bytes, {} of {}",
                              sources_[i]->Describe(), sources_[i]->segment_size(),
                              sources_.front()->Describe(), segment_size_));
    }
    for (const WalSegmentRef& ref : sources_[i]->Segments()) owners_[ref.segno].push_back(i);
  }
}

std::vector<WalSegmentRef> CombinedWalSource::Segments() const {
  std::vector<WalSegmentRef> out;
  out.reserve(owners_.size());
  std::vector<std::map<std::uint64_t, WalSegmentRef>> listed(sources_.size());
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    for (WalSegmentRef& ref : sources_[i]->Segments()) listed[i].emplace(ref.segno, std::move(ref));
  }
  for (const auto& [segno, owners] : owners_) out.push_back(listed[owners.front()].at(segno));
  return out;
}

const std::vector<std::size_t>& CombinedWalSource::Owners(const WalSegmentRef& ref) const {
  auto it = owners_.find(ref.segno);
  if (it == owners_.end()) {
    throw Error(ErrorCode::kNotFound, fmt::format("WAL segment {} is not in {}", ref.name, Describe()));
  }
  return it->second;
}

// A segment listed in pg_wal may be recycled (renamed) by a checkpoint before it is read; the
// next source holding it (the archive) is then asked.
template <typename Access>
auto CombinedWalSource::FromFirstThatReads(const WalSegmentRef& ref, Access access) {
  const std::vector<std::size_t>& owners = Owners(ref);
  for (std::size_t k = 0;; ++k) {
    try {
      return access(*sources_[owners[k]]);
    } catch (const Error& e) {
      if (k + 1 == owners.size()) throw;
      spdlog::debug("WAL segment {}: {}; reading it from {}", ref.name, e.what(),
                    sources_[owners[k + 1]]->Describe());
    }
  }
}

void CombinedWalSource::Read(const WalSegmentRef& ref, std::vector<std::byte>& out) {
  FromFirstThatReads(ref, [&](WalSource& source) { source.Read(ref, out); });
}

std::span<const std::byte> CombinedWalSource::Load(const WalSegmentRef& ref) {
  return FromFirstThatReads(ref, [&](WalSource& source) { return source.Load(ref); });
}

std::string CombinedWalSource::Describe() const {
  std::string out;
  for (const auto& s : sources_) out += (out.empty() ? "" : ", then ") + s->Describe();
  return out;
}

}  // namespace dbmedic::pg
