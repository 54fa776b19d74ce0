#include "repo/codec.hpp"

#include <lz4.h>
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but kept on purpose:
// the first EVP digest of a process initialises the library (openssl.cnf, providers, method
// fetch), 3-7 ms measured here, paid by every `wal push` / `wal get` that PostgreSQL starts
// per WAL file. The low-level functions are the same OpenSSL code (SHA-NI where the CPU has
// it) without that set-up. These are integrity checksums; encryption still goes through EVP.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <zstd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/huge_buffer.hpp"

namespace dbmedic::repo {
namespace {

struct ZstdCctxDeleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct ZstdDctxDeleter {
  void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
};

// One context per worker thread: creating a zstd context costs more than a small file.
ZSTD_CCtx* ThreadCctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, ZstdCctxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDctxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

std::string CompressZstd(int level, std::string_view raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compressCCtx(ThreadCctx(), out.data(), out.size(), raw.data(), raw.size(), level);
  if (ZSTD_isError(n)) {
    throw Error(ErrorCode::kInternal, fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n)));
  }
  out.resize(n);
  return out;
}

std::string CompressLz4(std::string_view raw) {
  if (raw.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    throw Error(ErrorCode::kInternal, "lz4 block larger than LZ4_MAX_INPUT_SIZE");
  }
  const int raw_size = static_cast<int>(raw.size());
  std::string out(static_cast<size_t>(LZ4_compressBound(raw_size)), '\0');
  int n = LZ4_compress_default(raw.data(), out.data(), raw_size, static_cast<int>(out.size()));
  if (n <= 0 && raw_size > 0) throw Error(ErrorCode::kInternal, "lz4 compression failed");
  out.resize(static_cast<size_t>(n));
  return out;
}

Error Undecodable(std::string_view what, std::string_view why) {
  return Error(ErrorCode::kCorrupt, fmt::format("'{}' cannot be decompressed: {}", what, why),
               "the repository copy is damaged; run 'dbmedic verify' and take a new backup");
}

}  // namespace

std::string_view CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kNone: return "none";
    case Compression::kZstd: return "zstd";
    case Compression::kLz4: return "lz4";
  }
  return "none";
}

std::optional<Compression> ParseCompression(std::string_view name) {
  if (name == "none") return Compression::kNone;
  if (name == "zstd") return Compression::kZstd;
  if (name == "lz4") return Compression::kLz4;
  return std::nullopt;
}

std::string_view CompressionExtension(Compression compression) {
  switch (compression) {
    case Compression::kNone: return "";
    case Compression::kZstd: return ".zst";
    case Compression::kLz4: return ".lz4";
  }
  return "";
}

std::string Compress(const CodecSettings& settings, std::string_view raw) {
  switch (settings.compression) {
    case Compression::kNone: return std::string(raw);
    case Compression::kZstd: return CompressZstd(settings.level, raw);
    case Compression::kLz4: return CompressLz4(raw);
  }
  return std::string(raw);
}

std::string_view CompressInto(const CodecSettings& settings, std::string_view raw,
                              std::string& buffer) {
  if (settings.compression == Compression::kNone) return raw;
  if (settings.compression == Compression::kLz4) {
    buffer = CompressLz4(raw);
    return buffer;
  }
  const std::size_t bound = ZSTD_compressBound(raw.size());
  core::ReserveWithHugePages(buffer, bound);
  if (buffer.size() < bound) buffer.resize(bound);
  const size_t n = ZSTD_compressCCtx(ThreadCctx(), buffer.data(), buffer.size(), raw.data(),
                                     raw.size(), settings.level);
  if (ZSTD_isError(n)) {
    throw Error(ErrorCode::kInternal, fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n)));
  }
  return std::string_view(buffer.data(), n);
}

std::string Decompress(Compression compression, std::string_view stored, std::uint64_t raw_size,
                       std::string_view what) {
  std::string out;
  DecompressInto(compression, stored, raw_size, what, out);
  return out;
}

void DecompressInto(Compression compression, std::string_view stored, std::uint64_t raw_size,
                    std::string_view what, std::string& out) {
  if (compression == Compression::kNone) {
    if (stored.size() != raw_size) {
      throw Undecodable(what, fmt::format("{} bytes stored, {} expected", stored.size(), raw_size));
    }
    out.assign(stored);
    return;
  }
  core::ReserveWithHugePages(out, raw_size);
  out.resize(raw_size);
  if (compression == Compression::kZstd) {
    size_t n = ZSTD_decompressDCtx(ThreadDctx(), out.data(), out.size(), stored.data(), stored.size());
    if (ZSTD_isError(n)) throw Undecodable(what, ZSTD_getErrorName(n));
    if (n != raw_size) throw Undecodable(what, fmt::format("{} bytes decoded, {} expected", n, raw_size));
    return;
  }
  if (stored.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE) || raw_size > LZ4_MAX_INPUT_SIZE) {
    throw Undecodable(what, "block too large for lz4");
  }
  int n = LZ4_decompress_safe(stored.data(), out.data(), static_cast<int>(stored.size()),
                              static_cast<int>(out.size()));
  if (n < 0 || static_cast<std::uint64_t>(n) != raw_size) {
    throw Undecodable(what, fmt::format("lz4 decoded {} bytes, {} expected", n, raw_size));
  }
}

struct Sha256::Impl {
  SHA256_CTX ctx;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  if (SHA256_Init(&impl_->ctx) != 1) {
    throw Error(ErrorCode::kInternal, "unable to initialise SHA-256 (OpenSSL)");
  }
}

Sha256::~Sha256() = default;

void Sha256::Update(std::string_view data) {
  if (SHA256_Update(&impl_->ctx, data.data(), data.size()) != 1) {
    throw Error(ErrorCode::kInternal, "SHA-256 update failed (OpenSSL)");
  }
}

std::string Sha256::Finish() {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  if (SHA256_Final(digest, &impl_->ctx) != 1) {
    throw Error(ErrorCode::kInternal, "SHA-256 final failed (OpenSSL)");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return hex;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 sha;
  sha.Update(data);
  return sha.Finish();
}

}  // namespace dbmedic::repo
