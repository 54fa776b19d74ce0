#include "monitor/target.hpp"

#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "monitor/toml_section.hpp"
#include "pg/connection.hpp"

namespace dbmedic::monitor {
namespace {

std::string FileName(const core::Config& config) {
  return config.file() ? config.file()->string() : std::string();
}

MonitorTarget FromClusterKeys(const core::Config& config) {
  MonitorTarget target;
  target.name = config.String("cluster.name");
  target.conninfo = pg::ConnInfo(config.Optional("cluster.host").value_or(""),
                                 static_cast<int>(config.Int("cluster.port")),
                                 config.String("cluster.user"), config.String("cluster.dbname"));
  if (auto dir = config.Optional("cluster.data_dir"); dir && !dir->empty()) {
    target.data_dir = config.Path("cluster.data_dir");
  }
  return target;
}

MonitorTarget FromSection(const SectionReader& r, const std::filesystem::path& base) {
  r.RejectUnknown({"name", "conninfo", "host", "port", "user", "dbname", "data_dir"});
  MonitorTarget target;
  target.name = r.RequireString("name");
  auto conninfo = r.String("conninfo");
  bool has_parts = r.String("host") || r.Integer("port") || r.String("user") || r.String("dbname");
  if (conninfo && has_parts) {
    r.Fail("conninfo", "cannot be combined with host/port/user/dbname; use one or the other");
  }
  if (conninfo) {
    target.conninfo = *conninfo;
  } else {
    auto port = r.Integer("port").value_or(5432);
    if (port < 1 || port > 65535) r.Fail("port", fmt::format("must be 1..65535; got {}", port));
    target.conninfo = pg::ConnInfo(r.String("host").value_or(""), static_cast<int>(port),
                                   r.String("user").value_or("postgres"),
                                   r.String("dbname").value_or("postgres"));
  }
  if (auto dir = r.String("data_dir")) {
    std::filesystem::path path(*dir);
    target.data_dir = path.is_relative() ? base / path : path;
  }
  return target;
}

}  // namespace

std::vector<MonitorTarget> LoadTargets(const core::Config& config) {
  auto tables = SectionTables(config.Raw(), "monitor_target");
  if (tables.empty()) return {FromClusterKeys(config)};
  std::filesystem::path base =
      config.file() ? config.file()->parent_path() : std::filesystem::current_path();
  std::vector<MonitorTarget> targets;
  std::set<std::string> names;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    SectionReader r(*tables[i], "monitor_target", i + 1, FileName(config));
    if (auto name = r.String("name")) r.set_display_name(*name);
    targets.push_back(FromSection(r, base));
    if (!names.insert(targets.back().name).second) {
      r.Fail("name", fmt::format("'{}' is used by another [[monitor_target]]; names must be "
                                 "unique", targets.back().name));
    }
  }
  return targets;
}

std::string WithConnectOptions(const std::string& conninfo, int connect_timeout_seconds) {
  bool uri = conninfo.starts_with("postgresql://") || conninfo.starts_with("postgres://");
  std::string extra_timeout = fmt::format("connect_timeout={}", connect_timeout_seconds);
  std::string extra_name = "application_name=dbmedic-monitor";
  if (!uri) return fmt::format("{} {} {}", conninfo, extra_timeout, extra_name);
  char sep = conninfo.find('?') == std::string::npos ? '?' : '&';
  return fmt::format("{}{}{}&{}", conninfo, sep, extra_timeout, extra_name);
}

}  // namespace dbmedic::monitor
