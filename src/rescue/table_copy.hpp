// Streams rows from one PostgreSQL connection to another with COPY: COPY ... TO STDOUT on
// `from`, COPY ... FROM STDIN on `to`, chunk by chunk, without holding the table in memory. The
// format is the caller's (both statements must name the same): text only needs the same text
// form of each type on both sides; binary (CopyFormatFor) also the same binary form.
#pragma once

#include <cstdint>
#include <string>

#include "pg/connection.hpp"

namespace dbmedic::rescue {

// `copy_out` is "COPY (SELECT ...) TO STDOUT" (or COPY t (cols) TO STDOUT), `copy_in` is
// "COPY t (cols) FROM STDIN". Returns the rows the receiving server stored (its COPY command
// tag, so nobody counts them again). Throws Error(kPostgres) with the server's
// message when either side fails; `to` is then in a failed transaction if it was in one.
// " (FORMAT binary)" when every copied column of `table_oid` (on `conn`) has a built-in type
// (OID below 16384, arrays of them included): the side cluster and the live one run the same
// server, so those have the same binary form, which the receiving server reads without parsing
// (numerics, timestamps: ~20 % of the COPY of an ordinary table). Otherwise "" (text): a
// user-defined type may carry another OID in the live cluster, which binary arrays and records
// name.
std::string CopyFormatFor(pg::Connection& conn, const std::string& table_oid);

std::int64_t CopyRows(pg::Connection& from, const std::string& copy_out, pg::Connection& to,
                       const std::string& copy_in);

}  // namespace dbmedic::rescue
