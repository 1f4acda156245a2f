// Engine session settings shared by the front ends (the CLI's flags for
// them are in cli/session_args.h).
#pragma once

#include <string>

#include "reasonscope/session.h"

namespace rs::app {

// Session settings for searches: a KV arena of 64k tokens (many branches;
// the arena is only touched as blocks are used).
SessionOptions search_session_options(int threads);
std::string backend_names();  // the registered backends, "cpu, cuda"
// Throws rs::Error unless name is a registered backend or "auto".
void check_backend_name(const std::string& name);

}  // namespace rs::app
