#include "pg/wal_source.hpp"


#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "pg/wal_bytes.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::pg {

namespace fs = std::filesystem;

namespace {

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() noexcept {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads up to `out.size()` bytes; returns the number read (short only at end of file).
std::size_t ReadFully(int fd, std::byte* out, std::size_t size, const fs::path& path) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, out + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(errno, "read WAL segment", path.string());
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::string HistoryFileName(TimelineId tli) { return fmt::format("{:08X}.history", tli); }

}  // namespace

std::optional<std::uint64_t> ProbeSegmentSize(const fs::path& segment_file) {
  Fd fd(::open(segment_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  std::byte header[wal::kLongPageHeaderSize];
  if (ReadFully(fd.get(), header, sizeof header, segment_file) < sizeof header) return std::nullopt;
  if (wal::LoadAt<std::uint16_t>(header, 0) != wal::kPageMagicPg15) return std::nullopt;
  if (!(wal::LoadAt<std::uint16_t>(header, 2) & wal::kXlpLongHeader)) return std::nullopt;
  auto size = wal::LoadAt<std::uint32_t>(header, 32);
  if (!wal::IsValidSegmentSize(size)) return std::nullopt;
  return size;
}

std::vector<TimelineHistoryEntry> ParseTimelineHistory(const std::string& text) {
  std::vector<TimelineHistoryEntry> entries;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream fields(line);
    std::string tli_text;
    std::string lsn_text;
    fields >> tli_text >> lsn_text;
    auto lsn = Lsn::TryParse(lsn_text);
    char* end = nullptr;
    unsigned long tli = std::strtoul(tli_text.c_str(), &end, 10);
    if (!lsn || end == tli_text.c_str() || *end != '\0' || tli == 0 || tli > 0xFFFFFFFFul) {
      throw Error(ErrorCode::kCorrupt,
                  fmt::format("timeline history line {} is not '<timeline> <LSN> <reason>': {}",
                              number, line));
    }
    entries.push_back({static_cast<TimelineId>(tli), *lsn});
  }
  return entries;
}

TimelineId TimelineForSegment(std::uint64_t segno, std::uint64_t seg_size,
                              const std::vector<TimelineHistoryEntry>& history,
                              TimelineId target) {
  Lsn segment_end = SegmentStart(segno + 1, seg_size);
  for (const auto& entry : history) {
    if (segment_end <= entry.end) return entry.timeline;
  }
  return target;
}

DirectoryWalSource::DirectoryWalSource(fs::path dir, std::optional<TimelineId> timeline)
    : dir_(std::move(dir)) {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) {
    throw Error(ErrorCode::kNotFound, fmt::format("WAL directory '{}' does not exist", dir_.string()),
                "pass the pg_wal directory or a directory of WAL segment files (--wal-dir)");
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    auto name = entry.path().filename().string();
    if (IsWalSegmentName(name) && entry.is_regular_file()) names.push_back(name);
  }
  if (names.empty()) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("no WAL segment files in '{}'", dir_.string()),
                "segment files are named like 000000010000000000000001");
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return a.substr(8) != b.substr(8) ? a.substr(8) < b.substr(8) : a < b;
  });
  segment_size_ = ProbeSegmentSize(dir_ / names.front()).value_or(kDefaultWalSegmentSize);

  std::map<std::uint64_t, std::set<TimelineId>> by_segno;
  TimelineId highest = 0;
  for (const auto& name : names) {
    auto parsed = ParseWalSegmentName(name, segment_size_);
    if (!parsed) continue;
    by_segno[parsed->segno].insert(parsed->timeline);
    highest = std::max(highest, parsed->timeline);
  }
  timeline_ = timeline.value_or(highest);

  std::vector<TimelineHistoryEntry> history;
  bool have_history = false;
  if (fs::exists(dir_ / HistoryFileName(timeline_), ec)) {
    std::ifstream in(dir_ / HistoryFileName(timeline_));
    std::stringstream buffer;
    buffer << in.rdbuf();
    history = ParseTimelineHistory(buffer.str());
    have_history = true;
  }
  for (const auto& [segno, timelines] : by_segno) {
    TimelineId chosen = 0;
    if (have_history) {
      TimelineId want = TimelineForSegment(segno, segment_size_, history, timeline_);
      if (timelines.contains(want)) chosen = want;
    } else {
      for (TimelineId t : timelines) {
        if (t <= timeline_) chosen = t;
      }
    }
    if (chosen != 0) segments_.push_back({chosen, segno, WalSegmentName(chosen, segno, segment_size_)});
  }
}

void DirectoryWalSource::Read(const WalSegmentRef& ref, std::vector<std::byte>& out) {
  fs::path path = dir_ / ref.name;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw SystemError(errno, "open WAL segment", path.string());
  out.resize(segment_size_);
  std::size_t n = ReadFully(fd.get(), out.data(), out.size(), path);
  out.resize(n);
}

std::span<const std::byte> DirectoryWalSource::Load(const WalSegmentRef& ref) {
  return LoadPrefix(ref, segment_size_);
}

std::span<const std::byte> DirectoryWalSource::LoadPrefix(const WalSegmentRef& ref,
                                                          std::size_t bytes) {
  fs::path path = dir_ / ref.name;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw SystemError(errno, "open WAL segment", path.string());
  auto* data = reinterpret_cast<std::byte*>(buffer_.Reserve(segment_size_));
  const std::size_t want = std::min<std::size_t>(bytes, segment_size_);
  return {data, ReadFully(fd.get(), data, want, path)};
}

std::string DirectoryWalSource::Describe() const {
  return fmt::format("directory '{}'", dir_.string());
}

void MemoryWalSource::Put(TimelineId timeline, std::uint64_t segno, std::vector<std::byte> bytes) {
  segments_[segno] = {timeline, std::move(bytes)};
}

std::vector<WalSegmentRef> MemoryWalSource::Segments() const {
  std::vector<WalSegmentRef> refs;
  for (const auto& [segno, entry] : segments_) {
    refs.push_back({entry.first, segno, WalSegmentName(entry.first, segno, segment_size_)});
  }
  return refs;
}

void MemoryWalSource::Read(const WalSegmentRef& ref, std::vector<std::byte>& out) {
  auto it = segments_.find(ref.segno);
  if (it == segments_.end()) {
    throw Error(ErrorCode::kNotFound, fmt::format("WAL segment {} is not in memory", ref.name));
  }
  out.assign(it->second.second.begin(), it->second.second.end());
}

}  // namespace dbmedic::pg
