// Incident rules on synthetic WAL (no catalog): thresholds, subtransactions, aborts, drops.
#include <gtest/gtest.h>

#include "forensics/incident_scanner.hpp"
#include "wal_builder.hpp"

namespace dbmedic::forensics {
namespace {

using pg::RelFileNode;
using testing::WalBuilder;

constexpr RelFileNode kOrders{1663, 5, 16390};

IncidentReport Scan(const WalBuilder& wal, IncidentOptions options = {}) {
  auto source = wal.Source();
  pg::WalReader reader(*source);
  return FindIncidents(reader, nullptr, options);
}

TEST(IncidentScanner, DeleteOfMinRowsIsAnIncident) {
  WalBuilder wal;
  for (int i = 0; i < 1000; ++i) wal.AddHeapDelete(740, kOrders);
  pg::Lsn commit = wal.AddCommit(740, 5000000, 5);
  IncidentReport report = Scan(wal);
  ASSERT_EQ(report.incidents.size(), 1u);
  const Incident& incident = report.incidents[0];
  EXPECT_EQ(incident.kind, IncidentKind::kDelete);
  EXPECT_EQ(incident.xid, 740u);
  EXPECT_EQ(incident.commit_lsn, commit);
  EXPECT_EQ(incident.database, 5u);
  ASSERT_EQ(incident.relations.size(), 1u);
  EXPECT_EQ(incident.relations[0].rows, 1000u);
  EXPECT_EQ(incident.relations[0].name, "relation 1663/5/16390 (not in the catalog)");
  EXPECT_FALSE(incident.actor.has_value());
  EXPECT_EQ(report.stop.reason, pg::WalStopReason::kEndOfWal);
}

TEST(IncidentScanner, DeleteBelowMinRowsIsNot) {
  WalBuilder wal;
  for (int i = 0; i < 999; ++i) wal.AddHeapDelete(740, kOrders);
  wal.AddCommit(740, 5000000, 5);
  EXPECT_TRUE(Scan(wal).incidents.empty());
}

TEST(IncidentScanner, SubtransactionRowsCountForTheirTopLevelTransaction) {
  WalBuilder wal;
  for (int i = 0; i < 600; ++i) wal.AddHeapDelete(750, kOrders);
  for (int i = 0; i < 600; ++i) wal.AddHeapDelete(751, kOrders);  // savepoint's subxid
  wal.AddCommit(750, 5000000, 5, {751});
  IncidentReport report = Scan(wal);
  ASSERT_EQ(report.incidents.size(), 1u);
  EXPECT_EQ(report.incidents[0].relations[0].rows, 1200u);
  EXPECT_EQ(report.incidents[0].subxacts, (std::vector<pg::TransactionId>{751}));
}

TEST(IncidentScanner, AbortedTransactionIsNotAnIncident) {
  WalBuilder wal;
  for (int i = 0; i < 1500; ++i) wal.AddHeapDelete(760, kOrders);
  std::vector<std::byte> abort(8);  // xl_xact_abort: xact_time only
  wal.Add(1, pg::wal::kXactAbort, 760, abort);
  EXPECT_TRUE(Scan(wal).incidents.empty());
}

TEST(IncidentScanner, DroppedFilesWithoutNewFilesAreADrop) {
  WalBuilder wal;
  wal.AddCommit(770, 5000000, 5, {}, {{1663, 5, 16400}});
  IncidentReport report = Scan(wal);
  ASSERT_EQ(report.incidents.size(), 1u);
  EXPECT_EQ(report.incidents[0].kind, IncidentKind::kDrop);
  EXPECT_FALSE(report.incidents[0].relations[0].rows_known);
}

TEST(IncidentScanner, SinceAndUntilFilterOnCommitTime) {
  WalBuilder wal;
  wal.AddCommit(770, 5000000, 5, {}, {{1663, 5, 16400}});
  IncidentOptions options;
  options.since = 6000000;
  EXPECT_TRUE(Scan(wal, options).incidents.empty());
  options.since = 5000000;
  options.until = 5000000;
  EXPECT_EQ(Scan(wal, options).incidents.size(), 1u);
}

TEST(IncidentScanner, DamagedWalKeepsWhatWasFoundAndSaysWhereItStopped) {
  WalBuilder wal;
  wal.AddCommit(770, 5000000, 5, {}, {{1663, 5, 16400}});
  pg::Lsn bad = wal.AddCommit(771, 5000001, 5, {}, {{1663, 5, 16401}});
  wal.segment(1)[WalBuilder::Offset(bad) + 26] ^= std::byte{0xFF};
  IncidentReport report = Scan(wal);
  EXPECT_EQ(report.incidents.size(), 1u);
  EXPECT_EQ(report.stop.reason, pg::WalStopReason::kError);
  EXPECT_EQ(report.stop.lsn, bad);
  EXPECT_EQ(report.error_exit_code, 5);
}

}  // namespace
}  // namespace dbmedic::forensics
