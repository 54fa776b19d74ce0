// `explain`: EXPLAIN (FORMAT JSON, VERBOSE, BUFFERS) run safely — inside a transaction that is
// always rolled back, READ ONLY unless writes are allowed, with statement_timeout and
// lock_timeout — and a review of the plan for the usual suspects. AnalyzePlan is pure (plan JSON
// in, findings out) so it is tested without a server.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg/connection.hpp"

namespace dbmedic::diagnose {

struct ExplainOptions {
  bool analyze = false;       // EXPLAIN ANALYZE: runs the statement
  bool allow_writes = false;  // read-write transaction (still rolled back)
  std::chrono::milliseconds timeout{30000};
};

enum class FindingKind { kSeqScanSelective, kRowEstimate, kSortSpill, kHashSpill, kNestedLoop };
std::string_view FindingKindName(FindingKind kind);

struct Finding {
  FindingKind kind;
  std::string node;     // "Seq Scan on public.orders"
  std::string message;  // what is wrong, with the numbers
  std::string suggestion;  // e.g. "CREATE INDEX ON public.orders (customer_id);" or advice
  std::string relation;    // "public.orders" when the finding is about one table
  std::vector<std::string> index_columns;  // for an index suggestion
};

// Sizes the review needs: estimated rows of each relation ("schema.name" -> reltuples).
using RelationRows = std::map<std::string, double>;

// Reviews a plan (the array EXPLAIN (FORMAT JSON) returns, or its first element).
std::vector<Finding> AnalyzePlan(const nlohmann::json& plan, const RelationRows& relation_rows);

// Columns a filter compares with constants, equality first: "((o.customer_id = 42) AND
// (o.created_at > now()))" -> {"customer_id", "created_at"}.
std::vector<std::string> FilterColumns(std::string_view filter);

struct ExplainResult {
  std::string sql;         // what was explained
  std::optional<std::int64_t> queryid;
  bool analyzed = false;
  bool generic = false;    // a parameterised statement from pg_stat_statements: generic plan
  nlohmann::json plan;     // EXPLAIN's JSON
  std::vector<Finding> findings;
};

// `target`: a pg_stat_statements queryid (digits, optionally negative) or SQL text. Throws
// Error(kUsage) for several statements, for ANALYZE of a parameterised statement, and for a
// write under ANALYZE without allow_writes (hint: --allow-writes); Error(kNotFound) for an
// unknown queryid; Error(kTimeout) when statement_timeout or lock_timeout hits.
ExplainResult RunExplain(pg::Connection& conn, std::string_view target,
                         const ExplainOptions& options);

// The plan as an indented tree (node, relation, estimated and actual rows, time).
std::string PlanToText(const nlohmann::json& plan);
nlohmann::json ExplainResultToJson(const ExplainResult& result);

}  // namespace dbmedic::diagnose
