// The codec pipeline of the repository: SHA-256 of the raw content (OpenSSL), then
// compression (zstd with a level, lz4, or none); encryption will be a later stage. Checksums are
// always of the raw content, so they survive a change of compression.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dbmedic::repo {

enum class Compression { kNone, kZstd, kLz4 };

std::string_view CompressionName(Compression compression);     // "none", "zstd", "lz4"
std::optional<Compression> ParseCompression(std::string_view name);
std::string_view CompressionExtension(Compression compression);  // "", ".zst", ".lz4"

struct CodecSettings {
  Compression compression = Compression::kZstd;
  int level = 3;  // zstd level; lz4 always uses its fast mode
};

// Compresses one independent block (a chunk or a whole small file). Thread-safe.
std::string Compress(const CodecSettings& settings, std::string_view raw);
// Same, into `buffer` (grown as needed, never shrunk, so a worker reuses one buffer for every
// chunk instead of allocating and zero-filling megabytes each time). Returns the compressed
// bytes, a view into `buffer`.
std::string_view CompressInto(const CodecSettings& settings, std::string_view raw,
                              std::string& buffer);
// Inverse of Compress. `raw_size` is the size recorded in the manifest. Throws Error(kCorrupt)
// naming `what` if the data does not decode to exactly raw_size bytes.
std::string Decompress(Compression compression, std::string_view stored, std::uint64_t raw_size,
                       std::string_view what);
// Same, into `out` (resized to raw_size): a buffer reused across chunks is only zero-filled and
// faulted in once, not for every 8 MiB chunk.
void DecompressInto(Compression compression, std::string_view stored, std::uint64_t raw_size,
                    std::string_view what, std::string& out);

// Incremental SHA-256; Finish() returns lowercase hex.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  std::string Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view data);

}  // namespace dbmedic::repo
