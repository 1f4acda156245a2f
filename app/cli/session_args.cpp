#include "cli/session_args.h"

#include "core/session_options.h"

namespace rs::cli {

void add_session_options(Args& a, const char* kv_default) {
    a.flag("deterministic", "every row's logits independent of its batch, prompts included")
        .option("kv", "KV cache type f16|f32", kv_default)
        .option("backend", "where the engine computes: " + app::backend_names() + " or auto",
                "auto");
}

void apply_session_options(const Args& a, SessionOptions& so) {
    so.deterministic = a.flag_set("deterministic");
    so.kv_type = parse_kv_type(a.get("kv"));
    so.backend = a.get("backend");
    app::check_backend_name(so.backend);
}

}  // namespace rs::cli
