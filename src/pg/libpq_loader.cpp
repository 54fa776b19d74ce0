// libpq, opened on first use. dbmedic calls libpq through its normal header (<libpq-fe.h>); the
// functions it calls are defined here as forwarders to the real ones, which are looked up once in
// libpq.so.5 (see core/shared_library.hpp for why: commands that never connect, such as
// `wal push`, `wal get` and `wal-scan`, no longer load libpq and its ~25 dependencies at start).
//
// The executable therefore does not link libpq. A program that also links libpq directly (the
// test harness does) still works: its calls bind to these forwarders, and dlsym on the library
// handle returns libpq's own definitions, so the call ends up in the same code.
//
// A function dbmedic starts to use must be added to both lists below; forgetting it shows up as
// an undefined reference when linking the executable.
#include <libpq-fe.h>

#include "core/shared_library.hpp"

namespace {

#define DBMEDIC_LIBPQ_FUNCTIONS(X)                                                              \
  X(PQclear) X(PQcmdTuples) X(PQconnectdb) X(PQconninfoFree) X(PQconninfoParse)                 \
  X(PQconsumeInput) X(PQdb) X(PQerrorMessage) X(PQexec) X(PQexecParams) X(PQexecPrepared)       \
  X(PQfinish) X(PQflush) X(PQfname) X(PQfnumber) X(PQfreemem) X(PQgetCopyData) X(PQgetResult)   \
  X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQhost) X(PQnfields) X(PQntuples) X(PQport)     \
  X(PQprepare) X(PQputCopyData) X(PQputCopyEnd) X(PQresultErrorField) X(PQresultErrorMessage)   \
  X(PQresultStatus) X(PQserverVersion) X(PQsetNoticeProcessor) X(PQsocket) X(PQstatus)

// The real functions, all resolved together the first time any of them is called.
struct LibPq {
#define DBMEDIC_MEMBER(name) decltype(&::name) name;
  DBMEDIC_LIBPQ_FUNCTIONS(DBMEDIC_MEMBER)
#undef DBMEDIC_MEMBER
};

const LibPq& Api() {
  // A function-local static is initialised once, thread-safely; if that throws (libpq missing),
  // the next call tries again and throws the same error.
  static const LibPq api = [] {
    static dbmedic::core::SharedLibrary library(
        "libpq.so.5", "connecting to PostgreSQL", dbmedic::core::SharedLibrary::InstallHint("libpq5"));
    LibPq resolved{};
#define DBMEDIC_RESOLVE(name) resolved.name = library.Function<decltype(&::name)>(#name);
    DBMEDIC_LIBPQ_FUNCTIONS(DBMEDIC_RESOLVE)
#undef DBMEDIC_RESOLVE
    return resolved;
  }();
  return api;
}

}  // namespace

extern "C" {

void PQclear(PGresult* res) { Api().PQclear(res); }
char* PQcmdTuples(PGresult* res) { return Api().PQcmdTuples(res); }
PGconn* PQconnectdb(const char* conninfo) { return Api().PQconnectdb(conninfo); }
void PQconninfoFree(PQconninfoOption* options) { Api().PQconninfoFree(options); }
PQconninfoOption* PQconninfoParse(const char* conninfo, char** errmsg) {
  return Api().PQconninfoParse(conninfo, errmsg);
}
int PQconsumeInput(PGconn* conn) { return Api().PQconsumeInput(conn); }
char* PQdb(const PGconn* conn) { return Api().PQdb(conn); }
char* PQerrorMessage(const PGconn* conn) { return Api().PQerrorMessage(conn); }
PGresult* PQexec(PGconn* conn, const char* query) { return Api().PQexec(conn, query); }
PGresult* PQexecParams(PGconn* conn, const char* command, int n_params, const Oid* param_types,
                       const char* const* param_values, const int* param_lengths,
                       const int* param_formats, int result_format) {
  return Api().PQexecParams(conn, command, n_params, param_types, param_values, param_lengths,
                            param_formats, result_format);
}
PGresult* PQexecPrepared(PGconn* conn, const char* statement, int n_params,
                         const char* const* param_values, const int* param_lengths,
                         const int* param_formats, int result_format) {
  return Api().PQexecPrepared(conn, statement, n_params, param_values, param_lengths,
                              param_formats, result_format);
}
void PQfinish(PGconn* conn) { Api().PQfinish(conn); }
int PQflush(PGconn* conn) { return Api().PQflush(conn); }
char* PQfname(const PGresult* res, int field) { return Api().PQfname(res, field); }
int PQfnumber(const PGresult* res, const char* name) { return Api().PQfnumber(res, name); }
void PQfreemem(void* ptr) { Api().PQfreemem(ptr); }
int PQgetCopyData(PGconn* conn, char** buffer, int async) {
  return Api().PQgetCopyData(conn, buffer, async);
}
PGresult* PQgetResult(PGconn* conn) { return Api().PQgetResult(conn); }
int PQgetisnull(const PGresult* res, int row, int field) {
  return Api().PQgetisnull(res, row, field);
}
int PQgetlength(const PGresult* res, int row, int field) {
  return Api().PQgetlength(res, row, field);
}
char* PQgetvalue(const PGresult* res, int row, int field) {
  return Api().PQgetvalue(res, row, field);
}
char* PQhost(const PGconn* conn) { return Api().PQhost(conn); }
int PQnfields(const PGresult* res) { return Api().PQnfields(res); }
int PQntuples(const PGresult* res) { return Api().PQntuples(res); }
char* PQport(const PGconn* conn) { return Api().PQport(conn); }
PGresult* PQprepare(PGconn* conn, const char* statement, const char* query, int n_params,
                    const Oid* param_types) {
  return Api().PQprepare(conn, statement, query, n_params, param_types);
}
int PQputCopyData(PGconn* conn, const char* buffer, int nbytes) {
  return Api().PQputCopyData(conn, buffer, nbytes);
}
int PQputCopyEnd(PGconn* conn, const char* errormsg) {
  return Api().PQputCopyEnd(conn, errormsg);
}
char* PQresultErrorField(const PGresult* res, int field_code) {
  return Api().PQresultErrorField(res, field_code);
}
char* PQresultErrorMessage(const PGresult* res) { return Api().PQresultErrorMessage(res); }
ExecStatusType PQresultStatus(const PGresult* res) { return Api().PQresultStatus(res); }
int PQserverVersion(const PGconn* conn) { return Api().PQserverVersion(conn); }
PQnoticeProcessor PQsetNoticeProcessor(PGconn* conn, PQnoticeProcessor proc, void* arg) {
  return Api().PQsetNoticeProcessor(conn, proc, arg);
}
int PQsocket(const PGconn* conn) { return Api().PQsocket(conn); }
ConnStatusType PQstatus(const PGconn* conn) { return Api().PQstatus(conn); }

}  // extern "C"
