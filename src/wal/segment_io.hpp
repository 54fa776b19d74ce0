// The push path's I/O, made cheap because archive_command latency is what PostgreSQL waits for:
// a WAL file is mapped rather than read into a growing string (no copy, no realloc), and
// compressed into a buffer that is not zero-filled first. Profiling a 16 MiB push showed those
// copies and page faults as most of its CPU time (bench/RESULTS.md, PITR section).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string_view>

#include "repo/codec.hpp"

namespace dbmedic::wal {

// A whole file mapped read-only; unmapped by the destructor. Throws Error(kNotFound) when the
// file does not exist, Error(kIo) otherwise, naming it.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view content() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// Compressed content in the repository codec's format (what repo::Decompress reads back).
class CompressedBuffer {
 public:
  CompressedBuffer(const repo::CodecSettings& codec, std::string_view raw);
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

}  // namespace dbmedic::wal
