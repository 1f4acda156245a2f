// Thin RAII helpers over the SQLite C API; every failure is an rs::Error
// that names the database file and the statement's purpose.
#pragma once

#include <sqlite3.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "reasonscope/error.h"

namespace rs::storage {

// An SQLite failure; `code` is the primary result code (SQLITE_BUSY, ...).
class DbError : public Error {
  public:
    DbError(const std::string& what, int code) : Error(what), code(code) {}
    int code;
    // Another connection holds the lock: worth waiting for.
    bool locked() const { return code == SQLITE_BUSY || code == SQLITE_LOCKED; }
};

// The start of a statement, for messages.
inline std::string brief_sql(const char* sql) {
    std::string s = sql ? sql : "";
    return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

// SQLite's message for the last failure on db, said the way a user needs it:
// a lock is "locked by another process", and a full disk (SQLITE_FULL, or an
// I/O error whose cause was ENOSPC/EDQUOT) is "disk full".
inline std::string describe_failure(sqlite3* db, int code) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        return "the database is locked by another process (" + msg + ")";
    const int sys = db ? sqlite3_system_errno(db) : 0;
    if (code == SQLITE_FULL || (code == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT)))
        return "disk full: no room to write the run store (" + msg + ")";
    return msg;
}

[[noreturn]] inline void fail(sqlite3* db, const std::string& what) {
    std::string file =
        db ? (sqlite3_db_filename(db, "main") ? sqlite3_db_filename(db, "main") : "") : "";
    int code = db ? (sqlite3_errcode(db) & 0xff) : SQLITE_NOMEM;
    if (code == SQLITE_IOERR && db && (sqlite3_system_errno(db) == ENOSPC)) code = SQLITE_FULL;
    throw DbError(file + ": " + what + ": " + describe_failure(db, code), code);
}

inline void exec(sqlite3* db, const std::string& sql, const std::string& what) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        sqlite3_free(err);
        fail(db, what);
    }
}

class Stmt {
  public:
    Stmt(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
            fail(db, "prepare: " + brief_sql(sql));
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
    Stmt& bind(int i, int v) { return check(sqlite3_bind_int64(s_, i, v)); }
    Stmt& bind(int i, double v) { return check(sqlite3_bind_double(s_, i, v)); }
    Stmt& bind(int i, const std::string& v) {
        return check(
            sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    Stmt& bind_blob(int i, const void* p, size_t n) {
        return check(sqlite3_bind_blob(s_, i, p, static_cast<int>(n), SQLITE_TRANSIENT));
    }
    Stmt& bind_null(int i) { return check(sqlite3_bind_null(s_, i)); }
    Stmt& bind_opt(int i, int v) { return v < 0 ? bind_null(i) : bind(i, v); }  // -1 = unknown
    bool step() {
        int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc != SQLITE_DONE) fail(db_, "step: " + brief_sql(sqlite3_sql(s_)));
        return false;
    }
    void run() {
        step();
        reset();
    }
    void reset() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
    double f64(int c) const { return sqlite3_column_double(s_, c); }
    bool null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
    std::string text(int c) const {
        auto* p = sqlite3_column_text(s_, c);
        return p ? std::string(reinterpret_cast<const char*>(p),
                               static_cast<size_t>(sqlite3_column_bytes(s_, c)))
                 : "";
    }
    std::string blob(int c) const {
        auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, c))) : "";
    }

  private:
    Stmt& check(int rc) {
        if (rc != SQLITE_OK) fail(db_, "bind");
        return *this;
    }
    sqlite3* db_;
    sqlite3_stmt* s_ = nullptr;
};

std::string pieces_to_json(const std::vector<std::string>& v);

// Opens a connection with the store's settings (WAL, foreign keys, busy timeout).
sqlite3* open_connection(const std::string& path, bool create);

}  // namespace rs::storage
