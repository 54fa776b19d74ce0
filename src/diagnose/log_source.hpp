// Byte streams of server log files: plain files (a byte range of them, for parallel parsing),
// gzip (zlib streaming inflate, concatenated members too) and zstd (libzstd streaming). A LineReader cuts a stream into lines with one big buffer.
// One source per thread; not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace dbmedic::diagnose {

enum class Compression { kNone, kGzip, kZstd };

// By magic bytes (1f 8b: gzip, 28 b5 2f fd: zstd). Throws Error(kNotFound / kIo) naming the file.
Compression DetectCompression(const std::filesystem::path& path);

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `size` bytes; 0 at the end. Throws Error(kIo / kCorrupt) naming the file.
  virtual std::size_t Read(char* buffer, std::size_t size) = 0;
};

// The bytes [begin, end) of a plain file (end = UINT64_MAX: to the end).
std::unique_ptr<ByteSource> OpenFileRange(const std::filesystem::path& path, std::uint64_t begin,
                                          std::uint64_t end);
// The decompressed content of a whole file of any Compression.
std::unique_ptr<ByteSource> OpenLogFile(const std::filesystem::path& path);

class LineReader {
 public:
  explicit LineReader(ByteSource& source, std::size_t buffer_size = std::size_t{4} << 20);
  // The next line without its '\n' (and without a trailing '\r'); false at the end. The view
  // stays valid until the next call.
  bool Next(std::string_view& line);
  std::uint64_t bytes() const { return bytes_; }

 private:
  bool Fill();

  ByteSource& source_;
  std::string buffer_;
  std::size_t begin_ = 0;  // unread data is buffer_[begin_, end_)
  std::size_t end_ = 0;
  bool eof_ = false;
  std::uint64_t bytes_ = 0;
};

}  // namespace dbmedic::diagnose
