#include "pg/connection.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::pg {
namespace {

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Silences libpq's notice printing on stderr; notices are not errors for us.
void IgnoreNotice(void*, const char*) {}

}  // namespace

void Result::Deleter::operator()(pg_result* r) const noexcept { PQclear(r); }
void Connection::Deleter::operator()(pg_conn* c) const noexcept { PQfinish(c); }

Result::Result(pg_result* res) : res_(res) {}

int Result::rows() const { return res_ ? PQntuples(res_.get()) : 0; }
int Result::columns() const { return res_ ? PQnfields(res_.get()) : 0; }

int Result::Column(std::string_view name) const {
  int col = res_ ? PQfnumber(res_.get(), std::string(name).c_str()) : -1;
  if (col < 0) throw Error(ErrorCode::kInternal, fmt::format("result has no column '{}'", name));
  return col;
}

bool Result::IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }

std::string_view Result::Get(int row, int col) const {
  if (IsNull(row, col)) return {};
  return {PQgetvalue(res_.get(), row, col),
          static_cast<size_t>(PQgetlength(res_.get(), row, col))};
}

std::optional<std::string> Result::GetOptional(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return std::string(Get(row, col));
}

std::int64_t Result::GetInt(int row, int col) const {
  std::string_view text = Get(row, col);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (IsNull(row, col) || ec != std::errc() || ptr != text.data() + text.size()) {
    throw Error(ErrorCode::kInternal,
                fmt::format("column {} of row {} is not an integer: '{}'",
                            PQfname(res_.get(), col), row, text));
  }
  return v;
}

double Result::GetDouble(int row, int col) const {
  if (IsNull(row, col)) {
    throw Error(ErrorCode::kInternal,
                fmt::format("column {} of row {} is NULL", PQfname(res_.get(), col), row));
  }
  return std::strtod(std::string(Get(row, col)).c_str(), nullptr);
}

bool Result::GetBool(int row, int col) const { return Get(row, col) == "t"; }

Connection::Connection(pg_conn* conn) : conn_(conn) {}

Connection Connection::Open(const std::string& conninfo) {
  Connection conn(PQconnectdb(conninfo.c_str()));
  if (!conn.conn_) throw Error(ErrorCode::kPostgres, "libpq could not allocate a connection");
  if (PQstatus(conn.raw()) != CONNECTION_OK) {
    throw Error(ErrorCode::kPostgres,
                fmt::format("unable to connect to PostgreSQL ({}): {}", conn.Describe(),
                            Trimmed(PQerrorMessage(conn.raw()))),
                "check that the cluster is running and that cluster.host / cluster.port / "
                "cluster.user in the config point at it");
  }
  PQsetNoticeProcessor(conn.raw(), IgnoreNotice, nullptr);
  return conn;
}

namespace {

Result Check(pg_conn* conn, pg_result* raw, std::string_view sql) {
  Result res(raw);
  auto status = PQresultStatus(raw);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_OUT ||
      status == PGRES_COPY_IN) {
    return res;
  }
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = raw ? Trimmed(PQresultErrorMessage(raw)) : Trimmed(PQerrorMessage(conn));
  std::string shown(sql.substr(0, 200));
  throw Error(ErrorCode::kPostgres, fmt::format("query failed{}: {} (query: {})",
                                                state ? fmt::format(" [{}]", state) : "",
                                                message, shown));
}

}  // namespace

Result Connection::Exec(std::string_view sql) {
  return Check(raw(), PQexec(raw(), std::string(sql).c_str()), sql);
}

Result Connection::ExecParams(std::string_view sql,
                              const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return Check(raw(),
               PQexecParams(raw(), std::string(sql).c_str(), static_cast<int>(values.size()),
                            nullptr, values.data(), nullptr, nullptr, 0),
               sql);
}

Result Connection::ExecPrepared(std::string_view sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string text(sql);
    std::string name = fmt::format("dbmedic_{}", prepared_.size() + 1);
    Check(raw(), PQprepare(raw(), name.c_str(), text.c_str(), 0, nullptr), sql);
    it = prepared_.emplace(std::move(text), std::move(name)).first;
  }
  return Check(raw(),
               PQexecPrepared(raw(), it->second.c_str(), 0, nullptr, nullptr, nullptr, 0), sql);
}

std::string Connection::Scalar(std::string_view sql) {
  Result r = Exec(sql);
  if (r.rows() == 0 || r.columns() == 0) return {};
  return r.GetString(0, 0);
}

int Connection::ServerVersionNum() const { return PQserverVersion(raw()); }

std::string Connection::Describe() const {
  const char* host = PQhost(raw());
  const char* port = PQport(raw());
  const char* db = PQdb(raw());
  return fmt::format("host={} port={} dbname={}", host ? host : "", port ? port : "",
                     db ? db : "");
}

std::string QuoteIdent(std::string_view ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(std::string_view literal) {
  // With standard_conforming_strings on (the default since 9.1), doubling quotes suffices;
  // E'' form handles backslashes regardless of that setting.
  bool has_backslash = literal.find('\\') != std::string_view::npos;
  std::string out = has_backslash ? "E'" : "'";
  for (char c : literal) {
    if (c == '\'') out += '\'';
    if (c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string ConnInfo(std::string_view host, int port, std::string_view user,
                     std::string_view dbname) {
  auto q = [](std::string_view v) {
    std::string out = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  };
  std::string out;
  if (!host.empty()) out += fmt::format("host={} ", q(host));
  if (port > 0) out += fmt::format("port={} ", port);
  if (!user.empty()) out += fmt::format("user={} ", q(user));
  if (!dbname.empty()) out += fmt::format("dbname={} ", q(dbname));
  out += "connect_timeout=10";
  return out;
}

std::optional<std::string> LocalSocketFile(std::string_view host, int port) {
  // Debian's libpq: DEFAULT_PGSOCKET_DIR (pg_config_manual.h), as `strace` shows it connecting.
  constexpr std::string_view kDefaultSocketDir = "/var/run/postgresql";
  for (const char* env : {"PGHOSTADDR", "PGSERVICE", "PGSERVICEFILE"}) {
    if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return std::nullopt;
  }
  std::string dir(host);
  if (dir.empty()) {
    const char* env = std::getenv("PGHOST");
    dir = env != nullptr && *env != '\0' ? std::string(env) : std::string(kDefaultSocketDir);
  }
  if (port <= 0 || dir.front() != '/' || dir.find(',') != std::string::npos) return std::nullopt;
  return fmt::format("{}/.s.PGSQL.{}", dir, port);
}

}  // namespace dbmedic::pg
