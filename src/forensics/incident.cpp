#include "forensics/incident.hpp"

#include "pg/wal_decoders.hpp"

namespace dbmedic::forensics {

std::string_view IncidentKindName(IncidentKind kind) {
  switch (kind) {
    case IncidentKind::kDropDatabase: return "DROP DATABASE";
    case IncidentKind::kDrop: return "DROP";
    case IncidentKind::kTruncate: return "TRUNCATE";
    case IncidentKind::kDelete: return "DELETE";
    case IncidentKind::kUpdate: return "UPDATE";
  }
  return "UNKNOWN";
}

nlohmann::json ToJson(const Incident& incident) {
  nlohmann::json rels = nlohmann::json::array();
  for (const auto& r : incident.relations) {
    nlohmann::json j = {{"action", IncidentKindName(r.action)},
                        {"name", r.name},
                        {"relkind", r.relkind},
                        {"relfilenode", r.file.ToString()},
                        {"oid", r.oid ? nlohmann::json(*r.oid) : nlohmann::json()},
                        {"rows", r.rows_known ? nlohmann::json(r.rows) : nlohmann::json()},
                        {"rows_estimated", r.rows_estimated},
                        {"basis", r.basis}};
    rels.push_back(std::move(j));
  }
  return {{"kind", IncidentKindName(incident.kind)},
          {"xid", incident.xid},
          {"subxacts", incident.subxacts},
          {"commit_time", pg::FormatPgTimestamp(incident.commit_time)},
          {"commit_lsn", incident.commit_lsn.ToString()},
          {"first_lsn", incident.first_lsn.ToString()},
          {"database_oid", incident.database},
          {"database",
           incident.database_name.empty() ? nlohmann::json() : nlohmann::json(incident.database_name)},
          {"relations", rels},
          {"later_commits", incident.later_commits},
          {"actor", incident.actor ? nlohmann::json(*incident.actor) : nlohmann::json()},
          {"actor_note", incident.actor_note}};
}

nlohmann::json ToJson(const IncidentReport& report) {
  nlohmann::json incidents = nlohmann::json::array();
  for (const auto& i : report.incidents) incidents.push_back(ToJson(i));
  return {{"incidents", incidents},
          {"scan",
           {{"records", report.records},
            {"commits", report.commits},
            {"last_commit_time", report.last_commit_time
                                     ? nlohmann::json(pg::FormatPgTimestamp(report.last_commit_time))
                                     : nlohmann::json()},
            {"segments", report.segments},
            {"first_lsn", report.first_lsn.ToString()},
            {"last_lsn", report.last_lsn.ToString()},
            {"stop_reason", pg::WalStopReasonName(report.stop.reason)},
            {"stop_lsn", report.stop.lsn.ToString()},
            {"stop_detail", report.stop.detail},
            {"catalog_used", report.catalog_used}}}};
}

}  // namespace dbmedic::forensics
