// reasonscope answer-entropy: the conditional answer entropy after each step
// of a stored run's trace (app/core/answer_entropy.h).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session_args.h"
#include "core/answer_entropy.h"
#include "core/run_service.h"
#include "reasonscope/error.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "reasonscope/session.h"

namespace rs::cli {

int cmd_answer_entropy(const Argv& argv) {
    Args a("answer-entropy",
           "--run ID [--db FILE] [--trace NODE] [--samples M] [--answer-tokens N] [--seed S] "
           "[--cue TEXT] [--model FILE] [--threads T] [--json]");
    a.option("db", "run store (default: $XDG_DATA_HOME/reasonscope/runs.sqlite)")
        .option("run", "a stored run's id")
        .option("trace",
                "the trace's last node (default: the run's chosen node, else its first finished "
                "leaf, else its deepest)")
        .option("samples", "answers sampled after each step (temperature 1)", "8")
        .option("answer-tokens", "an answer's end at the latest, in tokens", "16")
        .option("seed", "sampling seed", "1")
        .option("cue", "the forced answer prefix (default: by the run's answer format)")
        .option("model", "GGUF model instead of the run's own model file")
        .option("threads", "compute threads (0 = all cores)", "0")
        .flag("json", "print JSON");
    add_session_options(a, "f32");
    if (!a.parse(argv)) return 0;
    if (!a.has("run")) throw UsageError{"answer-entropy: --run is required"};
    const int64_t id = a.get_int("run", 1, 1L << 30);
    auto store =
        RunStore::open_read_only(a.get("db").empty() ? RunStore::default_path() : a.get("db"));
    const StoredRun run = store->load(id);
    const std::string path = a.has("model") ? a.get("model") : run.run.model_path;
    if (!a.has("model") && !std::filesystem::exists(path))
        throw Error("run " + std::to_string(id) + "'s model " + path +
                    " is not there; give the file with --model");
    auto model = Model::load(path);
    if (!a.has("model") && !run.run.model_hash.empty() &&
        app::model_fingerprint(path) != run.run.model_hash)
        throw Error(path + " is not the file run " + std::to_string(id) +
                    " ran on (its fingerprint differs); give that file with --model");
    const int leaf = a.has("trace") ? a.get_int("trace", 0, 1 << 30)
                                    : app::default_trace_leaf(run.run, run.tree);
    app::AnswerEntropyOptions opt;
    opt.samples = a.get_int("samples", 1, 1024);
    opt.max_answer_tokens = a.get_int("answer-tokens", 1, 1024);
    opt.seed = static_cast<uint64_t>(a.get_int("seed", 0, 2147483647));
    opt.cue = a.get("cue");

    SessionOptions so;
    so.threads = a.get_threads();
    apply_session_options(a, so);
    Session s(*model, so);
    const auto steps = app::answer_entropy(s, run.run, run.tree, leaf, opt);
    if (a.flag_set("json")) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& r : steps) {
            nlohmann::json answers = nlohmann::json::array();
            for (const auto& [ans, n] : r.answers) answers.push_back({{"answer", ans}, {"n", n}});
            j.push_back({{"step", r.step},
                         {"node", r.node},
                         {"prefix_tokens", r.prefix_tokens},
                         {"entropy", r.entropy},
                         {"first_token_entropy", r.first_token_entropy},
                         {"top_answer", r.top_answer},
                         {"top_prob", r.top_prob},
                         {"answers", answers}});
        }
        print_json({{"run", id}, {"trace", leaf}, {"samples", opt.samples}, {"steps", j}});
        return 0;
    }
    std::printf("run %lld, trace to node %d, %d answers per step (entropy in nats, max %.3f)\n",
                static_cast<long long>(id), leaf, opt.samples, std::log(double(opt.samples)));
    std::printf("%-5s %-5s %-8s %-11s %-12s %s\n", "step", "node", "entropy", "first-token",
                "top answer", "p(top)");
    for (const auto& r : steps)
        std::printf("%-5d %-5d %-8.3f %-11.3f %-12s %.3f\n", r.step, r.node, r.entropy,
                    r.first_token_entropy,
                    r.top_answer.empty() ? "(none)" : field(r.top_answer).c_str(), r.top_prob);
    return 0;
}

}  // namespace rs::cli
