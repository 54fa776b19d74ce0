#include "wal/segment_pipeline.hpp"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_c_stableInBuffer / ZSTD_c_stableOutBuffer (zstd >= 1.5)
#include <zstd.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cerrno>
#include <exception>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"
#include "storage/fd.hpp"

namespace dbmedic::wal {
namespace {

constexpr std::size_t kPiece = std::size_t{512} << 10;
constexpr std::uintmax_t kMinimumSize = std::uintmax_t{1} << 20;

struct ZstdCctxDeleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};

// zstd's context and workspace (~1.3 MB for a 16 MiB segment at level 3) in huge pages: from
// malloc they are ~330 freshly faulted 4 kB pages, ~4 ms here on the compressing thread's path.
// Memory is handed out once and never reused (a context allocates a few blocks when it starts);
// what does not fit comes from malloc.
class HugePageArena {
 public:
  explicit HugePageArena(std::size_t size) : buffer_(size) {}
  HugePageArena(const HugePageArena&) = delete;
  HugePageArena& operator=(const HugePageArena&) = delete;

  ZSTD_customMem Allocator() { return {&Allocate, &Free, this}; }

 private:
  static void* Allocate(void* self, std::size_t size) {
    auto* arena = static_cast<HugePageArena*>(self);
    const std::size_t start = (arena->used_ + 63) & ~std::size_t{63};
    if (start + size > arena->buffer_.capacity()) return std::malloc(size);
    arena->used_ = start + size;
    return arena->buffer_.data() + start;
  }
  static void Free(void* self, void* p) {
    auto* arena = static_cast<HugePageArena*>(self);
    const char* at = static_cast<const char*>(p);
    const bool inside = at >= arena->buffer_.data() &&
                        at < arena->buffer_.data() + arena->buffer_.capacity();
    if (!inside) std::free(p);  // arena memory goes with the arena
  }

  core::HugePageBuffer buffer_;
  std::size_t used_ = 0;
};

// How far the reading thread has got, for the hashing thread to follow.
class ReadProgress {
 public:
  void Publish(std::size_t filled) {
    filled_.store(filled, std::memory_order_release);
    filled_.notify_one();
  }
  void Fail() { Publish(kFailed); }

  // Blocks until more than `hashed` bytes are in; nullopt once the reader has failed.
  std::optional<std::size_t> WaitBeyond(std::size_t hashed) {
    filled_.wait(hashed, std::memory_order_acquire);
    const std::size_t filled = filled_.load(std::memory_order_acquire);
    if (filled == kFailed) return std::nullopt;
    return filled;
  }

 private:
  static constexpr std::size_t kFailed = static_cast<std::size_t>(-1);
  std::atomic<std::size_t> filled_{0};
};

// One zstd frame over a buffer that fills up piece by piece. With ZSTD_c_stableInBuffer zstd
// reads the pieces where they lie; a libzstd without it gets the whole buffer in one call at
// the end (the same frame format either way, what repo::Decompress reads).
class GrowingInputCompressor {
 public:
  GrowingInputCompressor(int level, std::size_t total, char* out, std::size_t out_capacity)
      : arena_(kArenaSize),
        ctx_(ZSTD_createCCtx_advanced(arena_.Allocator())),
        total_(total),
        out_{out, out_capacity, 0} {
    if (!ctx_) throw Error(ErrorCode::kInternal, "zstd: unable to create a compression context");
    Check(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_compressionLevel, level));
    Check(ZSTD_CCtx_setPledgedSrcSize(ctx_.get(), total));
    streaming_ = !ZSTD_isError(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_stableInBuffer, 1)) &&
                 !ZSTD_isError(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_stableOutBuffer, 1));
  }

  // `base[0, available)` is in; compresses what it can (all of it when available == total).
  void Feed(const char* base, std::size_t available) {
    const bool last = available == total_;
    if (!streaming_ && !last) return;
    in_.src = base;
    in_.size = available;
    const ZSTD_EndDirective directive = last ? ZSTD_e_end : ZSTD_e_continue;
    for (;;) {
      const std::size_t remaining = Check(ZSTD_compressStream2(ctx_.get(), &out_, &in_, directive));
      if (!last ? in_.pos == in_.size : remaining == 0) return;
    }
  }

  std::size_t written() const { return out_.pos; }

 private:
  static std::size_t Check(std::size_t result) {
    if (ZSTD_isError(result)) {
      throw Error(ErrorCode::kInternal,
                  fmt::format("zstd compression failed: {}", ZSTD_getErrorName(result)));
    }
    return result;
  }

  static constexpr std::size_t kArenaSize = std::size_t{4} << 20;

  HugePageArena arena_;  // before ctx_: outlives it
  std::unique_ptr<ZSTD_CCtx, ZstdCctxDeleter> ctx_;
  std::size_t total_;
  bool streaming_ = false;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  ZSTD_outBuffer out_;
};

storage::Fd OpenSegment(const std::filesystem::path& path) {
  storage::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      throw Error(ErrorCode::kNotFound, fmt::format("file '{}' does not exist", path.string()));
    }
    throw SystemError(errno, "open", path.string());
  }
  return fd;
}

std::size_t ReadPiece(int fd, char* into, std::size_t want, std::size_t offset,
                      const std::filesystem::path& path) {
  for (;;) {
    const ssize_t n = ::pread(fd, into, want, static_cast<off_t>(offset));
    if (n > 0) return static_cast<std::size_t>(n);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(errno, "read", path.string());
    throw Error(ErrorCode::kIo,
                fmt::format("'{}' shrank to {} bytes while it was being read", path.string(),
                            offset),
                "a WAL file must not change while it is archived: check that nothing else "
                "writes into pg_wal");
  }
}

}  // namespace

bool PipelinedSegment::Applies(const repo::CodecSettings& codec, std::uintmax_t size) {
  return codec.compression == repo::Compression::kZstd && size >= kMinimumSize &&
         core::HugePageBuffer::HugePagesAvailable();
}

PipelinedSegment::PipelinedSegment(const std::filesystem::path& path,
                                   const repo::CodecSettings& codec) {
  const storage::Fd fd = OpenSegment(path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw SystemError(errno, "stat", path.string());
  size_ = static_cast<std::size_t>(st.st_size);
  char* raw = raw_.Reserve(size_);
  char* out = stored_.Reserve(ZSTD_compressBound(size_));

  ReadProgress progress;
  std::exception_ptr reader_error;
  std::jthread reader([&] {
    try {
      GrowingInputCompressor zstd(codec.level, size_, out, stored_.capacity());
      std::size_t filled = 0;
      while (filled < size_) {
        filled += ReadPiece(fd.get(), raw + filled, std::min(kPiece, size_ - filled), filled, path);
        progress.Publish(filled);
        zstd.Feed(raw, filled);
      }
      if (size_ == 0) zstd.Feed(raw, 0);
      stored_size_ = zstd.written();
    } catch (...) {
      reader_error = std::current_exception();
      progress.Fail();
    }
  });
  repo::Sha256 sha;
  std::size_t hashed = 0;
  while (hashed < size_) {
    const std::optional<std::size_t> filled = progress.WaitBeyond(hashed);
    if (!filled) break;
    sha.Update(content().substr(hashed, *filled - hashed));
    hashed = *filled;
  }
  reader.join();
  if (reader_error) std::rethrow_exception(reader_error);
  sha256_ = sha.Finish();
}

}  // namespace dbmedic::wal
