#include "forensics/wal_summary.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::forensics {

WalSummary SummarizeWal(pg::WalReader& reader,
                        const std::function<void(const pg::WalRecord&)>& each) {
  WalSummary s;
  try {
    while (const pg::WalRecord* r = reader.Next()) {
      if (s.records++ == 0) s.first_lsn = r->lsn;
      s.last_lsn = r->lsn;
      s.end_lsn = r->end_lsn;
      s.bytes += r->total_length;
      RmgrStats& st = s.by_rmgr[r->rmid];
      ++st.records;
      st.bytes += r->total_length;
      for (const auto& b : r->blocks) st.fpi_bytes += b.image.size();
      if (each) each(*r);
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kUnsupported &&
        e.code() != ErrorCode::kRepository) {
      throw;
    }
    s.error_exit_code = e.exit_code();
  }
  s.stop = reader.stop();
  s.segments = reader.segments_read();
  return s;
}

nlohmann::json ToJson(const WalSummary& s) {
  nlohmann::json rmgrs = nlohmann::json::object();
  for (std::size_t id = 0; id < s.by_rmgr.size(); ++id) {
    const RmgrStats& st = s.by_rmgr[id];
    if (st.records == 0) continue;
    auto name = pg::wal::RmgrName(static_cast<std::uint8_t>(id)).value_or("unknown");
    std::string key = id >= pg::wal::kMinCustomRmgr ? fmt::format("{}{}", name, id)
                                                    : std::string(name);
    rmgrs[key] = {{"records", st.records}, {"bytes", st.bytes}, {"fpi_bytes", st.fpi_bytes}};
  }
  return {{"records", s.records},
          {"bytes", s.bytes},
          {"segments", s.segments},
          {"first_lsn", s.first_lsn.ToString()},
          {"last_lsn", s.last_lsn.ToString()},
          {"end_lsn", s.end_lsn.ToString()},
          {"stop_reason", pg::WalStopReasonName(s.stop.reason)},
          {"stop_lsn", s.stop.lsn.ToString()},
          {"stop_detail", s.stop.detail},
          {"rmgrs", rmgrs}};
}

std::string DescribeRecord(const pg::WalRecord& r) {
  auto name = pg::wal::RmgrName(r.rmid).value_or("unknown");
  std::string line = fmt::format("rmgr: {:<11} len (rec/tot): {:>6}, tx: {:>10}, lsn: {}, prev {}, "
                                 "info: {:#04x}",
                                 name, r.total_length, r.xid, r.lsn.ToString(), r.prev.ToString(),
                                 r.info);
  for (const auto& b : r.blocks) {
    line += fmt::format(", blkref #{}: rel {} fork {} blk {}{}", b.id, b.rnode.ToString(), b.fork,
                        b.block, b.has_image ? " FPW" : "");
  }
  return line;
}

}  // namespace dbmedic::forensics
