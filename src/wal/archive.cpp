#include "wal/archive.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/huge_buffer.hpp"
#include "wal/segment_io.hpp"
#include "wal/segment_pipeline.hpp"

namespace dbmedic::wal {
namespace {

constexpr std::string_view kArchiveRoot = "archive";

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); });
}

std::optional<repo::Compression> CompressionOfExtension(std::string_view& stem) {
  for (repo::Compression c : {repo::Compression::kZstd, repo::Compression::kLz4}) {
    const std::string_view ext = repo::CompressionExtension(c);
    if (stem.size() > ext.size() && stem.ends_with(ext)) {
      stem.remove_suffix(ext.size());
      return c;
    }
  }
  return repo::Compression::kNone;
}

}  // namespace

void WriteThroughRename(const std::filesystem::path& dest, std::string_view data) {
  const std::filesystem::path temp =
      dest.parent_path() / fmt::format(".{}.dbmedic-get.{}", dest.filename().string(), ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) throw SystemError(errno, "create", temp.string());
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      throw SystemError(err, "write", temp.string());
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw SystemError(err, "close", temp.string());
  }
  if (::rename(temp.c_str(), dest.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw SystemError(err, "rename into", dest.string());
  }
}

namespace {

// XLogLongPageHeaderData of PostgreSQL 15: xlp_info at offset 2, xlp_sysid at offset 24.
constexpr std::uint16_t kXlpLongHeader = 0x0002;
constexpr std::size_t kSysidOffset = 24;

std::optional<std::uint64_t> SegmentSystemIdentifier(std::string_view content) {
  if (content.size() < kSysidOffset + sizeof(std::uint64_t)) return std::nullopt;
  std::uint16_t info = 0;
  std::memcpy(&info, content.data() + 2, sizeof(info));
  if ((info & kXlpLongHeader) == 0) return std::nullopt;
  std::uint64_t sysid = 0;
  std::memcpy(&sysid, content.data() + kSysidOffset, sizeof(sysid));
  return sysid;
}

}  // namespace

bool IsArchivableName(std::string_view name) {
  if (pg::IsWalSegmentName(name) || pg::IsHistoryFileName(name) || pg::IsBackupHistoryName(name)) {
    return true;
  }
  return name.size() == 32 && name.ends_with(".partial") && IsHex(name.substr(0, 24));
}

std::optional<ArchivedFile> ParseArchiveObject(std::string_view object_path, std::uint64_t size) {
  const std::size_t slash = object_path.rfind('/');
  std::string_view stem = slash == std::string_view::npos ? object_path
                                                          : object_path.substr(slash + 1);
  ArchivedFile file;
  file.compression = *CompressionOfExtension(stem);
  const std::size_t size_dash = stem.rfind('-');
  if (size_dash == std::string_view::npos || size_dash < 65) return std::nullopt;
  const std::size_t sha_dash = size_dash - 65;
  if (stem[sha_dash] != '-') return std::nullopt;
  file.name = std::string(stem.substr(0, sha_dash));
  file.sha256 = std::string(stem.substr(sha_dash + 1, 64));
  const std::string_view raw = stem.substr(size_dash + 1);
  if (raw.empty() || !std::all_of(raw.begin(), raw.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  if (!IsArchivableName(file.name)) return std::nullopt;
  file.raw_size = std::stoull(std::string(raw));
  file.object = std::string(object_path);
  file.stored_size = size;
  return file;
}

WalArchive::WalArchive(const repo::Repository& repository, repo::CodecSettings codec)
    : repository_(repository), codec_(codec) {}

std::string WalArchive::DirectoryOf(std::string_view name) {
  if (name.size() >= 24 && IsHex(name.substr(0, 24))) {
    return fmt::format("{}/{}/{}", kArchiveRoot, name.substr(0, 8), name.substr(0, 16));
  }
  return fmt::format("{}/{}", kArchiveRoot, name.substr(0, 8));
}

std::vector<ArchivedFile> WalArchive::ListDirectory(const std::string& dir) const {
  std::vector<ArchivedFile> out;
  for (const storage::ObjectInfo& info : repository_.storage().List(dir)) {
    if (info.path.find('/') != std::string::npos) continue;  // a deeper directory
    if (auto file = ParseArchiveObject(dir + "/" + info.path, info.size)) {
      out.push_back(std::move(*file));
    }
  }
  return out;
}

std::vector<ArchivedFile> WalArchive::List() const {
  std::vector<ArchivedFile> out;
  for (const storage::ObjectInfo& info : repository_.storage().List(kArchiveRoot)) {
    if (auto file = ParseArchiveObject(std::string(kArchiveRoot) + "/" + info.path, info.size)) {
      out.push_back(std::move(*file));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ArchivedFile& a, const ArchivedFile& b) { return a.name < b.name; });
  return out;
}

std::optional<ArchivedFile> WalArchive::Find(std::string_view name) const {
  for (ArchivedFile& file : ListDirectory(DirectoryOf(name))) {
    if (file.name == name) return std::move(file);
  }
  return std::nullopt;
}

void WalArchive::CheckSegmentOwner(std::string_view name, std::string_view content) const {
  const std::string& expected = repository_.info().system_identifier;
  if (expected.empty() || !(pg::IsWalSegmentName(name) || name.ends_with(".partial"))) return;
  const std::optional<std::uint64_t> sysid = SegmentSystemIdentifier(content);
  if (!sysid || std::to_string(*sysid) == expected) return;
  throw Error(ErrorCode::kRepository,
              fmt::format("WAL segment '{}' belongs to cluster {}, but repository '{}' belongs to "
                          "cluster {}",
                          name, *sysid, repository_.storage().Describe(""), expected),
              "archive_command of this cluster points at another cluster's repository: give "
              "each cluster its own repository.path");
}

PushResult WalArchive::Push(const std::filesystem::path& file) {
  const std::string name = file.filename().string();
  if (!IsArchivableName(name)) {
    throw Error(ErrorCode::kUsage,
                fmt::format("'{}' is not a WAL file PostgreSQL archives", file.string()),
                "use it as archive_command = 'dbmedic wal push %p'");
  }
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(file, size_error);
  if (!size_error && PipelinedSegment::Applies(codec_, size)) {
    const PipelinedSegment segment(file, codec_);
    CheckSegmentOwner(name, segment.content());
    return StoreIfNew(name, segment.content().size(), segment.sha256(), segment.stored());
  }
  const MappedFile mapped(file);
  return PushContent(name, mapped.content());
}

PushResult WalArchive::PushContent(std::string_view name, std::string_view content) {
  CheckSegmentOwner(name, content);
  // archive_command latency is what PostgreSQL waits for: compress on a second core while this
  // one hashes (a duplicate wastes the compression, which is rare).
  std::optional<CompressedBuffer> stored;
  std::exception_ptr compress_error;
  std::jthread compressor([&] {
    try {
      if (codec_.compression != repo::Compression::kNone) stored.emplace(codec_, content);
    } catch (...) {
      compress_error = std::current_exception();
    }
  });
  const std::string sha = repo::Sha256Hex(content);
  compressor.join();
  if (compress_error) std::rethrow_exception(compress_error);
  return StoreIfNew(name, content.size(), sha, stored ? stored->view() : content);
}

PushResult WalArchive::StoreIfNew(std::string_view name, std::uint64_t raw_size,
                                  const std::string& sha, std::string_view to_store) {
  PushResult result;
  result.name = std::string(name);
  result.raw_size = raw_size;
  if (std::optional<ArchivedFile> existing = Find(name)) {
    if (existing->sha256 == sha && existing->raw_size == raw_size) {
      result.outcome = PushOutcome::kDuplicate;
      result.stored_size = existing->stored_size;
      return result;
    }
    throw Error(ErrorCode::kConflict,
                fmt::format("WAL file '{}' is already archived in '{}' with different content "
                            "(archived sha256 {}, {} bytes; new sha256 {}, {} bytes)",
                            name, repository_.storage().Describe(existing->object),
                            existing->sha256, existing->raw_size, sha, raw_size),
                "two clusters (or a restored copy) archive into one repository, or the archive "
                "was damaged: check archive_command of every cluster using this repository");
  }
  const std::string object =
      fmt::format("{}/{}-{}-{}{}", DirectoryOf(name), name, sha, raw_size,
                  repo::CompressionExtension(codec_.compression));
  auto stream = repository_.storage().OpenWrite(object, storage::Durability::kImmediate);
  stream->Write(to_store);
  stream->Commit();
  result.stored_size = to_store.size();
  return result;
}

namespace {

// Reads the whole of `file` into the first bytes of `out`, which only ever grows (the bytes
// after the returned size are left as they were); returns its size.
std::size_t ReadObject(const storage::Storage& storage, const ArchivedFile& file,
                       std::string& out) {
  const std::unique_ptr<storage::ReadStream> in = storage.OpenRead(file.object);
  // One byte more than the listing said, so that a longer object is seen in one pass.
  core::ReserveWithHugePages(out, file.stored_size + 1);
  if (out.size() < file.stored_size + 1) out.resize(file.stored_size + 1);
  std::size_t size = 0;
  while (const std::size_t n = in->Read(out.data() + size, out.size() - size)) {
    size += n;
    if (size == out.size()) out.resize(2 * size);
  }
  return size;
}

}  // namespace

std::string WalArchive::Read(const ArchivedFile& file) const {
  std::string stored;
  std::string raw;
  ReadInto(file, stored, raw);
  return raw;
}

void WalArchive::ReadInto(const ArchivedFile& file, std::string& stored, std::string& raw) const {
  const std::string what = repository_.storage().Describe(file.object);
  if (file.compression == repo::Compression::kNone) {
    raw.resize(ReadObject(repository_.storage(), file, raw));
  } else {
    const std::size_t size = ReadObject(repository_.storage(), file, stored);
    repo::DecompressInto(file.compression, std::string_view(stored.data(), size), file.raw_size,
                         what, raw);
  }
  if (raw.size() != file.raw_size || repo::Sha256Hex(raw) != file.sha256) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("archived WAL file '{}' is damaged: its content does not match the "
                            "size and SHA-256 in its name",
                            what),
                "restore from another copy of the archive, or recover only up to the WAL before "
                "it (--to-lsn)");
  }
}

bool WalArchive::Get(std::string_view name, const std::filesystem::path& dest) const {
  const std::optional<ArchivedFile> file = Find(name);
  if (!file) return false;
  WriteThroughRename(dest, Read(*file));
  return true;
}

}  // namespace dbmedic::wal
