// A WAL segment read, hashed and compressed in one pass, for `wal push`.
//
// The push used to map the segment and hash the mapping on one thread while a second compressed
// it. Measured on these VMs (bench/RESULTS.md, push latency, session 6): the first pass over a
// freshly mapped 16 MiB of page cache costs ~15 ms even with MAP_POPULATE, and the two threads
// taking that cost at once finished after ~35 ms, three times the ~11 ms SHA-256 itself needs.
// Here the compressing thread reads the segment in 512 KiB pieces with pread() into one
// huge-page buffer (~5 ms for 16 MiB), compresses each piece as soon as it is in (zstd reads
// the buffer in place: ZSTD_c_stableInBuffer, no copy into its own window), and this thread
// hashes each piece while it is still in the CPU cache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/huge_buffer.hpp"
#include "repo/codec.hpp"

namespace dbmedic::wal {

class PipelinedSegment {
 public:
  // Whether a file of `size` bytes is pushed this way: zstd compression, files of at least
  // 1 MiB (history and backup-label files are small), and huge pages available (without them
  // the buffer would fault in 4 kB pages and cost more than the mapping it replaces).
  static bool Applies(const repo::CodecSettings& codec, std::uintmax_t size);

  // Reads, hashes and compresses `path`. Throws Error(kNotFound) when it does not exist,
  // SystemError when it cannot be read, Error(kIo) when it shrinks while being read.
  PipelinedSegment(const std::filesystem::path& path, const repo::CodecSettings& codec);

  std::string_view content() const { return {raw_.data(), size_}; }
  const std::string& sha256() const { return sha256_; }
  std::string_view stored() const { return {stored_.data(), stored_size_}; }

 private:
  core::HugePageBuffer raw_;
  core::HugePageBuffer stored_;
  std::size_t size_ = 0;
  std::size_t stored_size_ = 0;
  std::string sha256_;
};

}  // namespace dbmedic::wal
