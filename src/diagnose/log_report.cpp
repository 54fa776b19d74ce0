#include "diagnose/log_report.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"

namespace dbmedic::diagnose {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kSampleLines = 400;

struct Task {
  std::size_t file = 0;
  std::uint64_t begin = 0;
  std::uint64_t end = UINT64_MAX;
};

bool NameSaysCsv(const fs::path& path) {
  return path.filename().string().find(".csv") != std::string::npos;
}

// The offset of the first line at or after `offset` (not counting the partial line `offset`
// falls into) for which `starts` holds; the file size if there is none.
template <typename Pred>
std::uint64_t FindMessageStart(const fs::path& path, std::uint64_t offset, Pred starts) {
  auto source = OpenFileRange(path, offset, UINT64_MAX);
  std::string window;
  std::string buffer(std::size_t{1} << 20, '\0');
  std::uint64_t window_offset = offset;  // file offset of window[0]
  bool skipped_first = offset == 0;
  for (;;) {
    std::size_t n = source->Read(buffer.data(), buffer.size());
    if (n == 0) return window_offset + window.size();
    window.append(buffer.data(), n);
    std::size_t pos = 0;
    for (;;) {
      std::size_t nl = window.find('\n', pos);
      if (nl == std::string::npos) break;
      if (!skipped_first) {
        skipped_first = true;
      } else {
        std::string_view line(window.data() + pos, nl - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (starts(line)) return window_offset + pos;
      }
      pos = nl + 1;
    }
    window.erase(0, pos);
    window_offset += pos;
  }
}

std::vector<std::string> FirstLines(const fs::path& path) {
  auto source = OpenLogFile(path);
  LineReader reader(*source, std::size_t{1} << 20);
  std::vector<std::string> lines;
  std::string_view line;
  while (lines.size() < kSampleLines && reader.Next(line)) lines.emplace_back(line);
  return lines;
}

std::vector<Task> PlanTasks(const std::vector<LogFileInfo>& files, int jobs,
                            std::uint64_t min_chunk) {
  std::vector<Task> tasks;
  for (std::size_t f = 0; f < files.size(); ++f) {
    const LogFileInfo& info = files[f];
    std::uint64_t chunks = 1;
    if (info.compression == Compression::kNone && jobs > 1 && min_chunk > 0) {
      chunks = std::min<std::uint64_t>(static_cast<std::uint64_t>(jobs) * 4,
                                       info.size / min_chunk);
      chunks = std::max<std::uint64_t>(chunks, 1);
    }
    if (chunks == 1) {
      tasks.push_back(Task{f, 0, UINT64_MAX});
      continue;
    }
    std::optional<LogLinePrefix> prefix;
    if (info.format == LogFormat::kStderr) prefix.emplace(info.log_line_prefix);
    std::vector<std::uint64_t> bounds{0};
    for (std::uint64_t c = 1; c < chunks; ++c) {
      std::uint64_t b = FindMessageStart(info.path, info.size * c / chunks, [&](auto line) {
        return prefix ? StartsStderrMessage(line, *prefix) : StartsCsvRecord(line);
      });
      if (b > bounds.back() && b < info.size) bounds.push_back(b);
    }
    bounds.push_back(UINT64_MAX);
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
      tasks.push_back(Task{f, bounds[i], bounds[i + 1]});
    }
  }
  return tasks;
}

LogStats RunTask(const LogFileInfo& info, const Task& task) {
  std::unique_ptr<ByteSource> source = info.compression == Compression::kNone
                                           ? OpenFileRange(info.path, task.begin, task.end)
                                           : OpenLogFile(info.path);
  LineReader reader(*source);
  LogStats stats;
  LogAnalyzer analyzer(stats);
  ReadCounters counters;
  auto consume = [&](const LogEntry& e) { analyzer.Consume(e); };
  if (info.format == LogFormat::kCsv) {
    ReadCsvLog(reader, consume, counters);
  } else {
    LogLinePrefix prefix(info.log_line_prefix);
    ReadStderrLog(reader, prefix, consume, counters);
  }
  analyzer.Finish();
  stats.bytes = reader.bytes();
  stats.lines = counters.lines;
  stats.entries = counters.entries;
  stats.unparsed_lines = counters.unparsed_lines;
  return stats;
}

}  // namespace

LogFileInfo InspectLogFile(const fs::path& path, const std::optional<std::string>& prefix) {
  LogFileInfo info;
  info.path = path;
  info.compression = DetectCompression(path);
  std::error_code ec;
  info.size = fs::file_size(path, ec);
  std::vector<std::string> lines = FirstLines(path);
  auto first = std::find_if(lines.begin(), lines.end(), [](auto& l) { return !l.empty(); });
  if (NameSaysCsv(path) || (first != lines.end() && StartsCsvRecord(*first))) {
    info.format = LogFormat::kCsv;
    return info;
  }
  info.format = LogFormat::kStderr;
  if (prefix) {
    info.log_line_prefix = *prefix;
    return info;
  }
  auto detected = DetectPrefix(lines, CommonPrefixes());
  if (!detected) {
    if (first == lines.end()) {  // an empty file: nothing to recognise, nothing to parse
      info.log_line_prefix = "%m [%p] ";
      return info;
    }
    throw Error(ErrorCode::kUsage,
                fmt::format("unable to recognise the log_line_prefix of log file '{}': no common "
                            "prefix matches its first lines",
                            path.string()),
                "pass the server's setting: --log-line-prefix \"$(psql -Atc 'SHOW "
                "log_line_prefix')\"; log-report reads English messages only (lc_messages=C)");
  }
  info.log_line_prefix = *detected;
  return info;
}

LogReport AnalyzeLogs(const std::vector<fs::path>& files, const LogReportOptions& options) {
  auto started = std::chrono::steady_clock::now();
  LogReport report;
  for (const fs::path& path : files) {
    report.files.push_back(InspectLogFile(path, options.log_line_prefix));
  }
  int jobs = options.jobs > 0 ? options.jobs
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  report.jobs = jobs;
  std::vector<Task> tasks = PlanTasks(report.files, jobs, options.min_chunk_bytes);
  std::vector<LogStats> results(tasks.size());
  std::vector<std::exception_ptr> failures(tasks.size());
  std::atomic<std::size_t> next{0};
  {
    std::vector<std::jthread> workers;
    int n = std::min<int>(jobs, static_cast<int>(tasks.size()));
    for (int w = 0; w < n; ++w) {
      workers.emplace_back([&] {
        for (std::size_t t = next++; t < tasks.size(); t = next++) {
          try {
            results[t] = RunTask(report.files[tasks[t].file], tasks[t]);
          } catch (...) {
            failures[t] = std::current_exception();
          }
        }
      });
    }
  }
  for (auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
  for (LogStats& r : results) report.stats.Merge(std::move(r));
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::debug("log-report: {} files, {} tasks, {} lines in {:.2f} s", files.size(),
                tasks.size(), report.stats.lines, report.seconds);
  return report;
}

}  // namespace dbmedic::diagnose
