// One number from a run store file by SQL, opened read-only and waiting up
// to 5 s for a writer: how tests look at a store beside its own API.
// -1 when the file cannot be opened or the query gives no row.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace rs::test {

inline int64_t query_int(const std::string& db, const std::string& sql) {
    sqlite3* c = nullptr;
    if (sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(c);
        return -1;
    }
    sqlite3_busy_timeout(c, 5000);
    sqlite3_stmt* s = nullptr;
    int64_t n = -1;
    if (sqlite3_prepare_v2(c, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(c);
    return n;
}

}  // namespace rs::test
