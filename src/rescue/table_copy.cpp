#include "rescue/table_copy.hpp"

#include <libpq-fe.h>

#include <memory>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::rescue {
namespace {

struct CopyBufferFree {
  void operator()(char* p) const noexcept { PQfreemem(p); }
};

[[noreturn]] void Fail(pg::Connection& conn, std::string_view what) {
  throw Error(ErrorCode::kPostgres,
              fmt::format("{} failed on {}: {}", what, conn.Describe(), PQerrorMessage(conn.raw())));
}

// The final result of a COPY: its row count ("COPY n"); throws when the server reported an
// error.
std::int64_t FinishCopy(pg::Connection& conn, std::string_view what) {
  std::int64_t rows = 0;
  for (PGresult* raw = PQgetResult(conn.raw()); raw != nullptr; raw = PQgetResult(conn.raw())) {
    pg::Result owned(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK) {
      throw Error(ErrorCode::kPostgres,
                  fmt::format("{} failed on {}: {}", what, conn.Describe(),
                              PQresultErrorMessage(raw)));
    }
    if (const char* tuples = PQcmdTuples(raw); tuples && *tuples) rows = std::stoll(tuples);
  }
  return rows;
}

}  // namespace

std::string CopyFormatFor(pg::Connection& conn, const std::string& table_oid) {
  pg::Result r = conn.ExecParams(
      "SELECT bool_and(t.oid < 16384 AND (t.typelem = 0 OR t.typelem < 16384)) "
      "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
      "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped",
      {table_oid});
  return !r.IsNull(0, 0) && r.GetBool(0, 0) ? " (FORMAT binary)" : "";
}

std::int64_t CopyRows(pg::Connection& from, const std::string& copy_out, pg::Connection& to,
                      const std::string& copy_in) {
  from.Exec(copy_out);  // PGRES_COPY_OUT
  to.Exec(copy_in);     // PGRES_COPY_IN
  // PQgetCopyData hands over one row at a time: rows are passed on in pieces of ~256 kB, not
  // one send per row.
  constexpr std::size_t kPiece = 256 * 1024;
  std::string piece;
  piece.reserve(kPiece + 64 * 1024);
  auto send = [&] {
    if (!piece.empty() && PQputCopyData(to.raw(), piece.data(), static_cast<int>(piece.size())) != 1) {
      Fail(to, "COPY FROM STDIN");
    }
    piece.clear();
  };
  for (;;) {
    char* raw = nullptr;
    const int n = PQgetCopyData(from.raw(), &raw, 0);
    std::unique_ptr<char, CopyBufferFree> buffer(raw);
    if (n == -1) break;  // done
    if (n == -2) {
      PQputCopyEnd(to.raw(), "source failed");
      Fail(from, "COPY TO STDOUT");
    }
    piece.append(buffer.get(), static_cast<std::size_t>(n));
    if (piece.size() >= kPiece) send();
  }
  send();
  try {
    FinishCopy(from, "COPY TO STDOUT");
  } catch (const Error&) {
    PQputCopyEnd(to.raw(), "source failed");
    for (PGresult* r = PQgetResult(to.raw()); r != nullptr; r = PQgetResult(to.raw())) PQclear(r);
    throw;
  }
  if (PQputCopyEnd(to.raw(), nullptr) != 1) Fail(to, "COPY FROM STDIN");
  return FinishCopy(to, "COPY FROM STDIN");
}

}  // namespace dbmedic::rescue
