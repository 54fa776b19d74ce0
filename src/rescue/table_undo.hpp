// One table of an undo (see undo.hpp): what it was in the side cluster, what it is in the live
// cluster, the plan for it, and the statements that bring it back inside the caller's open
// transaction on the live cluster.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "rescue/undo.hpp"

namespace dbmedic::rescue {

// How to run pg_dump against the side cluster.
struct SideDump {
  std::filesystem::path bin_dir;
  std::string conninfo;  // to the database of the table
  std::string os_user;
};

class TableUndo {
 public:
  // Looks `name` up in the side cluster (as it was) and in the live cluster. Throws
  // Error(kNotFound) when it did not exist at the target, Error(kConflict) when the live
  // cluster has another table of that name (dropped and recreated) and into_schema is not set.
  TableUndo(pg::Connection& side, pg::Connection& live, const std::string& name,
            const UndoRequest& request, int index);

  // Reads what is needed to decide (DDL, counts, conflicts); writes only a session-local
  // temporary table on the live cluster. Throws Error(kConflict) for conflicts under kRefuse.
  const TablePlan& Plan(const SideDump& dump);
  // Runs inside the live cluster's open transaction.
  TableOutcome Apply();

  const std::string& name() const { return plan_.name; }
  std::string oid() const { return side_oid_; }
  // Tables (side names) this one references through foreign keys: restored after them.
  const std::vector<std::string>& references() const { return references_; }

 private:
  void PlanRecreate(const SideDump& dump);
  void PlanRows();
  void PlanInto();
  void LoadOldRowsIntoTemp();
  std::string MatchCondition() const;
  std::string DistinctCondition() const;
  TableOutcome ApplyRecreate();
  TableOutcome ApplyRows();
  TableOutcome ApplyInto();
  void AddForeignKeys(TableOutcome& out);
  [[noreturn]] void RefuseConflicts() const;

  pg::Connection& side_;
  pg::Connection& live_;
  const UndoRequest& request_;
  std::string side_oid_;
  std::optional<std::string> live_oid_;
  std::string temp_;                 // pg_temp.dbmedic_undo_N
  std::vector<std::string> columns_; // quoted, copied columns (not generated)
  std::vector<std::string> key_;     // quoted primary key columns; empty: whole rows
  std::vector<std::string> references_;
  std::string pre_data_;
  std::string post_data_;
  struct Sequence {
    std::string name;
    std::string last_value;
    bool is_called = false;
  };
  std::vector<Sequence> sequences_;
  struct ForeignKey {
    std::string table;  // referencing table, qualified
    std::string name;   // constraint name
    std::string definition;
  };
  std::vector<ForeignKey> foreign_keys_;
  TablePlan plan_;
};

}  // namespace dbmedic::rescue
