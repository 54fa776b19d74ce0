// log-report: analyses server log files (stderr format with a log_line_prefix, or csvlog;
// plain, gzip or zstd) into one LogStats. Plain files are split at message boundaries into
// chunks parsed in parallel; compressed files are parsed one per worker. Memory is bounded by
// the per-fingerprint aggregates, not by the size of the logs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "diagnose/log_reader.hpp"
#include "diagnose/log_source.hpp"
#include "diagnose/log_stats.hpp"

namespace dbmedic::diagnose {

struct LogReportOptions {
  std::optional<std::string> log_line_prefix;  // nullopt: detect it per file
  int jobs = 0;                                 // 0: number of cores
  std::uint64_t min_chunk_bytes = std::uint64_t{16} << 20;
};

struct LogFileInfo {
  std::filesystem::path path;
  LogFormat format = LogFormat::kStderr;
  Compression compression = Compression::kNone;
  std::string log_line_prefix;  // stderr format only
  std::uint64_t size = 0;       // on disk
};

struct LogReport {
  std::vector<LogFileInfo> files;
  LogStats stats;
  double seconds = 0;  // wall time of the analysis
  int jobs = 1;
};

// Throws Error(kNotFound) for a missing file, Error(kUsage) when a stderr log's prefix cannot be
// recognised (hint: --log-line-prefix), Error(kCorrupt) for broken compressed files.
LogReport AnalyzeLogs(const std::vector<std::filesystem::path>& files,
                      const LogReportOptions& options);

// Looks at the first lines of a file: its format and (stderr) its log_line_prefix.
LogFileInfo InspectLogFile(const std::filesystem::path& path,
                           const std::optional<std::string>& log_line_prefix);

// Renderings. `top`: how many statements / errors each list shows.
nlohmann::json LogReportToJson(const LogReport& report, std::size_t top);
std::string LogReportToText(const LogReport& report, std::size_t top);
std::string LogReportToHtml(const LogReport& report, std::size_t top);

}  // namespace dbmedic::diagnose
