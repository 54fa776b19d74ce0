// The blocking tree now: which sessions wait for a lock, who blocks them (pg_blocking_pids), and
// the root blockers with their state and the command that would cancel or terminate them.
// BuildBlockingTree is pure (sessions in, tree out); ReadBlockingTree reads a live server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg/connection.hpp"

namespace dbmedic::diagnose {

struct LockRequest {  // the lock a waiting session has not been granted
  std::string locktype;  // relation, tuple, transactionid, virtualxid, advisory...
  std::string mode;      // ShareLock, AccessExclusiveLock...
  std::string relation;  // regclass text, when the lock (or, for a row, its tuple lock) names one
  std::string target;    // "transaction 745 (row (0,3) of acc)", "tuple (0,3) of acc", "relation acc"
};

struct SessionInfo {
  std::int64_t pid = 0;
  std::string user;
  std::string database;
  std::string application;
  std::string client;
  std::string state;  // active, idle in transaction, ...
  std::string wait_event_type;
  std::string wait_event;
  std::string query;
  double state_seconds = 0;  // since state_change
  std::string state_since;   // state_change, "2026-11-30 05:01:02 UTC"; empty if unknown
  double xact_seconds = -1;  // since xact_start; -1 without a transaction
  std::optional<LockRequest> waiting_for;
  double wait_seconds = 0;  // since pg_locks.waitstart
  std::vector<std::int64_t> blocked_by;
};

// A transaction prepared for two-phase commit (PREPARE TRANSACTION) that holds a lock others
// wait for. pg_blocking_pids() names it as pid 0: no session to cancel or terminate.
struct PreparedXact {
  std::string gid;
  std::string xid;
  std::string owner;
  std::string database;
  std::string prepared_at;  // "2026-11-30 05:32:55 UTC"
  double prepared_seconds = 0;
};

struct BlockingNode {
  SessionInfo session;
  std::vector<PreparedXact> prepared;  // root pid 0 only: the prepared transactions blocking
  std::vector<BlockingNode> waiters;  // sessions it blocks directly
  std::size_t blocked_total = 0;      // sessions below it, all levels
  bool in_cycle = false;              // a deadlock the server has not broken yet
  std::string cancel_command;         // SELECT pg_cancel_backend(PID); COMMIT PREPARED 'gid';
  std::string terminate_command;      // SELECT pg_terminate_backend(PID); ROLLBACK PREPARED 'gid';
  std::string advice;                 // which of the two to use and why
};

struct BlockingTree {
  std::vector<BlockingNode> roots;  // root blockers, most sessions blocked first
  std::size_t waiting = 0;          // sessions waiting for a lock held by another session
};

// `sessions`: every session of interest (waiters and their blockers). Waiters whose blockers
// form a cycle get the cycle's members as roots (in_cycle = true). `prepared`: the prepared
// transactions holding locks the waiters blocked by pid 0 want.
BlockingTree BuildBlockingTree(const std::vector<SessionInfo>& sessions,
                               const std::vector<PreparedXact>& prepared = {});

// Reads pg_stat_activity, pg_locks and pg_blocking_pids() in one query.
BlockingTree ReadBlockingTree(pg::Connection& conn);

// Parses an int[] in text form ("{12,34}").
std::vector<std::int64_t> ParseIntArray(std::string_view text);

nlohmann::json BlockingTreeToJson(const BlockingTree& tree);
// Indented text, one line per session and its query beneath.
std::string BlockingTreeToText(const BlockingTree& tree);

}  // namespace dbmedic::diagnose
