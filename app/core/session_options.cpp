#include "core/session_options.h"

#include "reasonscope/backend.h"
#include "reasonscope/error.h"

namespace rs::app {

SessionOptions search_session_options(int threads) {
    SessionOptions so;
    so.threads = threads;
    so.kv_tokens = 1 << 16;
    return so;
}

std::string backend_names() {
    std::string names;
    for (const BackendInfo& b : backends()) names += (names.empty() ? "" : ", ") + b.name;
    return names;
}

void check_backend_name(const std::string& name) {
    if (name == "auto") return;
    for (const BackendInfo& b : backends())
        if (b.name == name) return;
    throw Error("--backend must be one of " + backend_names() + ", auto; not '" + name + "'");
}

}  // namespace rs::app
