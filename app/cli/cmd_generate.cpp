// reasonscope generate: streams a continuation of a prompt.
#include <cstdio>
#include <cstring>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session_args.h"
#include "core/resources.h"
#include "reasonscope/error.h"
#include "reasonscope/model.h"
#include "reasonscope/sampling.h"
#include "reasonscope/session.h"

namespace rs::cli {

int cmd_generate(const Argv& argv) {
    Args a("generate",
           "[--model FILE] --prompt TEXT [-n N] [--temp T] [--top-p P] [--top-k K] [--seed S]");
    a.option("model", "GGUF model (default: the bundled model)")
        .option("prompt", "text to continue")
        .option("n", "maximum tokens to generate", "128")
        .option("temp", "temperature (0 = greedy)", "0.8")
        .option("top-p", "nucleus sampling threshold", "0.95")
        .option("top-k", "keep the k most likely tokens (0 = off)", "40")
        .option("min-p", "drop tokens below this fraction of the top probability", "0")
        .option("repeat-penalty", "penalty for recently generated tokens (1 = off)", "1")
        .option("seed", "random seed", "42")
        .option("threads", "compute threads (0 = all cores)", "0")
        .flag("signals", "print each token's logprob, entropy and varentropy to stderr");
    add_session_options(a, "f32");
    if (!a.parse(argv)) return 0;
    if (!a.has("prompt")) throw UsageError{"generate: --prompt TEXT is required"};
    auto model = Model::load(app::model_path_or_default(a.get("model")));
    SamplingParams sp;
    sp.temperature = static_cast<float>(a.get_double("temp", 0, 100));
    sp.top_p = static_cast<float>(a.get_double("top-p", 1e-6, 1));
    sp.top_k = a.get_int("top-k", 0, 1 << 30);
    sp.min_p = static_cast<float>(a.get_double("min-p", 0, 0.999));
    sp.repeat_penalty = static_cast<float>(a.get_double("repeat-penalty", 0.01, 10));
    sp.seed = static_cast<uint64_t>(a.get_int("seed", 0, 2147483647));
    const int n = a.get_int("n", 1, 1 << 20);
    Sampler sampler(sp);
    SessionOptions so;
    so.threads = a.get_threads();
    apply_session_options(a, so);
    Session s(*model, so);
    const Tokenizer& tok = model->tokenizer();
    std::vector<TokenId> ids = tok.encode(a.get("prompt"), true, false);
    if (static_cast<int>(ids.size()) >= s.n_ctx())
        throw Error("prompt of " + std::to_string(ids.size()) +
                    " tokens does not fit the context of " + std::to_string(s.n_ctx()));
    int seq = s.create();
    std::fputs(lines(a.get("prompt")).c_str(), stdout);
    std::fflush(stdout);
    // Model text reaches the terminal with its control characters escaped;
    // a character split over two tokens waits for its last byte.
    std::string pending;
    const auto show = [&pending](bool all) {
        size_t whole = pending.size();
        for (size_t back = 1; !all && back <= 3 && back <= pending.size(); ++back) {
            const auto c = static_cast<unsigned char>(pending[pending.size() - back]);
            if ((c & 0xC0) == 0x80) continue;
            const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (need > back) whole = pending.size() - back;
            break;
        }
        const std::string out = lines(pending.substr(0, whole));
        pending.erase(0, whole);
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
    };
    std::vector<float> logits = s.eval(seq, ids);
    for (int i = 0; i < n && s.length(seq) < s.n_ctx(); ++i) {
        TokenSignals sig = sampler.sample(logits.data(), s.n_vocab(), ids, 0, ids.size());
        if (sig.token < 0)
            throw Error("the model's logits are not numbers (NaN or +inf) at position " +
                        std::to_string(ids.size() - 1));
        if (tok.is_eog(sig.token)) break;
        pending += tok.token_to_piece(sig.token);
        show(false);
        if (a.flag_set("signals"))
            std::fprintf(stderr, "%6d lp=%.3f H=%.3f VH=%.3f\n", sig.token, sig.logprob,
                         sig.entropy, sig.varentropy);
        ids.push_back(sig.token);
        if (s.length(seq) + 1 > s.n_ctx()) break;
        logits = s.eval(seq, std::span(&sig.token, 1));
    }
    show(true);
    std::fputc('\n', stdout);
    return 0;
}

}  // namespace rs::cli
