// `dbmedic wal-scan --wal-dir DIR`: decodes WAL segments and prints per-resource-manager
// statistics (like pg_waldump --stats), or every record with --records. A debugging aid for the
// forensics decoder, and the scan measured by bench/wal-scan.sh.
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "forensics/wal_summary.hpp"
#include "pg/wal_format.hpp"
#include "pg/wal_reader.hpp"
#include "pg/wal_source.hpp"

namespace dbmedic::cli {
namespace {

struct WalScanArgs {
  std::string start;
  std::string end;
  std::uint32_t timeline = 0;
  bool records = false;
  bool no_crc = false;
  int jobs = 0;  // 0: one per core
};

void PrintSummary(const forensics::WalSummary& s, double seconds) {
  std::vector<std::vector<std::string>> rows;
  for (std::size_t id = 0; id < s.by_rmgr.size(); ++id) {
    const auto& st = s.by_rmgr[id];
    if (st.records == 0) continue;
    rows.push_back({std::string(pg::wal::RmgrName(static_cast<std::uint8_t>(id)).value_or("?")),
                    std::to_string(st.records), std::to_string(st.bytes),
                    std::to_string(st.fpi_bytes)});
  }
  PrintTable({"RMGR", "RECORDS", "BYTES", "FPI BYTES"}, rows);
  fmt::print("\n{} records, {} in {} segments, {} .. {}, read in {} ({}/s)\n", s.records,
             HumanBytes(static_cast<double>(s.bytes)), s.segments, s.first_lsn.ToString(),
             s.end_lsn.ToString(), HumanSeconds(seconds),
             HumanBytes(seconds > 0 ? static_cast<double>(s.end_lsn.value - s.first_lsn.value) / seconds
                        : 0));
}

void Run(Context& ctx, const WalScanArgs& args) {
  const core::Config& config = ctx.config();
  const std::optional<pg::TimelineId> timeline =
      args.timeline ? std::optional<pg::TimelineId>(args.timeline) : std::nullopt;
  auto make_source = [dir = config.Path("forensics.wal_dir"), timeline] {
    return std::make_unique<pg::DirectoryWalSource>(dir, timeline);
  };
  pg::WalReaderOptions options;
  if (!args.start.empty()) options.start = pg::Lsn::Parse(args.start);
  if (!args.end.empty()) options.end = pg::Lsn::Parse(args.end);
  options.verify_crc = !args.no_crc;
  const int jobs = args.jobs > 0 ? args.jobs
                                 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto begin = std::chrono::steady_clock::now();
  std::function<void(const pg::WalRecord&)> each;
  if (args.records && !ctx.json()) {
    each = [](const pg::WalRecord& r) {
      std::string line = forensics::DescribeRecord(r) + "\n";
      if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) {
        throw Error(ErrorCode::kIo, "cannot write records to standard output (closed pipe?)");
      }
    };
  }
  forensics::WalSummary summary;
  if (each || jobs == 1) {
    auto source = make_source();
    pg::WalReader reader(*source, options);
    summary = forensics::SummarizeWal(reader, each);
  } else {
    summary = forensics::SummarizeWalInParallel(make_source, options, jobs);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  if (ctx.json()) {
    nlohmann::json j = forensics::ToJson(summary);
    j["seconds"] = seconds;
    PrintJson(j);
  } else if (!args.records) {
    PrintSummary(summary, seconds);
  }
  bool damaged = summary.error_exit_code.has_value();
  fmt::print(stderr, "{}: scan stopped at {}: {}\n", damaged ? "ERROR" : "note",
             summary.stop.lsn.ToString(), summary.stop.detail);
  if (damaged) ctx.exit_code = *summary.error_exit_code;
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<WalScanArgs>();
  CLI::App* cmd = root.add_subcommand(
      "wal-scan", "Decode WAL segments and print statistics per resource manager (or every "
                  "record): the decoder behind 'dbmedic incidents'");
  AddConfigOption(cmd, ctx, "forensics.wal_dir");
  cmd->add_option("--start", args->start, "First LSN to read (e.g. 0/3000028)");
  cmd->add_option("--end", args->end, "Stop before records at or after this LSN");
  cmd->add_option("--timeline", args->timeline, "Timeline to follow (default: the highest)");
  cmd->add_flag("--records", args->records, "Print one line per record instead of statistics");
  cmd->add_option("--jobs,-j", args->jobs,
                  "Decode this many runs of segments at once (default: one per core; --records "
                  "reads in one run)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-crc", args->no_crc, "Skip CRC checks (faster; damaged records go unseen)");
  cmd->callback([&ctx, args] { Run(ctx, *args); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
