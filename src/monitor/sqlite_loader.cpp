// libsqlite3, opened on first use. Only the monitor's history store (history_store.cpp) uses it,
// yet linking it made every dbmedic process map and relocate it at start (~1 ms of each
// `wal push`). history_store.cpp keeps using <sqlite3.h>; the functions it calls are defined here
// as forwarders to the real ones, looked up once in libsqlite3.so.0 (see
// core/shared_library.hpp). A function the store starts to use must be added here too; the
// executable then fails to link until it is.
#include <sqlite3.h>

#include "core/shared_library.hpp"

namespace {

#define DBMEDIC_SQLITE_FUNCTIONS(X)                                                               \
  X(sqlite3_bind_double) X(sqlite3_bind_int64) X(sqlite3_bind_text) X(sqlite3_busy_timeout)      \
  X(sqlite3_changes) X(sqlite3_close_v2) X(sqlite3_column_double) X(sqlite3_column_int64)        \
  X(sqlite3_column_text) X(sqlite3_db_status) X(sqlite3_errmsg) X(sqlite3_exec)                   \
  X(sqlite3_finalize) X(sqlite3_free) X(sqlite3_memory_used) X(sqlite3_open_v2)                   \
  X(sqlite3_prepare_v2) X(sqlite3_reset) X(sqlite3_step)

struct LibSqlite {
#define DBMEDIC_MEMBER(name) decltype(&::name) name;
  DBMEDIC_SQLITE_FUNCTIONS(DBMEDIC_MEMBER)
#undef DBMEDIC_MEMBER
};

const LibSqlite& Api() {
  // Initialised once, thread-safely; a failure (libsqlite3 missing) is thrown again on the next
  // call.
  static const LibSqlite api = [] {
    static dbmedic::core::SharedLibrary library(
        "libsqlite3.so.0", "the monitor's history store (SQLite)",
        dbmedic::core::SharedLibrary::InstallHint("libsqlite3-0"));
    LibSqlite resolved{};
#define DBMEDIC_RESOLVE(name) resolved.name = library.Function<decltype(&::name)>(#name);
    DBMEDIC_SQLITE_FUNCTIONS(DBMEDIC_RESOLVE)
#undef DBMEDIC_RESOLVE
    return resolved;
  }();
  return api;
}

}  // namespace

extern "C" {

int sqlite3_bind_double(sqlite3_stmt* stmt, int i, double value) {
  return Api().sqlite3_bind_double(stmt, i, value);
}
int sqlite3_bind_int64(sqlite3_stmt* stmt, int i, sqlite3_int64 value) {
  return Api().sqlite3_bind_int64(stmt, i, value);
}
int sqlite3_bind_text(sqlite3_stmt* stmt, int i, const char* text, int n, void (*free)(void*)) {
  return Api().sqlite3_bind_text(stmt, i, text, n, free);
}
int sqlite3_busy_timeout(sqlite3* db, int ms) { return Api().sqlite3_busy_timeout(db, ms); }
int sqlite3_changes(sqlite3* db) { return Api().sqlite3_changes(db); }
int sqlite3_close_v2(sqlite3* db) { return Api().sqlite3_close_v2(db); }
double sqlite3_column_double(sqlite3_stmt* stmt, int col) {
  return Api().sqlite3_column_double(stmt, col);
}
sqlite3_int64 sqlite3_column_int64(sqlite3_stmt* stmt, int col) {
  return Api().sqlite3_column_int64(stmt, col);
}
const unsigned char* sqlite3_column_text(sqlite3_stmt* stmt, int col) {
  return Api().sqlite3_column_text(stmt, col);
}
int sqlite3_db_status(sqlite3* db, int op, int* current, int* highwater, int reset) {
  return Api().sqlite3_db_status(db, op, current, highwater, reset);
}
const char* sqlite3_errmsg(sqlite3* db) { return Api().sqlite3_errmsg(db); }
int sqlite3_exec(sqlite3* db, const char* sql, int (*callback)(void*, int, char**, char**),
                 void* arg, char** errmsg) {
  return Api().sqlite3_exec(db, sql, callback, arg, errmsg);
}
int sqlite3_finalize(sqlite3_stmt* stmt) { return Api().sqlite3_finalize(stmt); }
void sqlite3_free(void* p) { Api().sqlite3_free(p); }
sqlite3_int64 sqlite3_memory_used(void) { return Api().sqlite3_memory_used(); }
int sqlite3_open_v2(const char* filename, sqlite3** db, int flags, const char* vfs) {
  return Api().sqlite3_open_v2(filename, db, flags, vfs);
}
int sqlite3_prepare_v2(sqlite3* db, const char* sql, int n, sqlite3_stmt** stmt,
                       const char** tail) {
  return Api().sqlite3_prepare_v2(db, sql, n, stmt, tail);
}
int sqlite3_reset(sqlite3_stmt* stmt) { return Api().sqlite3_reset(stmt); }
int sqlite3_step(sqlite3_stmt* stmt) { return Api().sqlite3_step(stmt); }

}  // extern "C"
