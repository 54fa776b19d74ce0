#include "diagnose/explain.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "diagnose/fingerprint.hpp"
#include "diagnose/statements.hpp"

namespace dbmedic::diagnose {
namespace {

using nlohmann::json;

constexpr double kLargeTableRows = 10000;   // below this a seq scan is fine
constexpr double kSelectiveFraction = 0.1;  // filter keeps at most 10% of the table
constexpr double kEstimateFactor = 10;      // estimate off by more than 10x
constexpr double kEstimateMinRows = 100;    // ... and the bigger side has at least 100 rows
constexpr double kNestedLoopRows = 1000;    // inner side run this often

double Num(const json& node, const char* key, double fallback = 0) {
  auto it = node.find(key);
  return it != node.end() && it->is_number() ? it->get<double>() : fallback;
}
std::string Str(const json& node, const char* key) {
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}
bool Analyzed(const json& node) { return node.contains("Actual Rows"); }

std::string RelationOf(const json& node) {
  std::string rel = Str(node, "Relation Name");
  if (rel.empty()) return {};
  std::string schema = Str(node, "Schema");
  return schema.empty() ? rel : schema + "." + rel;
}

std::string NodeName(const json& node) {
  std::string rel = RelationOf(node);
  std::string type = Str(node, "Node Type");
  if (type == "ModifyTable" && node.contains("Operation")) type = Str(node, "Operation");  // Update
  if (auto it = node.find("Parallel Aware"); it != node.end() && it->is_boolean() && it->get<bool>()) {
    type = "Parallel " + type;
  }
  return rel.empty() ? type : type + " on " + rel;
}

// Rows a node produced (analyzed: all loops) or is estimated to produce.
double RowsOut(const json& node) {
  if (Analyzed(node)) return Num(node, "Actual Rows") * std::max(1.0, Num(node, "Actual Loops", 1));
  return Num(node, "Plan Rows");
}

enum class Tok { kIdent, kLiteral, kOp, kCast, kOpen, kClose, kOther };
struct Token {
  Tok kind;
  std::string text;
};

std::vector<Token> Tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  auto ident_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '.' ||
           c == '"';
  };
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ') { ++i; continue; }
    if (c == '\'') {
      std::size_t j = i + 1;
      while (j < s.size() && !(s[j] == '\'' && (j + 1 >= s.size() || s[j + 1] != '\''))) {
        j += s[j] == '\'' ? 2 : 1;
      }
      out.push_back({Tok::kLiteral, std::string(s.substr(i, j + 1 - i))});
      i = j + 1;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
      out.push_back({Tok::kLiteral, std::string(s.substr(i, j - i))});
      i = j;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '"') {
      std::size_t j = i;
      while (j < s.size() && ident_char(s[j])) ++j;
      out.push_back({Tok::kIdent, std::string(s.substr(i, j - i))});
      i = j;
      continue;
    }
    if (c == ':' && i + 1 < s.size() && s[i + 1] == ':') {
      out.push_back({Tok::kCast, "::"});
      i += 2;
      continue;
    }
    if (c == '(' || c == ')') {
      out.push_back({c == '(' ? Tok::kOpen : Tok::kClose, std::string(1, c)});
      ++i;
      continue;
    }
    if (std::string_view("<>=!~*").find(c) != std::string_view::npos) {
      std::size_t j = i;
      while (j < s.size() && std::string_view("<>=!~*").find(s[j]) != std::string_view::npos) ++j;
      out.push_back({Tok::kOp, std::string(s.substr(i, j - i))});
      i = j;
      continue;
    }
    out.push_back({Tok::kOther, std::string(1, c)});
    ++i;
  }
  return out;
}

std::string ColumnName(std::string text) {
  std::size_t dot = text.rfind('.');
  if (dot != std::string::npos) text = text.substr(dot + 1);
  return text;
}

bool IsKeyword(const std::string& t) {
  static const std::set<std::string> kWords = {"AND", "OR", "NOT", "ANY", "ALL", "ARRAY", "NULL",
                                               "IS", "TRUE", "FALSE", "SubPlan", "CASE"};
  return kWords.count(t) > 0;
}

// The column on the left of operator token `i` (skipping casts and parentheses), if any.
std::optional<std::string> LeftColumn(const std::vector<Token>& t, std::size_t i) {
  if (i == 0) return std::nullopt;
  std::size_t j = i - 1;
  // "(col)::timestamp without time zone": walk back over the type words to the cast.
  std::size_t k = j;
  while (k > 0 && t[k].kind == Tok::kIdent) --k;
  if (t[k].kind == Tok::kCast && k > 0 && k < j + 1 && t[j].kind == Tok::kIdent) j = k - 1;
  std::size_t closes = 0;
  while (j > 0 && t[j].kind == Tok::kClose) {
    --j;
    ++closes;
  }
  if (t[j].kind != Tok::kIdent || IsKeyword(t[j].text)) return std::nullopt;
  // "lower(t.name) = ...": the column is inside a function call, a plain index does not help.
  if (closes > 0 && j >= 2 && t[j - 1].kind == Tok::kOpen && t[j - 2].kind == Tok::kIdent &&
      !IsKeyword(t[j - 2].text)) {
    return std::nullopt;
  }
  return ColumnName(t[j].text);
}

std::optional<std::string> RightColumn(const std::vector<Token>& t, std::size_t i) {
  std::size_t j = i + 1;
  while (j < t.size() && t[j].kind == Tok::kOpen) ++j;
  if (j < t.size() && t[j].kind == Tok::kIdent && !IsKeyword(t[j].text) &&
      !(j + 1 < t.size() && t[j + 1].kind == Tok::kOpen)) {
    return ColumnName(t[j].text);
  }
  return std::nullopt;
}

class PlanReview {
 public:
  explicit PlanReview(const RelationRows& rows) : relation_rows_(rows) {}

  void Visit(const json& node, const json* parent) {
    std::string type = Str(node, "Node Type");
    if (type == "Seq Scan") SeqScan(node);
    if (Analyzed(node)) Estimate(node);
    if (type == "Sort") Sort(node);
    if (type == "Hash") Hash(node);
    if (type == "Nested Loop") NestedLoop(node);
    (void)parent;
    if (auto it = node.find("Plans"); it != node.end()) {
      for (const json& child : *it) Visit(child, &node);
    }
  }
  std::vector<Finding> findings;

 private:
  double TableRows(const json& node) const {
    auto it = relation_rows_.find(RelationOf(node));
    if (it != relation_rows_.end() && it->second >= 0) return it->second;
    if (Analyzed(node)) return RowsOut(node) + Num(node, "Rows Removed by Filter") *
                                                   std::max(1.0, Num(node, "Actual Loops", 1));
    return -1;
  }

  void SeqScan(const json& node) {
    std::string filter = Str(node, "Filter");
    if (filter.empty()) return;
    double table = TableRows(node);
    double out = RowsOut(node);
    double loops = Analyzed(node) ? std::max(1.0, Num(node, "Actual Loops", 1)) : 1;
    if (table < kLargeTableRows || out / loops > kSelectiveFraction * table) return;
    Finding f{FindingKind::kSeqScanSelective, NodeName(node), {}, {}, RelationOf(node), {}};
    f.message = fmt::format(
        "reads all ~{:.0f} rows of {} to keep ~{:.0f} per scan (filter {}): a sequential scan "
        "under a selective filter",
        table, f.relation, out / loops, filter);
    f.index_columns = FilterColumns(filter);
    if (f.index_columns.empty()) {
      f.suggestion = "the filter compares no plain column; an expression index on what it "
                     "computes would help";
    } else {
      f.suggestion = fmt::format("CREATE INDEX ON {} ({});", f.relation,
                                 fmt::join(f.index_columns, ", "));
    }
    findings.push_back(std::move(f));
  }

  void Estimate(const json& node) {
    if (Num(node, "Actual Loops") == 0) return;  // never executed
    double est = Num(node, "Plan Rows");
    double act = Num(node, "Actual Rows");
    double hi = std::max(est, act), lo = std::max(std::min(est, act), 1.0);
    if (hi < kEstimateMinRows || hi / lo <= kEstimateFactor) return;
    Finding f{FindingKind::kRowEstimate, NodeName(node), {}, {}, RelationOf(node), {}};
    f.message = fmt::format("estimated {:.0f} rows, got {:.0f} ({:.0f}x {})", est, act, hi / lo,
                            est > act ? "over" : "under");
    f.suggestion = f.relation.empty()
                       ? "refresh statistics of the tables below (ANALYZE); for correlated "
                         "columns, CREATE STATISTICS"
                       : fmt::format("ANALYZE {}; for correlated columns, CREATE STATISTICS",
                                     f.relation);
    findings.push_back(std::move(f));
  }

  void Sort(const json& node) {
    if (Str(node, "Sort Space Type") != "Disk") return;
    double kb = Num(node, "Sort Space Used");
    Finding f{FindingKind::kSortSpill, NodeName(node), {}, {}, {}, {}};
    f.message = fmt::format("sort spilled {:.0f} kB to disk ({})", kb, Str(node, "Sort Method"));
    f.suggestion = fmt::format(
        "raise work_mem for this query above ~{:.0f} MB (SET LOCAL work_mem), or add an index "
        "that returns rows in the wanted order",
        std::max(1.0, kb * 2 / 1024));
    findings.push_back(std::move(f));
  }

  void Hash(const json& node) {
    double batches = Num(node, "Hash Batches", 1);
    if (batches <= 1) return;
    double kb = Num(node, "Peak Memory Usage");
    Finding f{FindingKind::kHashSpill, NodeName(node), {}, {}, {}, {}};
    f.message = fmt::format("hash split into {:.0f} batches (spilled to disk; peak {:.0f} kB "
                            "per batch)",
                            batches, kb);
    f.suggestion = fmt::format("raise work_mem (or hash_mem_multiplier) above ~{:.0f} MB",
                               std::max(1.0, kb * batches / 1024));
    findings.push_back(std::move(f));
  }

  void NestedLoop(const json& node) {
    auto it = node.find("Plans");
    if (it == node.end() || it->size() < 2) return;
    const json& outer = (*it)[0];
    const json& inner = (*it)[1];
    double runs = Analyzed(inner) ? Num(inner, "Actual Loops") : Num(outer, "Plan Rows");
    if (runs < kNestedLoopRows) return;
    Finding f{FindingKind::kNestedLoop, NodeName(node), {}, {}, RelationOf(inner), {}};
    f.message = fmt::format("nested loop runs its inner side ({}) {} {:.0f} times",
                            NodeName(inner), Analyzed(inner) ? "" : "an estimated", runs);
    std::string inner_type = Str(inner, "Node Type");
    std::string cond = Str(inner, "Filter");
    if (cond.empty()) cond = Str(node, "Join Filter");
    if (inner_type == "Seq Scan" && !f.relation.empty()) {
      f.index_columns = FilterColumns(cond);
      f.suggestion = f.index_columns.empty()
                         ? "index the inner table's join column, or check the row estimates"
                         : fmt::format("CREATE INDEX ON {} ({});", f.relation,
                                       fmt::join(f.index_columns, ", "));
    } else {
      f.suggestion = "check the outer side's row estimate; a hash or merge join may be better";
    }
    findings.push_back(std::move(f));
  }

  const RelationRows& relation_rows_;
};

std::optional<std::int64_t> AsQueryId(std::string_view target) {
  std::string_view digits = target;
  if (digits.starts_with("-")) digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::stoll(std::string(target));
}

int MaxParameter(std::string_view sql) {
  int max = 0;
  for (std::size_t i = 0; i + 1 < sql.size(); ++i) {
    if (sql[i] != '$' || !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) continue;
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(sql[i - 1])) || sql[i - 1] == '_')) continue;
    int n = 0;
    std::size_t j = i + 1;
    while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) n = n * 10 + (sql[j++] - '0');
    max = std::max(max, n);
  }
  return max;
}

// Runs the EXPLAIN inside a transaction that is always rolled back.
class RolledBackTransaction {
 public:
  RolledBackTransaction(pg::Connection& conn, bool read_only) : conn_(conn) {
    conn_.Exec(read_only ? "BEGIN READ ONLY" : "BEGIN");
  }
  ~RolledBackTransaction() noexcept {
    try {
      conn_.Exec("ROLLBACK");
    } catch (const std::exception&) {  // connection lost: the server rolls back on its own
    }
  }
  RolledBackTransaction(const RolledBackTransaction&) = delete;
  RolledBackTransaction& operator=(const RolledBackTransaction&) = delete;

 private:
  pg::Connection& conn_;
};

// Half the statement timeout: a wait for a lock must end as a lock timeout, named as such (with
// equal timeouts statement_timeout, which started first, always fires first).
std::chrono::milliseconds LockTimeout(const ExplainOptions& options) {
  return std::max(options.timeout / 2, std::chrono::milliseconds(1));
}

Error Translate(const Error& e, const ExplainOptions& options) {
  std::string what = e.what();
  if (what.find("[25006]") != std::string::npos) {
    return Error(ErrorCode::kUsage,
                 "EXPLAIN ANALYZE runs the statement, and it writes: refused in a read-only "
                 "transaction",
                 "add --allow-writes to run it in a transaction that is rolled back afterwards "
                 "(locks are still taken while it runs)");
  }
  if (what.find("[57014]") != std::string::npos) {
    return Error(ErrorCode::kTimeout,
                 fmt::format("EXPLAIN stopped after statement_timeout ({} ms)",
                             options.timeout.count()),
                 "raise --diagnose-statement-timeout, or drop --analyze to see the plan only");
  }
  if (what.find("[55P03]") != std::string::npos) {
    return Error(ErrorCode::kTimeout,
                 fmt::format("EXPLAIN waited longer than lock_timeout ({} ms, half of "
                             "statement_timeout) for a lock on a table of the statement",
                             LockTimeout(options).count()),
                 "see who holds it with `dbmedic locks`, or raise --diagnose-statement-timeout");
  }
  return e.WithContext("unable to run EXPLAIN");
}

RelationRows ReadRelationRows(pg::Connection& conn, const json& node, RelationRows rows = {}) {
  std::string rel = RelationOf(node);
  if (!rel.empty() && !rows.count(rel)) {
    pg::Result r = conn.ExecParams(
        "SELECT c.reltuples::float8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        {Str(node, "Schema"), Str(node, "Relation Name")});
    rows[rel] = r.rows() > 0 ? r.GetDouble(0, 0) : -1;
  }
  if (auto it = node.find("Plans"); it != node.end()) {
    for (const json& child : *it) rows = ReadRelationRows(conn, child, std::move(rows));
  }
  return rows;
}

// An index whose first column is the suggested first column: say so instead of suggesting it.
void CheckExistingIndexes(pg::Connection& conn, std::vector<Finding>& findings) {
  for (Finding& f : findings) {
    if (f.index_columns.empty() || f.relation.empty()) continue;
    pg::Result r = conn.ExecParams(
        "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE i.indrelid = to_regclass($1) AND a.attname = $2 LIMIT 1",
        {f.relation, f.index_columns.front()});
    if (r.rows() == 0) continue;
    f.suggestion = fmt::format(
        "index {} on ({}) exists but was not used: check that the filter compares the column "
        "itself (no function or cast on it), and ANALYZE {}",
        r.GetString(0, 0), f.index_columns.front(), f.relation);
    f.index_columns.clear();
  }
}

// "shared hit=12 read=3, temp read=40 written=40" like EXPLAIN's text format (zero counters
// left out); empty when the node touched no buffer or BUFFERS figures are absent.
std::string BuffersText(const json& node) {
  auto part = [&](std::string_view kind, std::initializer_list<std::pair<const char*, const char*>> keys) {
    std::string out;
    for (auto [key, name] : keys) {
      double v = Num(node, key);
      if (v > 0) out += fmt::format(" {}={:.0f}", name, v);
    }
    return out.empty() ? out : std::string(kind) + out;
  };
  std::vector<std::string> parts;
  for (std::string p : {part("shared", {{"Shared Hit Blocks", "hit"}, {"Shared Read Blocks", "read"},
                                        {"Shared Dirtied Blocks", "dirtied"},
                                        {"Shared Written Blocks", "written"}}),
                        part("local", {{"Local Hit Blocks", "hit"}, {"Local Read Blocks", "read"},
                                       {"Local Dirtied Blocks", "dirtied"},
                                       {"Local Written Blocks", "written"}}),
                        part("temp", {{"Temp Read Blocks", "read"}, {"Temp Written Blocks", "written"}})}) {
    if (!p.empty()) parts.push_back(std::move(p));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

void NodeText(const json& node, int depth, std::string& out) {
  std::string indent(static_cast<std::size_t>(depth) * 2, ' ');
  out += fmt::format("{}{}{}  (rows={:.0f}", indent, depth ? "-> " : "", NodeName(node),
                     Num(node, "Plan Rows"));
  if (Analyzed(node)) {
    out += fmt::format(", actual rows={:.0f} loops={:.0f} time={:.3f} ms", Num(node, "Actual Rows"),
                       Num(node, "Actual Loops"), Num(node, "Actual Total Time"));
  }
  out += ")\n";
  for (const char* key : {"Index Cond", "Hash Cond", "Join Filter", "Filter", "Sort Key"}) {
    auto it = node.find(key);
    if (it == node.end()) continue;
    std::string value;
    if (it->is_array()) {  // Sort Key: ["a", "b DESC"]
      for (const json& item : *it) {
        value += (value.empty() ? "" : ", ") + (item.is_string() ? item.get<std::string>() : item.dump());
      }
    } else {
      value = it->is_string() ? it->get<std::string>() : it->dump();
    }
    out += fmt::format("{}     {}: {}\n", indent, key, value);
  }
  if (std::string buffers = BuffersText(node); !buffers.empty()) {
    out += fmt::format("{}     Buffers: {}\n", indent, buffers);
  }
  if (auto it = node.find("Plans"); it != node.end()) {
    for (const json& child : *it) NodeText(child, depth + 1, out);
  }
}

const json& TopPlan(const json& plan) {
  const json& first = plan.is_array() && !plan.empty() ? plan[0] : plan;
  return first.contains("Plan") ? first["Plan"] : first;
}

}  // namespace

std::string_view FindingKindName(FindingKind kind) {
  switch (kind) {
    case FindingKind::kSeqScanSelective: return "seq_scan_selective_filter";
    case FindingKind::kRowEstimate: return "row_estimate_off";
    case FindingKind::kSortSpill: return "sort_spill";
    case FindingKind::kHashSpill: return "hash_spill";
    case FindingKind::kNestedLoop: return "nested_loop_many_rows";
  }
  return "unknown";
}

std::vector<std::string> FilterColumns(std::string_view filter) {
  static const std::set<std::string> kEquality = {"="};
  static const std::set<std::string> kRange = {"<", ">", "<=", ">=", "~~", "~~*", "<>", "!="};
  std::vector<Token> t = Tokenize(filter);
  std::vector<std::string> eq, range;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].kind != Tok::kOp) continue;
    bool is_eq = kEquality.count(t[i].text) > 0;
    if (!is_eq && !kRange.count(t[i].text)) continue;
    auto col = LeftColumn(t, i);
    if (!col) col = RightColumn(t, i);
    if (!col) continue;
    auto& list = is_eq ? eq : range;
    if (std::find(list.begin(), list.end(), *col) == list.end()) list.push_back(*col);
  }
  for (auto& c : range) {
    if (std::find(eq.begin(), eq.end(), c) == eq.end()) eq.push_back(c);
  }
  return eq;
}

std::vector<Finding> AnalyzePlan(const json& plan, const RelationRows& relation_rows) {
  PlanReview review(relation_rows);
  review.Visit(TopPlan(plan), nullptr);
  return std::move(review.findings);
}

ExplainResult RunExplain(pg::Connection& conn, std::string_view target,
                         const ExplainOptions& options) {
  ExplainResult result;
  result.analyzed = options.analyze;
  result.queryid = AsQueryId(target);
  if (result.queryid) {
    std::string schema = PgStatStatementsSchema(conn);
    pg::Result r = conn.ExecParams(
        fmt::format("SELECT query FROM {}.pg_stat_statements WHERE queryid = $1 "
                    "ORDER BY calls DESC LIMIT 1",
                    pg::QuoteIdent(schema)),
        {std::to_string(*result.queryid)});
    if (r.rows() == 0) {
      throw Error(ErrorCode::kNotFound,
                  fmt::format("no statement with queryid {} in pg_stat_statements", *result.queryid),
                  "list query ids with `dbmedic top-queries --output json`, or pass the SQL text");
    }
    result.sql = r.GetString(0, 0);
  } else {
    result.sql = std::string(target);
  }
  std::string normalized = NormalizeQuery(result.sql);
  if (normalized.empty()) throw Error(ErrorCode::kUsage, "nothing to explain: the SQL is empty");
  if (normalized.find(';') != std::string::npos) {
    throw Error(ErrorCode::kUsage, "explain takes one statement, the SQL has several",
                "pass the statements one at a time");
  }
  int params = MaxParameter(result.sql);
  result.generic = params > 0;
  if (result.generic && options.analyze) {
    throw Error(ErrorCode::kUsage,
                fmt::format("--analyze needs values for the {} parameter(s) of this statement", params),
                "pass the SQL text with literal values instead of the queryid");
  }
  std::string opts = options.analyze ? "FORMAT JSON, VERBOSE, BUFFERS, ANALYZE"
                                     : "FORMAT JSON, VERBOSE, BUFFERS";
  try {
    RolledBackTransaction tx(conn, !options.allow_writes);
    conn.Exec(fmt::format("SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}",
                          options.timeout.count(), LockTimeout(options).count()));
    std::string text;
    if (result.generic) {
      // PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN): a prepared statement with a forced generic
      // plan shows the plan the parameters do not change. PREPARE is not transactional, hence
      // the DEALLOCATE.
      conn.Exec("SET LOCAL plan_cache_mode = force_generic_plan");
      conn.Exec("PREPARE dbmedic_explain AS " + result.sql);
      std::vector<std::string> nulls(static_cast<std::size_t>(params), "NULL");
      try {
        text = conn.Scalar(fmt::format("EXPLAIN ({}) EXECUTE dbmedic_explain({})", opts,
                                       fmt::join(nulls, ", ")));
      } catch (const Error&) {
        conn.Exec("ROLLBACK; DEALLOCATE dbmedic_explain; BEGIN");
        throw;
      }
      conn.Exec("DEALLOCATE dbmedic_explain");
    } else {
      text = conn.Scalar(fmt::format("EXPLAIN ({}) {}", opts, result.sql));
    }
    result.plan = json::parse(text);
  } catch (const Error& e) {
    throw Translate(e, options);
  }
  RelationRows rows = ReadRelationRows(conn, TopPlan(result.plan));
  result.findings = AnalyzePlan(result.plan, rows);
  CheckExistingIndexes(conn, result.findings);
  return result;
}

std::string PlanToText(const json& plan) {
  std::string out;
  NodeText(TopPlan(plan), 0, out);
  const json& first = plan.is_array() && !plan.empty() ? plan[0] : plan;
  if (auto it = first.find("Planning"); it != first.end() && it->is_object()) {
    if (std::string buffers = BuffersText(*it); !buffers.empty()) {
      out += fmt::format("Planning buffers: {}\n", buffers);
    }
  }
  if (first.contains("Execution Time")) {
    out += fmt::format("Execution time: {:.3f} ms\n", first["Execution Time"].get<double>());
  }
  return out;
}

json ExplainResultToJson(const ExplainResult& r) {
  json findings = json::array();
  for (const Finding& f : r.findings) {
    findings.push_back({{"kind", FindingKindName(f.kind)}, {"node", f.node},
                        {"message", f.message}, {"suggestion", f.suggestion},
                        {"relation", f.relation}, {"index_columns", f.index_columns}});
  }
  return {{"sql", r.sql},
          {"queryid", r.queryid ? json(*r.queryid) : json(nullptr)},
          {"analyzed", r.analyzed},
          {"generic_plan", r.generic},
          {"findings", findings},
          {"plan", r.plan}};
}

}  // namespace dbmedic::diagnose
