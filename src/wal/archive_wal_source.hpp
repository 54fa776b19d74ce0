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
  // Reads segment `name` into `raw` (`stored`: scratch for its compressed form).
  void Fetch(const std::string& name, std::string& stored, std::string& raw) const;
  void StartPrefetch(std::size_t index);

  const WalArchive& archive_;
  std::uint64_t segment_size_ = pg::kDefaultWalSegmentSize;
  pg::TimelineId timeline_ = 0;
  std::vector<pg::WalSegmentRef> segments_;
  std::map<std::string, ArchivedFile> files_;  // by PostgreSQL file name (with .partial)
  // Two sets of buffers that trade places: the prefetch fills the spare ones while the reader
  // uses the segment Load() returned last. Reused, they are faulted in once (a fresh 16 MiB
  // string costs more in page faults than decompressing into it: core/huge_buffer.hpp).
  std::optional<std::size_t> prefetch_index_;
  std::future<void> prefetch_;
  std::string current_;  // the segment Load() returned last
  std::string current_stored_;
  std::string spare_;    // the prefetched segment, once prefetch_ is ready
  std::string spare_stored_;
};

}  // namespace dbmedic::wal
