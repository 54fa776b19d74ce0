#include "diagnose/session.hpp"

#include <fmt/format.h>

namespace dbmedic::diagnose {

std::string ConnInfoFromConfig(const core::Config& config) {
  return pg::ConnInfo(config.Optional("cluster.host").value_or(""),
                      static_cast<int>(config.Int("cluster.port")), config.String("cluster.user"),
                      config.String("cluster.dbname"));
}

pg::Connection OpenDiagnoseSession(const std::string& conninfo,
                                   std::chrono::milliseconds statement_timeout) {
  pg::Connection conn = pg::Connection::Open(conninfo);
  conn.Exec(fmt::format("SET application_name = {}; SET statement_timeout = {}",
                        pg::QuoteLiteral(kApplicationName), statement_timeout.count()));
  return conn;
}

}  // namespace dbmedic::diagnose
