// Writes synthetic PostgreSQL 15 WAL for tests and fuzz seeds: page headers (long on the first
// page of a segment), records with correct xl_prev and CRC-32C, records continued across pages
// and segments. Layouts follow src/pg/wal_format.hpp. Segments default to 1 MB (the smallest
// size initdb allows) to keep test data small.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "pg/lsn.hpp"
#include "pg/wal_crc32c.hpp"
#include "pg/wal_format.hpp"
#include "pg/wal_record.hpp"
#include "pg/wal_source.hpp"

namespace dbmedic::testing {

class WalBuilder {
 public:
  static constexpr std::uint64_t kSegSize = 1u << 20;
  static constexpr std::uint64_t kSysId = 7300000000000000001ull;

  explicit WalBuilder(std::uint64_t first_segno = 1, std::uint64_t sysid = kSysId,
                      pg::TimelineId tli = 1)
      : sysid_(sysid), tli_(tli), pos_(pg::SegmentStart(first_segno, kSegSize).value) {}

  // A record with the given block-header/data part (everything after XLogRecord's 24 bytes).
  pg::Lsn AddRaw(std::uint8_t rmid, std::uint8_t info, std::uint32_t xid,
                 const std::vector<std::byte>& body) {
    std::vector<std::byte> rec(pg::wal::kRecordHeaderSize + body.size());
    Put<std::uint32_t>(rec, 0, static_cast<std::uint32_t>(rec.size()));
    Put<std::uint32_t>(rec, 4, xid);
    Put<std::uint64_t>(rec, 8, prev_);
    rec[16] = std::byte{info};
    rec[17] = std::byte{rmid};
    std::memcpy(rec.data() + pg::wal::kRecordHeaderSize, body.data(), body.size());
    std::uint32_t crc = pg::Crc32cUpdate(pg::kCrc32cInit, rec.data() + 24, rec.size() - 24);
    crc = pg::Crc32cFinish(pg::Crc32cUpdate(crc, rec.data(), 20));
    Put<std::uint32_t>(rec, 20, crc);
    return AddBytes(rec);
  }

  // A record whose body is one optional block reference plus main data.
  pg::Lsn Add(std::uint8_t rmid, std::uint8_t info, std::uint32_t xid,
              const std::vector<std::byte>& main_data,
              std::optional<pg::RelFileNode> block_rel = std::nullopt, std::uint32_t blkno = 0) {
    std::vector<std::byte> body;
    if (block_rel) {
      Append<std::uint8_t>(body, 0);     // block id 0
      Append<std::uint8_t>(body, 0);     // main fork, no flags
      Append<std::uint16_t>(body, 0);    // no block data
      Append<std::uint32_t>(body, block_rel->spc);
      Append<std::uint32_t>(body, block_rel->db);
      Append<std::uint32_t>(body, block_rel->rel);
      Append<std::uint32_t>(body, blkno);
    }
    if (!main_data.empty()) {
      if (main_data.size() < 256) {
        Append<std::uint8_t>(body, pg::wal::kBlockIdDataShort);
        Append<std::uint8_t>(body, static_cast<std::uint8_t>(main_data.size()));
      } else {
        Append<std::uint8_t>(body, pg::wal::kBlockIdDataLong);
        Append<std::uint32_t>(body, static_cast<std::uint32_t>(main_data.size()));
      }
      body.insert(body.end(), main_data.begin(), main_data.end());
    }
    return AddRaw(rmid, info, xid, body);
  }

  pg::Lsn AddHeapDelete(std::uint32_t xid, pg::RelFileNode rel) {
    std::vector<std::byte> main(8);  // xl_heap_delete: xmax, offnum, infobits, flags
    return Add(10, pg::wal::kHeapDelete, xid, main, rel);
  }

  // COMMIT with xinfo: dbinfo, subxacts and dropped files as given.
  pg::Lsn AddCommit(std::uint32_t xid, std::int64_t time, std::uint32_t db,
                    const std::vector<std::uint32_t>& subxacts = {},
                    const std::vector<pg::RelFileNode>& dropped = {}) {
    std::vector<std::byte> main;
    Append<std::int64_t>(main, time);
    std::uint32_t xinfo = pg::wal::kXinfoHasDbInfo;
    if (!subxacts.empty()) xinfo |= pg::wal::kXinfoHasSubxacts;
    if (!dropped.empty()) xinfo |= pg::wal::kXinfoHasRelfilenodes;
    Append<std::uint32_t>(main, xinfo);
    Append<std::uint32_t>(main, db);
    Append<std::uint32_t>(main, 1663);
    if (!subxacts.empty()) {
      Append<std::int32_t>(main, static_cast<std::int32_t>(subxacts.size()));
      for (auto s : subxacts) Append<std::uint32_t>(main, s);
    }
    if (!dropped.empty()) {
      Append<std::int32_t>(main, static_cast<std::int32_t>(dropped.size()));
      for (const auto& r : dropped) {
        Append<std::uint32_t>(main, r.spc);
        Append<std::uint32_t>(main, r.db);
        Append<std::uint32_t>(main, r.rel);
      }
    }
    return Add(1, pg::wal::kXactCommit | pg::wal::kXactHasInfo, xid, main);
  }

  pg::Lsn AddSwitch() {
    pg::Lsn lsn = AddRaw(0, pg::wal::kXlogSwitch, 0, {});
    pos_ = pg::SegmentStart(pg::SegmentNumber(pg::Lsn{pos_ - 1}, kSegSize) + 1, kSegSize).value;
    return lsn;
  }

  // Main data of `size` bytes (a record spanning pages when large).
  pg::Lsn AddLarge(std::size_t size, std::uint32_t xid = 0) {
    std::vector<std::byte> main(size);
    for (std::size_t i = 0; i < size; ++i) main[i] = static_cast<std::byte>(i * 31 + 7);
    return Add(20, 0, xid, main);  // rmgr Generic: nobody interprets it
  }

  pg::Lsn position() const { return pg::Lsn{pos_}; }
  const std::map<std::uint64_t, std::vector<std::byte>>& segments() const { return segments_; }
  std::vector<std::byte>& segment(std::uint64_t segno) { return segments_.at(segno); }
  std::string SegmentName(std::uint64_t segno) const {
    return pg::WalSegmentName(tli_, segno, kSegSize);
  }

  // Byte offset of `lsn` inside its segment.
  static std::size_t Offset(pg::Lsn lsn) { return lsn.value % kSegSize; }

  std::unique_ptr<pg::MemoryWalSource> Source() const {
    auto source = std::make_unique<pg::MemoryWalSource>(kSegSize);
    for (const auto& [segno, bytes] : segments_) source->Put(tli_, segno, bytes);
    return source;
  }

  void WriteTo(const std::filesystem::path& dir) const {
    std::filesystem::create_directories(dir);
    for (const auto& [segno, bytes] : segments_) {
      std::ofstream out(dir / SegmentName(segno), std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
    }
  }

  template <typename T>
  static void Put(std::vector<std::byte>& v, std::size_t at, T value) {
    std::memcpy(v.data() + at, &value, sizeof(T));
  }
  template <typename T>
  static void Append(std::vector<std::byte>& v, T value) {
    std::size_t at = v.size();
    v.resize(at + sizeof(T));
    Put(v, at, value);
  }

 private:
  std::vector<std::byte>& SegmentAt(std::uint64_t lsn) {
    std::uint64_t segno = lsn / kSegSize;
    auto [it, inserted] = segments_.try_emplace(segno);
    if (inserted) it->second.resize(kSegSize);
    return it->second;
  }

  // Writes a page header at page start `lsn`; rem_len = bytes of a record still to come.
  void PageHeader(std::uint64_t lsn, std::uint32_t rem_len) {
    auto& seg = SegmentAt(lsn);
    std::size_t off = lsn % kSegSize;
    bool is_long = off == 0;
    std::uint16_t info = (is_long ? pg::wal::kXlpLongHeader : 0) |
                         (rem_len ? pg::wal::kXlpFirstIsContRecord : 0);
    Put<std::uint16_t>(seg, off, pg::wal::kPageMagicPg15);
    Put<std::uint16_t>(seg, off + 2, info);
    Put<std::uint32_t>(seg, off + 4, tli_);
    Put<std::uint64_t>(seg, off + 8, lsn);
    Put<std::uint32_t>(seg, off + 16, rem_len);
    if (is_long) {
      Put<std::uint64_t>(seg, off + 24, sysid_);
      Put<std::uint32_t>(seg, off + 32, static_cast<std::uint32_t>(kSegSize));
      Put<std::uint32_t>(seg, off + 36, pg::wal::kBlockSize);
    }
  }

  static std::uint32_t HeaderSize(std::uint64_t page_lsn) {
    return page_lsn % kSegSize == 0 ? pg::wal::kLongPageHeaderSize
                                    : pg::wal::kShortPageHeaderSize;
  }

  pg::Lsn AddBytes(const std::vector<std::byte>& rec) {
    if (pos_ % pg::wal::kBlockSize == 0) {
      PageHeader(pos_, 0);
      pos_ += HeaderSize(pos_);
    }
    pg::Lsn start{pos_};
    std::size_t done = 0;
    while (done < rec.size()) {
      std::uint64_t page_end = pos_ - pos_ % pg::wal::kBlockSize + pg::wal::kBlockSize;
      std::size_t n = std::min<std::size_t>(rec.size() - done, page_end - pos_);
      std::memcpy(SegmentAt(pos_).data() + pos_ % kSegSize, rec.data() + done, n);
      done += n;
      pos_ += n;
      if (done < rec.size()) {
        PageHeader(pos_, static_cast<std::uint32_t>(rec.size() - done));
        pos_ += HeaderSize(pos_);
      }
    }
    prev_ = start.value;
    pos_ = pg::wal::MaxAlign(pos_);
    return start;
  }

  std::uint64_t sysid_;
  pg::TimelineId tli_;
  std::uint64_t pos_;
  std::uint64_t prev_ = 0;
  std::map<std::uint64_t, std::vector<std::byte>> segments_;
};

}  // namespace dbmedic::testing
