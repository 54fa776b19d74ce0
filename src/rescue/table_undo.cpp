#include "rescue/table_undo.hpp"

#include <future>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/subprocess.hpp"
#include "rescue/table_copy.hpp"

namespace dbmedic::rescue {
namespace {

using Params = std::vector<std::optional<std::string>>;

std::vector<std::string> Column0(pg::Result r) {
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.GetString(i, 0));
  return out;
}

// Copied columns: not dropped, not generated (PostgreSQL computes those).
std::vector<std::string> Columns(pg::Connection& conn, const std::string& oid) {
  return Column0(conn.ExecParams(
      "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 "
      "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
      {oid}));
}

std::vector<std::string> PrimaryKey(pg::Connection& conn, const std::string& oid) {
  return Column0(conn.ExecParams(
      "SELECT quote_ident(a.attname) FROM pg_index i JOIN pg_attribute a "
      "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
      "WHERE i.indrelid = $1::oid AND i.indisprimary "
      "ORDER BY array_position(i.indkey::int2[], a.attnum)",
      {oid}));
}

std::string Join(const std::vector<std::string>& items, std::string_view prefix,
                 std::string_view sep) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += sep;
    out += fmt::format("{}{}", prefix, item);
  }
  return out;
}

// pg_dump -t of one table, one section, from the side cluster. The pattern is quoted so that
// the name is taken literally.
std::string DumpSection(const SideDump& dump, const std::string& schema, const std::string& table,
                        std::string_view section) {
  auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  core::RunOptions run;
  if (core::IsRoot()) run.as_user = dump.os_user;
  const core::ProcessResult r = core::RunProcess(
      {(dump.bin_dir / "pg_dump").string(), "--dbname", dump.conninfo, "--schema-only",
       fmt::format("--section={}", section), "--table", quote(schema) + "." + quote(table)},
      run);
  if (!r.ok()) {
    throw Error(ErrorCode::kPostgres,
                fmt::format("pg_dump of the definition of {}.{} from the side cluster failed "
                            "(exit {}): {}",
                            schema, table, r.exit_code, r.err),
                "check that pg_dump of PostgreSQL 15 is installed (postgresql-client-15)");
  }
  // pg_dump of recent minor releases frames its script with psql meta-commands (\restrict KEY);
  // the script is run through libpq here, not psql, so they are dropped.
  std::string sql;
  std::size_t pos = 0;
  while (pos < r.out.size()) {
    std::size_t end = r.out.find('\n', pos);
    if (end == std::string::npos) end = r.out.size();
    if (r.out[pos] != '\\') sql.append(r.out, pos, end - pos).append("\n");
    pos = end + 1;
  }
  return sql;
}

std::int64_t Count(pg::Connection& conn, const std::string& sql) {
  return conn.Exec(sql).GetInt(0, 0);
}

}  // namespace

TableUndo::TableUndo(pg::Connection& side, pg::Connection& live, const std::string& name,
                     const UndoRequest& request, int index)
    : side_(side), live_(live), request_(request),
      temp_(fmt::format("pg_temp.dbmedic_undo_{}", index)) {
  pg::Result r = side_.ExecParams(
      "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname, "
      "c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
      {name});
  if (r.rows() == 0) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("table '{}' did not exist in database {} at the recovery target",
                            name, request.database),
                "check the name (schema.table) and the time or xid given with --before");
  }
  side_oid_ = r.GetString(0, 0);
  plan_.name = r.GetString(0, 1);
  plan_.destination = plan_.name;
  pg::Result l = live_.ExecParams("SELECT to_regclass($1)::oid", {plan_.name});
  if (!l.IsNull(0, 0)) live_oid_ = l.GetString(0, 0);
  references_ = Column0(side_.ExecParams(
      "SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
      "FROM pg_constraint con JOIN pg_class c ON c.oid = con.confrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE con.conrelid = $1::oid AND con.contype = 'f' AND con.confrelid <> con.conrelid",
      {side_oid_}));
  if (request.into_schema) {
    plan_.action = TableAction::kCopyInto;
    plan_.destination = pg::QuoteIdent(*request.into_schema) + "." +
                        pg::QuoteIdent(r.GetString(0, 3));
  } else if (!live_oid_) {
    plan_.action = TableAction::kRecreate;
  } else if (*live_oid_ == side_oid_) {
    plan_.action = TableAction::kRestoreRows;
  } else {
    throw Error(ErrorCode::kConflict,
                fmt::format("table {} was dropped and recreated after the recovery target (OID "
                            "{} then, {} now): its old rows cannot be merged into a different "
                            "table automatically",
                            plan_.name, side_oid_, *live_oid_),
                fmt::format("bring the old content beside it with --into SCHEMA (e.g. --into "
                            "recovered), then merge what you need into {}",
                            plan_.name));
  }
}

const TablePlan& TableUndo::Plan(const SideDump& dump) {
  plan_.old_rows = Count(side_, fmt::format("SELECT count(*) FROM ONLY {}", plan_.name));
  if (live_oid_) {
    plan_.live_rows = Count(live_, fmt::format("SELECT count(*) FROM ONLY {}", plan_.name));
  }
  switch (plan_.action) {
    case TableAction::kRecreate: PlanRecreate(dump); break;
    case TableAction::kRestoreRows: PlanRows(); break;
    case TableAction::kCopyInto: PlanInto(); break;
  }
  return plan_;
}

void TableUndo::PlanRecreate(const SideDump& dump) {
  pg::Result names = side_.ExecParams(
      "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
      "ON n.oid = c.relnamespace WHERE c.oid = $1::oid",
      {side_oid_});
  // Two pg_dump runs of ~0.3 s each, mostly process start and catalog queries: side by side.
  auto post_data = std::async(std::launch::async, [&] {
    return DumpSection(dump, names.GetString(0, 0), names.GetString(0, 1), "post-data");
  });
  pre_data_ = DumpSection(dump, names.GetString(0, 0), names.GetString(0, 1), "pre-data");
  post_data_ = post_data.get();
  plan_.rows_to_insert = plan_.old_rows;
  plan_.match = "all rows (the table is recreated)";
  // Owned sequences (serial and identity columns) come back with their old values.
  pg::Result seqs = side_.ExecParams(
      "SELECT quote_ident(n.nspname) || '.' || quote_ident(s.relname) FROM pg_depend d "
      "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
      "JOIN pg_namespace n ON n.oid = s.relnamespace "
      "WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1::oid AND d.deptype IN ('a', 'i')",
      {side_oid_});
  for (int i = 0; i < seqs.rows(); ++i) {
    const std::string seq = seqs.GetString(i, 0);
    pg::Result v = side_.Exec(fmt::format("SELECT last_value, is_called FROM {}", seq));
    sequences_.push_back({seq, v.GetString(0, 0), v.GetBool(0, 1)});
    plan_.sequences.push_back(fmt::format("{} = {}", seq, v.GetString(0, 0)));
  }
  // Foreign keys of other tables that pointed at it (DROP ... CASCADE removed them).
  side_.Exec("SET search_path = ''");  // definitions with qualified names
  pg::Result fks = side_.ExecParams(
      "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), con.conname, "
      "pg_get_constraintdef(con.oid) FROM pg_constraint con "
      "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE con.confrelid = $1::oid AND con.contype = 'f' AND con.conrelid <> con.confrelid "
      "ORDER BY 1, 2",
      {side_oid_});
  side_.Exec("RESET search_path");
  for (int i = 0; i < fks.rows(); ++i) {
    ForeignKey fk{fks.GetString(i, 0), fks.GetString(i, 1), fks.GetString(i, 2)};
    pg::Result present = live_.ExecParams(
        "SELECT to_regclass($1) IS NOT NULL, EXISTS (SELECT 1 FROM pg_constraint WHERE "
        "conrelid = to_regclass($1) AND conname = $2)",
        {fk.table, fk.name});
    if (!present.GetBool(0, 0)) {
      plan_.notes.push_back(fmt::format("foreign key {} of {} not restored: {} is gone too",
                                        fk.name, fk.table, fk.table));
      continue;
    }
    if (present.GetBool(0, 1)) continue;  // still there (the drop did not cascade to it)
    plan_.foreign_keys.push_back(fmt::format("{}.{}", fk.table, pg::QuoteIdent(fk.name)));
    foreign_keys_.push_back(std::move(fk));
  }
}

void TableUndo::LoadOldRowsIntoTemp() {
  const std::string cols = Join(columns_, "", ", ");
  live_.Exec(fmt::format("DROP TABLE IF EXISTS {}", temp_));
  live_.Exec(fmt::format("CREATE TEMP TABLE {} AS SELECT {} FROM ONLY {} WITH NO DATA", temp_,
                         cols, plan_.name));
  CopyRows(side_, fmt::format("COPY (SELECT {} FROM ONLY {}) TO STDOUT", cols, plan_.name), live_,
           fmt::format("COPY {} ({}) FROM STDIN", temp_, cols));
  if (!key_.empty()) live_.Exec(fmt::format("CREATE INDEX ON {} ({})", temp_, Join(key_, "", ", ")));
  live_.Exec(fmt::format("ANALYZE {}", temp_));
}

std::string TableUndo::MatchCondition() const {
  std::vector<std::string> parts;
  for (const std::string& k : key_) parts.push_back(fmt::format("t.{0} = o.{0}", k));
  return Join(parts, "", " AND ");
}

// Compared as text so that every type (json, point...) can be compared.
std::string TableUndo::DistinctCondition() const {
  return fmt::format("ROW({}) IS DISTINCT FROM ROW({})", Join(columns_, "t.", "::text, ") + "::text",
                     Join(columns_, "o.", "::text, ") + "::text");
}

void TableUndo::PlanRows() {
  // Columns that exist on both sides (a column added since the incident keeps its default).
  const std::vector<std::string> old_cols = Columns(side_, side_oid_);
  const std::vector<std::string> live_cols = Columns(live_, *live_oid_);
  for (const std::string& c : old_cols) {
    if (std::find(live_cols.begin(), live_cols.end(), c) != live_cols.end()) columns_.push_back(c);
  }
  key_ = PrimaryKey(live_, *live_oid_);
  LoadOldRowsIntoTemp();
  if (key_.empty()) {
    plan_.match = "whole rows (no primary key: changed rows cannot be told from new ones)";
    const std::string cols = Join(columns_, "", ", ");
    plan_.rows_to_insert = Count(live_, fmt::format(
        "SELECT count(*) FROM (SELECT {0} FROM {1} EXCEPT ALL SELECT {0} FROM ONLY {2}) x", cols,
        temp_, plan_.name));
    return;
  }
  plan_.match = fmt::format("primary key ({})", Join(key_, "", ", "));
  plan_.rows_to_insert = Count(live_, fmt::format(
      "SELECT count(*) FROM {} o WHERE NOT EXISTS (SELECT 1 FROM ONLY {} t WHERE {})", temp_,
      plan_.name, MatchCondition()));
  plan_.conflicting_rows = Count(live_, fmt::format(
      "SELECT count(*) FROM {} o JOIN ONLY {} t ON {} WHERE {}", temp_, plan_.name,
      MatchCondition(), DistinctCondition()));
  if (plan_.conflicting_rows > 0 && request_.on_conflict == OnConflict::kRefuse) RefuseConflicts();
}

void TableUndo::RefuseConflicts() const {
  pg::Result sample = live_.Exec(fmt::format(
      "SELECT ROW({})::text FROM {} o JOIN ONLY {} t ON {} WHERE {} LIMIT 3",
      Join(key_, "o.", ", "), temp_, plan_.name, MatchCondition(), DistinctCondition()));
  std::vector<std::string> keys;
  for (int i = 0; i < sample.rows(); ++i) keys.push_back(sample.GetString(i, 0));
  throw Error(ErrorCode::kConflict,
              fmt::format("{} row(s) of {} were changed after the incident (same {}, other "
                          "content), e.g. {}; undo does not overwrite them unless told how",
                          plan_.conflicting_rows, plan_.name, plan_.match, fmt::join(keys, ", ")),
              "--on-conflict skip keeps today's rows, --on-conflict replace puts the old ones "
              "back, --into SCHEMA copies the old table beside it to merge by hand");
}

void TableUndo::PlanInto() {
  columns_ = Columns(side_, side_oid_);
  pg::Result exists = live_.ExecParams("SELECT to_regclass($1) IS NOT NULL", {plan_.destination});
  if (exists.GetBool(0, 0)) {
    throw Error(ErrorCode::kConflict,
                fmt::format("{} already exists in the live cluster", plan_.destination),
                "choose another schema with --into, or drop that table first");
  }
  plan_.rows_to_insert = plan_.old_rows;
  plan_.match = fmt::format("all rows, beside {}", plan_.name);
}

TableOutcome TableUndo::Apply() {
  switch (plan_.action) {
    case TableAction::kRecreate: return ApplyRecreate();
    case TableAction::kRestoreRows: return ApplyRows();
    case TableAction::kCopyInto: return ApplyInto();
  }
  throw Error(ErrorCode::kInternal, "unknown table action");
}

TableOutcome TableUndo::ApplyRecreate() {
  TableOutcome out{plan_.name, 0, 0, {}, {}};
  live_.Exec(pre_data_);
  live_.Exec("RESET search_path");  // pg_dump's script empties it
  const std::string format = CopyFormatFor(side_, side_oid_);
  out.inserted = CopyRows(side_, fmt::format("COPY {} TO STDOUT{}", plan_.name, format), live_,
                          fmt::format("COPY {} FROM STDIN{}", plan_.name, format));
  live_.Exec(post_data_);
  live_.Exec("RESET search_path");
  for (const Sequence& s : sequences_) {
    live_.ExecParams("SELECT pg_catalog.setval($1, $2::bigint, $3::boolean)",
                     {s.name, s.last_value, s.is_called ? "true" : "false"});
  }
  AddForeignKeys(out);
  return out;
}

void TableUndo::AddForeignKeys(TableOutcome& out) {
  for (const ForeignKey& fk : foreign_keys_) {
    const std::string add = fmt::format("ALTER TABLE {} ADD CONSTRAINT {} {}", fk.table,
                                        pg::QuoteIdent(fk.name), fk.definition);
    live_.Exec("SAVEPOINT dbmedic_fk");
    try {
      live_.Exec(add);
      live_.Exec("RELEASE SAVEPOINT dbmedic_fk");
      out.foreign_keys_added.push_back(fmt::format("{}.{}", fk.table, fk.name));
      continue;
    } catch (const Error& e) {
      live_.Exec("ROLLBACK TO SAVEPOINT dbmedic_fk");
      if (fk.definition.ends_with("NOT VALID")) throw;
      live_.Exec(add + " NOT VALID");
      live_.Exec("RELEASE SAVEPOINT dbmedic_fk");
      out.foreign_keys_added.push_back(fmt::format("{}.{} (NOT VALID)", fk.table, fk.name));
      out.warnings.push_back(fmt::format(
          "foreign key {} of {} added NOT VALID: rows written since the drop violate it ({}); "
          "fix them, then ALTER TABLE {} VALIDATE CONSTRAINT {}",
          fk.name, fk.table, e.what(), fk.table, pg::QuoteIdent(fk.name)));
    }
  }
}

TableOutcome TableUndo::ApplyRows() {
  TableOutcome out{plan_.name, 0, 0, {}, {}};
  const std::string cols = Join(columns_, "", ", ");
  // Locks the table against concurrent changes of the rows compared below; readers go on.
  live_.Exec(fmt::format("LOCK TABLE ONLY {} IN SHARE ROW EXCLUSIVE MODE", plan_.name));
  if (key_.empty()) {
    out.inserted = Count(live_, fmt::format(
        "WITH i AS (INSERT INTO {2} ({0}) OVERRIDING SYSTEM VALUE SELECT {0} FROM {1} "
        "EXCEPT ALL SELECT {0} FROM ONLY {2} RETURNING 1) SELECT count(*) FROM i",
        cols, temp_, plan_.name));
    return out;
  }
  const std::int64_t conflicts = Count(live_, fmt::format(
      "SELECT count(*) FROM {} o JOIN ONLY {} t ON {} WHERE {}", temp_, plan_.name,
      MatchCondition(), DistinctCondition()));
  if (conflicts > 0 && request_.on_conflict == OnConflict::kRefuse) {
    plan_.conflicting_rows = conflicts;
    RefuseConflicts();
  }
  if (conflicts > 0 && request_.on_conflict == OnConflict::kReplace) {
    std::vector<std::string> sets;
    for (const std::string& c : columns_) sets.push_back(fmt::format("{0} = o.{0}", c));
    out.replaced = Count(live_, fmt::format(
        "WITH u AS (UPDATE ONLY {} t SET {} FROM {} o WHERE {} AND {} RETURNING 1) "
        "SELECT count(*) FROM u",
        plan_.name, Join(sets, "", ", "), temp_, MatchCondition(), DistinctCondition()));
  }
  out.inserted = Count(live_, fmt::format(
      "WITH i AS (INSERT INTO {0} ({1}) OVERRIDING SYSTEM VALUE SELECT {2} FROM {3} o WHERE NOT "
      "EXISTS (SELECT 1 FROM ONLY {0} t WHERE {4}) RETURNING 1) SELECT count(*) FROM i",
      plan_.name, cols, Join(columns_, "o.", ", "), temp_, MatchCondition()));
  return out;
}

TableOutcome TableUndo::ApplyInto() {
  TableOutcome out{plan_.name, 0, 0, {}, {}};
  pg::Result defs = side_.ExecParams(
      "SELECT quote_ident(attname) || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute "
      "WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped AND attgenerated = '' "
      "ORDER BY attnum",
      {side_oid_});
  std::vector<std::string> cols;
  for (int i = 0; i < defs.rows(); ++i) cols.push_back(defs.GetString(i, 0));
  live_.Exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", pg::QuoteIdent(*request_.into_schema)));
  live_.Exec(fmt::format("CREATE TABLE {} ({})", plan_.destination, Join(cols, "", ", ")));
  const std::string names = Join(columns_, "", ", ");
  const std::string format = CopyFormatFor(side_, side_oid_);
  out.inserted = CopyRows(
      side_, fmt::format("COPY (SELECT {} FROM ONLY {}) TO STDOUT{}", names, plan_.name, format),
      live_, fmt::format("COPY {} ({}) FROM STDIN{}", plan_.destination, names, format));
  const std::vector<std::string> pk = PrimaryKey(side_, side_oid_);
  if (!pk.empty()) {
    live_.Exec(fmt::format("ALTER TABLE {} ADD PRIMARY KEY ({})", plan_.destination,
                           Join(pk, "", ", ")));
  }
  return out;
}

}  // namespace dbmedic::rescue
