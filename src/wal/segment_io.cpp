#include "wal/segment_io.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>
#include <zstd.h>

#include "core/error.hpp"

namespace dbmedic::wal {
namespace {

struct ZstdCctxDeleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};

}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      throw Error(ErrorCode::kNotFound, fmt::format("file '{}' does not exist", path.string()));
    }
    throw SystemError(errno, "open", path.string());
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw SystemError(err, "stat", path.string());
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw SystemError(err, "map", path.string());
    }
    data_ = static_cast<const char*>(p);
  }
  ::close(fd);  // the mapping stays valid
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

CompressedBuffer::CompressedBuffer(const repo::CodecSettings& codec, std::string_view raw) {
  if (codec.compression != repo::Compression::kZstd) {
    const std::string out = codec.compression == repo::Compression::kNone
                                ? std::string(raw)
                                : repo::Compress(codec, raw);
    data_ = std::make_unique_for_overwrite<char[]>(out.size());
    std::memcpy(data_.get(), out.data(), out.size());
    size_ = out.size();
    return;
  }
  const std::size_t bound = ZSTD_compressBound(raw.size());
  data_ = std::make_unique_for_overwrite<char[]>(bound);
  std::unique_ptr<ZSTD_CCtx, ZstdCctxDeleter> ctx(ZSTD_createCCtx());
  const std::size_t n = ZSTD_compressCCtx(ctx.get(), data_.get(), bound, raw.data(), raw.size(),
                                          codec.level);
  if (ZSTD_isError(n)) {
    throw Error(ErrorCode::kInternal,
                fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n)));
  }
  size_ = n;
}

}  // namespace dbmedic::wal
