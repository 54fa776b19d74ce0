#include "wal/stream_receiver.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "pg/connection.hpp"

namespace dbmedic::wal {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr std::uint64_t kSegSize = pg::kDefaultWalSegmentSize;
constexpr std::int64_t kPgEpochUnixSeconds = 946684800;

std::uint64_t ReadBe64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void WriteBe64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::int64_t PgNowMicros() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count() -
         kPgEpochUnixSeconds * 1000000;
}

// The newest stream partial of `timeline` in `dir`: segment number and bytes received.
std::optional<std::pair<std::uint64_t, std::uint64_t>> NewestPartial(const fs::path& dir,
                                                                     pg::TimelineId timeline) {
  std::optional<std::pair<std::uint64_t, std::uint64_t>> best;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string file = e.path().filename().string();
    if (!file.ends_with(".partial")) continue;
    const auto parsed = pg::ParseWalSegmentName(file.substr(0, 24));
    if (!parsed || parsed->timeline != timeline) continue;
    if (!best || parsed->segno > best->first) best = {{parsed->segno, e.file_size(ec)}};
  }
  return best;
}

}  // namespace

struct StreamReceiver::Session {
  pg::Connection conn;
};

fs::path StreamPartialPath(const fs::path& partial_dir, const std::string& name) {
  return partial_dir / (name + ".partial");
}

std::vector<StreamPartial> ListStreamPartials(const fs::path& partial_dir) {
  std::vector<StreamPartial> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(partial_dir, ec)) {
    const std::string file = e.path().filename().string();
    if (file.size() != 32 || !file.ends_with(".partial")) continue;
    if (!pg::IsWalSegmentName(file.substr(0, 24))) continue;
    out.push_back({file.substr(0, 24), e.file_size(ec)});
  }
  std::sort(out.begin(), out.end(),
            [](const StreamPartial& a, const StreamPartial& b) { return a.name < b.name; });
  return out;
}

std::optional<std::string> ReadStreamPartial(const fs::path& partial_dir, const std::string& name) {
  const fs::path path = StreamPartialPath(partial_dir, name);
  std::error_code ec;
  if (!pg::IsWalSegmentName(name) || !fs::exists(path, ec)) return std::nullopt;
  std::string content = core::ReadFile(path);
  if (content.size() < kSegSize) content.resize(kSegSize, '\0');
  return content;
}

StreamReceiver::StreamReceiver(WalArchive& archive, StreamOptions options)
    : archive_(archive), options_(std::move(options)) {
  core::MakeDirs(options_.partial_dir, 0700);
}

void StreamReceiver::Run(const std::atomic<bool>& stop) {
  while (!stop) {
    try {
      StreamOnce(stop);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kRepository) throw;
      spdlog::warn("wal stream: {}; reconnecting", e.what());
    }
    const auto until = Clock::now() + options_.reconnect_delay;
    while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Flush();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

pg::Lsn StreamReceiver::ResumePoint(Session& session) {
  if (fd_ >= 0) return written_;
  pg::Result slot = session.conn.Exec(fmt::format("READ_REPLICATION_SLOT {}", options_.slot));
  const std::optional<pg::Lsn> restart =
      slot.IsNull(0, 1) ? std::nullopt : pg::Lsn::TryParse(slot.Get(0, 1));
  if (const auto partial = NewestPartial(options_.partial_dir, timeline_)) {
    const pg::Lsn resume{pg::SegmentStart(partial->first).value + partial->second};
    // The server keeps the whole segment holding the slot's restart position, so a restart
    // position later in the partial's own segment is no gap.
    if (!restart || *restart <= resume || pg::SegmentNumber(*restart) == partial->first) {
      segno_ = partial->first;
      const std::string name = pg::WalSegmentName(timeline_, partial->first);
      fd_ = ::open(StreamPartialPath(options_.partial_dir, name).c_str(), O_WRONLY);
      if (fd_ < 0) throw SystemError(errno, "open", name + ".partial");
      written_ = flushed_ = resume;
      return resume;
    }
    const pg::Lsn resumed_at = pg::SegmentStart(pg::SegmentNumber(*restart));
    spdlog::error("wal stream: GAP: WAL from {} to {} cannot be streamed any more (slot '{}' "
                  "starts later; the server removed that WAL); recovery cannot cross it: take a "
                  "new backup (dbmedic backup). `dbmedic check` lists the missing segments",
                  resume.ToString(), resumed_at.ToString(), options_.slot);
    if (options_.on_gap) options_.on_gap(resume, resumed_at);
  }
  if (!restart) {
    throw Error(ErrorCode::kPostgres,
                fmt::format("replication slot '{}' has no restart position", options_.slot),
                "drop it (SELECT pg_drop_replication_slot(...)) and start wal stream again");
  }
  return pg::SegmentStart(pg::SegmentNumber(*restart));
}

void StreamReceiver::StreamOnce(const std::atomic<bool>& stop) {
  Session session{pg::Connection::Open(options_.conninfo + " replication=true application_name=" +
                                       options_.slot)};
  pg::Result id = session.conn.Exec("IDENTIFY_SYSTEM");
  const std::string sysid = id.GetString(0, 0);
  if (const std::string& mine = archive_.repository().info().system_identifier;
      !mine.empty() && sysid != mine) {
    throw Error(ErrorCode::kRepository,
                fmt::format("server {} is cluster {}, repository is cluster {}",
                            session.conn.Describe(), sysid, mine),
                "stream into the repository of this cluster");
  }
  const auto tli = static_cast<pg::TimelineId>(id.GetInt(0, 1));
  if (tli != timeline_ && fd_ >= 0) {
    ::close(fd_);  // the old timeline's partial stays as it is; recovery follows the history
    fd_ = -1;
    segno_.reset();
  }
  timeline_ = tli;
  try {
    session.conn.Exec(fmt::format("CREATE_REPLICATION_SLOT {} PHYSICAL RESERVE_WAL", options_.slot));
  } catch (const Error& e) {
    if (std::string(e.what()).find("already exists") == std::string::npos) throw;
  }
  const pg::Lsn start = ResumePoint(session);
  written_ = std::max(written_, start);
  flushed_ = std::max(flushed_, start);
  const std::string cmd = fmt::format("START_REPLICATION SLOT {} PHYSICAL {} TIMELINE {}",
                                      options_.slot, start.ToString(), timeline_);
  PGconn* conn = session.conn.raw();
  {
    PGresult* res = PQexec(conn, cmd.c_str());
    const bool ok = PQresultStatus(res) == PGRES_COPY_BOTH;
    const std::string err = PQresultErrorMessage(res);
    PQclear(res);
    if (!ok) {
      throw Error(ErrorCode::kPostgres, fmt::format("{} failed: {}", cmd, err));
    }
  }
  spdlog::info("wal stream: streaming from {} on timeline {} (slot {})", start.ToString(),
               timeline_, options_.slot);
  auto next_status = Clock::now();
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn, &buf, 1);
    if (n == 0) {
      if (written_ > flushed_) Flush();
      if (Clock::now() >= next_status || written_ == flushed_) {
        SendStatus(conn, false);
        next_status = Clock::now() + options_.status_interval;
      }
      if (stop) return;
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(options_.status_interval.count()));
      if (PQconsumeInput(conn) == 0) {
        throw Error(ErrorCode::kPostgres, fmt::format("replication connection lost: {}",
                                                      PQerrorMessage(conn)));
      }
      continue;
    }
    if (n == -1) return;  // the server ended streaming (shutdown or timeline switch)
    if (n < 0) {
      throw Error(ErrorCode::kPostgres,
                  fmt::format("replication stream failed: {}", PQerrorMessage(conn)));
    }
    std::unique_ptr<char, decltype(&PQfreemem)> owned(buf, PQfreemem);
    if (buf[0] == 'w' && n >= 25) {
      WriteData(pg::Lsn{ReadBe64(buf + 1)}, buf + 25, static_cast<std::size_t>(n - 25));
    } else if (buf[0] == 'k' && n >= 18 && buf[17] != 0) {
      Flush();
      SendStatus(conn, false);
    }
  }
}

void StreamReceiver::SendStatus(pg_conn* conn, bool reply) {
  std::string msg = "r";
  WriteBe64(msg, written_.value);
  WriteBe64(msg, flushed_.value);
  WriteBe64(msg, flushed_.value);
  WriteBe64(msg, static_cast<std::uint64_t>(PgNowMicros()));
  msg.push_back(reply ? 1 : 0);
  if (PQputCopyData(conn, msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(conn) != 0) {
    throw Error(ErrorCode::kPostgres,
                fmt::format("unable to send standby status: {}", PQerrorMessage(conn)));
  }
}

void StreamReceiver::WriteData(pg::Lsn start, const char* data, std::size_t size) {
  while (size > 0) {
    const std::uint64_t seg = pg::SegmentNumber(start);
    if (!segno_ || *segno_ != seg) {
      if (fd_ >= 0) ::close(fd_);
      segno_ = seg;
      const std::string name = pg::WalSegmentName(timeline_, seg);
      const fs::path path = StreamPartialPath(options_.partial_dir, name);
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
      if (fd_ < 0) throw SystemError(errno, "create", path.string());
    }
    const std::uint64_t offset = start.value - pg::SegmentStart(seg).value;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, kSegSize - offset));
    if (::pwrite(fd_, data, n, static_cast<off_t>(offset)) != static_cast<ssize_t>(n)) {
      throw SystemError(errno, "write", pg::WalSegmentName(timeline_, seg) + ".partial");
    }
    start.value += n;
    data += n;
    size -= n;
    written_ = start;
    if (offset + n == kSegSize) {
      Flush();
      CompleteSegment();
    }
  }
}

void StreamReceiver::Flush() {
  if (fd_ < 0 || written_ <= flushed_) return;
  if (::fdatasync(fd_) != 0) throw SystemError(errno, "fsync", "stream partial");
  flushed_ = written_;
  if (options_.on_flush) options_.on_flush(flushed_);
}

void StreamReceiver::CompleteSegment() {
  const std::string name = pg::WalSegmentName(timeline_, *segno_);
  const fs::path path = StreamPartialPath(options_.partial_dir, name);
  ::close(fd_);
  fd_ = -1;
  segno_.reset();
  try {
    archive_.PushContent(name, core::ReadFile(path));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kConflict) throw;
    spdlog::error("wal stream: {}", e.what());
    return;  // keep the partial for inspection
  }
  fs::remove(path);
  core::FsyncDir(options_.partial_dir);
}

}  // namespace dbmedic::wal
