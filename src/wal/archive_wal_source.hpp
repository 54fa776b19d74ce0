// The WAL archive of a repository as a source for the WAL decoder (incidents, wal-scan, undo):
// segments are listed from the archive's object names, decompressed and verified (SHA-256) as
// the reader asks for them, while the next one is already being fetched on another thread so
// that decoding does not wait on decompression.
//
// Timelines are followed as recovery would: the chosen timeline's .history file (from the
// archive) says which ancestor timeline covers each segment. A segment that only exists as a
// streamed `.partial` file is read from it (the reader stops where it ends).
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pg/wal_source.hpp"
#include "wal/archive.hpp"

namespace dbmedic::wal {

class ArchiveWalSource final : public pg::WalSource {
 public:
  // `timeline`: follow this one (default: the highest timeline in the archive). Throws
  // Error(kNotFound) when the archive holds no segment (hint: archive_command / wal stream).
  explicit ArchiveWalSource(const WalArchive& archive,
                            std::optional<pg::TimelineId> timeline = std::nullopt);
  ~ArchiveWalSource() override;

  std::uint64_t segment_size() const override { return segment_size_; }
  std::vector<pg::WalSegmentRef> Segments() const override { return segments_; }
  void Read(const pg::WalSegmentRef& ref, std::vector<std::byte>& out) override;
  std::span<const std::byte> Load(const pg::WalSegmentRef& ref) override;
  std::string Describe() const override;
  pg::TimelineId timeline() const { return timeline_; }

 private:
  std::string Fetch(const std::string& name) const;
  void StartPrefetch(std::size_t index);

  const WalArchive& archive_;
  std::uint64_t segment_size_ = pg::kDefaultWalSegmentSize;
  pg::TimelineId timeline_ = 0;
  std::vector<pg::WalSegmentRef> segments_;
  std::map<std::string, ArchivedFile> files_;  // by PostgreSQL file name (with .partial)
  std::optional<std::size_t> prefetch_index_;
  std::future<std::string> prefetch_;
  std::string current_;  // the segment Load() returned last
};

}  // namespace dbmedic::wal
