// Opening the connection diagnose commands use: from the cluster.* options, with
// application_name "dbmedic-diagnose" (so samplers can leave their own session out) and the
// statement_timeout of diagnose.statement_timeout.
#pragma once

#include <chrono>
#include <string>

#include "core/config.hpp"
#include "pg/connection.hpp"

namespace dbmedic::diagnose {

inline constexpr std::string_view kApplicationName = "dbmedic-diagnose";

// The libpq conninfo of the configured cluster.
std::string ConnInfoFromConfig(const core::Config& config);

// Opens `conninfo` and sets application_name and statement_timeout for the session.
// Throws Error(kPostgres) naming the server when it cannot connect.
pg::Connection OpenDiagnoseSession(const std::string& conninfo,
                                   std::chrono::milliseconds statement_timeout);

}  // namespace dbmedic::diagnose
