#include "diagnose/log_source.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include "core/error.hpp"

namespace dbmedic::diagnose {
namespace {

namespace fs = std::filesystem;

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() noexcept {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Fd OpenForRead(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      throw Error(ErrorCode::kNotFound, fmt::format("log file '{}' does not exist", path.string()),
                  "check the path; PostgreSQL writes logs under log_directory");
    }
    throw SystemError(errno, "open log file", path.string());
  }
  return Fd(fd);
}

class FileRangeSource : public ByteSource {
 public:
  FileRangeSource(const fs::path& path, std::uint64_t begin, std::uint64_t end)
      : path_(path), fd_(OpenForRead(path)), pos_(begin), end_(end) {}

  std::size_t Read(char* buffer, std::size_t size) override {
    if (pos_ >= end_) return 0;
    if (end_ - pos_ < size) size = static_cast<std::size_t>(end_ - pos_);
    for (;;) {
      ssize_t n = ::pread(fd_.get(), buffer, size, static_cast<off_t>(pos_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw SystemError(errno, "read log file", path_.string());
      pos_ += static_cast<std::uint64_t>(n);
      if (n == 0) end_ = pos_;
      return static_cast<std::size_t>(n);
    }
  }

 private:
  fs::path path_;
  Fd fd_;
  std::uint64_t pos_;
  std::uint64_t end_;
};

struct DStreamDeleter {
  void operator()(ZSTD_DStream* s) const noexcept { ZSTD_freeDStream(s); }
};

class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(const fs::path& path)
      : path_(path), file_(path, 0, UINT64_MAX), stream_(ZSTD_createDStream()) {
    if (!stream_) throw Error(ErrorCode::kInternal, "unable to allocate a zstd stream");
    ZSTD_initDStream(stream_.get());
    in_buffer_.resize(ZSTD_DStreamInSize() * 8);
  }

  std::size_t Read(char* buffer, std::size_t size) override {
    ZSTD_outBuffer out{buffer, size, 0};
    while (out.pos == 0) {
      if (in_.pos == in_.size) {
        std::size_t n = file_.Read(in_buffer_.data(), in_buffer_.size());
        if (n == 0) {
          if (!frame_done_) {
            throw Error(ErrorCode::kCorrupt,
                        fmt::format("zstd log file '{}' is truncated", path_.string()),
                        "the file ends inside a compressed frame; check how it was copied");
          }
          return 0;
        }
        in_ = ZSTD_inBuffer{in_buffer_.data(), n, 0};
      }
      std::size_t rc = ZSTD_decompressStream(stream_.get(), &out, &in_);
      if (ZSTD_isError(rc)) {
        throw Error(ErrorCode::kCorrupt,
                    fmt::format("unable to decompress zstd log file '{}': {}", path_.string(),
                                ZSTD_getErrorName(rc)),
                    "check the file with `zstd -t`");
      }
      frame_done_ = rc == 0;
    }
    return out.pos;
  }

 private:
  fs::path path_;
  FileRangeSource file_;
  std::unique_ptr<ZSTD_DStream, DStreamDeleter> stream_;
  std::vector<char> in_buffer_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  bool frame_done_ = true;
};

// gzip through zlib's streaming inflate. Concatenated members (`cat a.gz b.gz`, what logrotate
// and some shippers produce) are read one after the other, as `gzip -dc` does.
class GzipSource : public ByteSource {
 public:
  explicit GzipSource(const fs::path& path)
      : path_(path), file_(path, 0, UINT64_MAX), in_buffer_(std::size_t{1} << 18) {
    // 16 + MAX_WBITS: expect the gzip wrapper (header and CRC-32 trailer), not raw zlib.
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) {
      throw Error(ErrorCode::kInternal, "unable to allocate a zlib stream");
    }
  }
  ~GzipSource() noexcept override { inflateEnd(&z_); }
  GzipSource(const GzipSource&) = delete;  // z_ points into this object's buffers
  GzipSource& operator=(const GzipSource&) = delete;

  std::size_t Read(char* buffer, std::size_t size) override {
    const auto want = static_cast<uInt>(std::min<std::size_t>(size, UINT32_MAX));
    z_.next_out = reinterpret_cast<Bytef*>(buffer);
    z_.avail_out = want;
    while (z_.avail_out == want) {  // until some output, or the end
      if (z_.avail_in == 0 && !Refill()) {
        if (!member_done_) {
          throw Error(ErrorCode::kCorrupt,
                      fmt::format("gzip log file '{}' is truncated", path_.string()),
                      "the file ends inside a compressed member; check how it was copied");
        }
        break;
      }
      if (member_done_) {  // another member follows the previous one's trailer
        inflateReset(&z_);
        member_done_ = false;
      }
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_done_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw Error(ErrorCode::kCorrupt,
                    fmt::format("unable to decompress gzip log file '{}': {}", path_.string(),
                                z_.msg ? z_.msg : "invalid data"),
                    "check the file with `gzip -t`");
      }
    }
    return want - z_.avail_out;
  }

 private:
  bool Refill() {
    std::size_t n = file_.Read(in_buffer_.data(), in_buffer_.size());
    z_.next_in = reinterpret_cast<Bytef*>(in_buffer_.data());
    z_.avail_in = static_cast<uInt>(n);
    return n > 0;
  }

  fs::path path_;
  FileRangeSource file_;
  std::vector<char> in_buffer_;
  z_stream z_{};  // initialised by the constructor, ended by the destructor
  bool member_done_ = false;
};

}  // namespace

Compression DetectCompression(const fs::path& path) {
  Fd fd = OpenForRead(path);
  unsigned char magic[4] = {0, 0, 0, 0};
  ssize_t n = ::pread(fd.get(), magic, sizeof magic, 0);
  if (n < 0) throw SystemError(errno, "read log file", path.string());
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return Compression::kGzip;
  if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) {
    return Compression::kZstd;
  }
  return Compression::kNone;
}

std::unique_ptr<ByteSource> OpenFileRange(const fs::path& path, std::uint64_t begin,
                                          std::uint64_t end) {
  return std::make_unique<FileRangeSource>(path, begin, end);
}

std::unique_ptr<ByteSource> OpenLogFile(const fs::path& path) {
  switch (DetectCompression(path)) {
    case Compression::kGzip: return std::make_unique<GzipSource>(path);
    case Compression::kZstd: return std::make_unique<ZstdSource>(path);
    case Compression::kNone: break;
  }
  return OpenFileRange(path, 0, UINT64_MAX);
}

LineReader::LineReader(ByteSource& source, std::size_t buffer_size) : source_(source) {
  buffer_.resize(buffer_size);
}

bool LineReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {  // move the partial line to the front
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // a line longer than the buffer
  std::size_t n = source_.Read(buffer_.data() + end_, buffer_.size() - end_);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  bytes_ += n;
  return true;
}

bool LineReader::Next(std::string_view& line) {
  std::size_t scan_from = begin_;
  for (;;) {
    const char* data = buffer_.data();
    const void* nl = std::memchr(data + scan_from, '\n', end_ - scan_from);
    if (nl != nullptr) {
      std::size_t pos = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
      std::size_t len = pos - begin_;
      if (len > 0 && data[pos - 1] == '\r') --len;
      line = std::string_view(data + begin_, len);
      begin_ = pos + 1;
      return true;
    }
    std::size_t scanned = end_ - begin_;
    if (!Fill()) {
      if (begin_ == end_) return false;
      line = std::string_view(buffer_.data() + begin_, end_ - begin_);  // last line, no '\n'
      begin_ = end_;
      return true;
    }
    scan_from = begin_ + scanned;
  }
}

}  // namespace dbmedic::diagnose
