// Numbered schema migrations (storage/schema/NNNN_name.sql), embedded at
// build time, applied in order and recorded in PRAGMA user_version.
#pragma once

#include <vector>

namespace rs::storage {

struct Migration {
    int version;
    const char* name;
    const char* sql;
};
const std::vector<Migration>& migrations();

}  // namespace rs::storage
