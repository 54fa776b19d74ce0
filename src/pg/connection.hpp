// libpq connection and results, owned by RAII handles. Errors become Error(kPostgres) with the
// server's message and SQLSTATE. Not thread-safe: one Connection per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace dbmedic::pg {

class Result {
 public:
  Result() = default;
  explicit Result(pg_result* res);

  int rows() const;
  int columns() const;
  int Column(std::string_view name) const;  // throws Error(kInternal) if absent
  bool IsNull(int row, int col) const;
  std::string_view Get(int row, int col) const;              // "" for NULL
  std::string GetString(int row, int col) const { return std::string(Get(row, col)); }
  std::optional<std::string> GetOptional(int row, int col) const;
  std::int64_t GetInt(int row, int col) const;                // throws on NULL / not a number
  double GetDouble(int row, int col) const;
  bool GetBool(int row, int col) const;                       // 't' / 'f'
  // By column name, for readability in collectors.
  std::string_view Get(int row, std::string_view col) const { return Get(row, Column(col)); }

 private:
  struct Deleter {
    void operator()(pg_result* r) const noexcept;
  };
  std::unique_ptr<pg_result, Deleter> res_;
};

class Connection {
 public:
  // conninfo: a libpq connection string or URI. Throws Error(kPostgres) naming host/port and the
  // server's message, with a hint to check that the cluster is running.
  static Connection Open(const std::string& conninfo);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  // Runs SQL (no parameters); throws Error(kPostgres) with the SQLSTATE on failure.
  Result Exec(std::string_view sql);
  // $1, $2... text parameters; nullopt = NULL.
  Result ExecParams(std::string_view sql, const std::vector<std::optional<std::string>>& params);
  // First column of the first row ("" if no rows), for one-value queries.
  std::string Scalar(std::string_view sql);
  // Like Exec, for a constant statement this connection runs again and again (the monitor's
  // collectors, every few seconds): the server parses and plans it once (PREPARE), later runs
  // only execute it, which is most of a catalog query's server-side CPU.
  Result ExecPrepared(std::string_view sql);

  int ServerVersionNum() const;  // e.g. 150018
  std::string Describe() const;  // "host=... port=... dbname=..." for messages
  pg_conn* raw() const { return conn_.get(); }

 private:
  struct Deleter {
    void operator()(pg_conn* c) const noexcept;
  };
  explicit Connection(pg_conn* conn);
  std::unique_ptr<pg_conn, Deleter> conn_;
  // SQL -> statement name; looked up by string_view without copying the SQL on every run.
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  std::unordered_map<std::string, std::string, SqlHash, std::equal_to<>> prepared_;
};

// Quotes an identifier / literal for SQL text (uses libpq's escaping rules).
std::string QuoteIdent(std::string_view ident);
std::string QuoteLiteral(std::string_view literal);

// Builds "host=H port=P user=U dbname=D" with proper quoting of values.
std::string ConnInfo(std::string_view host, int port, std::string_view user,
                     std::string_view dbname);

// The unix socket file libpq would connect to for ConnInfo(host, port, ...) when that file is
// the only place it would try: `host` (or, when empty, $PGHOST, else libpq's default directory
// /var/run/postgresql) is one absolute directory. nullopt when libpq would use TCP, several
// hosts, $PGHOSTADDR or a service file. A best-effort caller that finds no file there knows the
// connection would fail without loading libpq and its ~25 libraries (tens of ms).
std::optional<std::string> LocalSocketFile(std::string_view host, int port);

}  // namespace dbmedic::pg
