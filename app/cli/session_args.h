// The session flags every command that makes a session takes.
#pragma once

#include "cli/args.h"
#include "reasonscope/kv_cache.h"
#include "reasonscope/session.h"

namespace rs::cli {

// --kv, --deterministic and --backend.
void add_session_options(Args& a, const char* kv_default);
void apply_session_options(const Args& a, SessionOptions& so);

}  // namespace rs::cli
