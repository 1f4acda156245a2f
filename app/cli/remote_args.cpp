#include "cli/remote_args.h"

#include <cstdlib>

#include "core/resources.h"
#include "reasonscope/local_generator.h"
#include "remote/remote_generator.h"

namespace rs::cli {

void add_remote_options(Args& a) {
    a.option("remote",
             "run on an inference server at this URL (e.g. http://127.0.0.1:8000); --model "
             "then gives the tokenizer and chat template")
        .option("remote-kind", "the server: openai (reasonscope serve), vllm, sglang, llama-server",
                "openai")
        .option("remote-model", "the server's model id (default: the first it lists)")
        .option("remote-concurrency", "requests in flight at once", "8")
        .option("remote-chunk", "tokens asked per request and branch", "32")
        .option("remote-top-k", "alternatives asked per token (entropy is estimated from them)",
                "20")
        .option("remote-timeout", "seconds to wait for a reply", "120")
        .option("api-key-env",
                "environment variable holding the server's API key (default "
                "REASONSCOPE_API_KEY, then OPENAI_API_KEY)");
}

Engine open_engine(const Args& a, const SessionOptions& so) {
    Engine e;
    const std::string path = app::model_path_or_default(a.get("model"));
    if (!a.has("remote") || a.get("remote").empty()) {
        e.model = Model::load(path);
        e.gen = std::make_unique<LocalGenerator>(*e.model, so);
        return e;
    }
    remote::RemoteOptions o;
    o.url = a.get("remote");
    o.kind = remote::parse_kind(a.get("remote-kind"));
    o.model = a.get("remote-model");
    o.concurrency = a.get_int("remote-concurrency", 1, 1024);
    o.chunk = a.get_int("remote-chunk", 1, 4096);
    o.top_k = a.get_int("remote-top-k", 1, 1000);
    o.timeout_s = a.get_double("remote-timeout", 0.001, 86400);
    const std::string env = a.get("api-key-env");
    for (const std::string& name :
         env.empty() ? std::vector<std::string>{"REASONSCOPE_API_KEY", "OPENAI_API_KEY"}
                     : std::vector<std::string>{env})
        if (const char* v = std::getenv(name.c_str()); v && *v) {
            o.api_key = v;
            break;
        }
    e.model = Model::load_vocab(path);
    e.gen = std::make_unique<remote::RemoteGenerator>(e.model->tokenizer(), e.model->config().ctx,
                                                      std::move(o));
    return e;
}

}  // namespace rs::cli
