// Streams rows from one PostgreSQL connection to another with COPY (text format, so types only
// need the same text form on both sides): COPY ... TO STDOUT on `from`, COPY ... FROM STDIN on
// `to`, chunk by chunk, without holding the table in memory.
#pragma once

#include <cstdint>
#include <string>

#include "pg/connection.hpp"

namespace dbmedic::rescue {

// `copy_out` is "COPY (SELECT ...) TO STDOUT" (or COPY t (cols) TO STDOUT), `copy_in` is
// "COPY t (cols) FROM STDIN". Returns the rows the receiving server stored (its COPY command
// tag, so nobody counts them again). Throws Error(kPostgres) with the server's
// message when either side fails; `to` is then in a failed transaction if it was in one.
std::int64_t CopyRows(pg::Connection& from, const std::string& copy_out, pg::Connection& to,
                       const std::string& copy_in);

}  // namespace dbmedic::rescue
