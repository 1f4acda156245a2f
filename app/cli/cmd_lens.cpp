// reasonscope lens: the logit lens (engine/include/reasonscope/logit_lens.h)
// at one position of a prompt, or at one token of a stored run's trace: every
// layer's top-k next tokens and their probabilities, as a table or JSON.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session_args.h"
#include "core/run_service.h"
#include "core/trace_tokens.h"
#include "reasonscope/error.h"
#include "reasonscope/logit_lens.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "reasonscope/session.h"

namespace rs::cli {
namespace {

// A token's text for a table cell: quoted, controls and newlines escaped.
std::string quoted(const std::string& piece) {
    return "'" + field(piece) + "'";
}

void print_table(const LogitLens& lens, const std::string& context) {
    std::printf("logit lens at position %d, after ...%s\n", lens.position, quoted(context).c_str());
    if (lens.target >= 0)
        std::printf("target (the token that follows): %s (id %d)\n",
                    quoted(lens.target_piece).c_str(), lens.target);
    std::printf("%-5s %-7s", "layer", "entropy");
    if (lens.target >= 0) std::printf(" %-9s %-6s", "p(target)", "rank");
    std::printf("  top tokens (probability)\n");
    for (const LogitLensLayer& l : lens.layers) {
        std::printf("%-5d %-7.3f", l.layer, l.entropy);
        if (lens.target >= 0) std::printf(" %-9.4f %-6d", l.target_prob, l.target_rank);
        std::printf(" ");
        for (size_t i = 0; i < l.top.size(); ++i)
            std::printf(" %s %.4f", quoted(l.pieces[i]).c_str(), l.top[i].second);
        std::printf("\n");
    }
}

nlohmann::json to_json(const LogitLens& lens) {
    nlohmann::json layers = nlohmann::json::array();
    for (const LogitLensLayer& l : lens.layers) {
        nlohmann::json top = nlohmann::json::array();
        for (size_t i = 0; i < l.top.size(); ++i)
            top.push_back({{"id", l.top[i].first}, {"piece", l.pieces[i]}, {"p", l.top[i].second}});
        nlohmann::json row = {{"layer", l.layer}, {"entropy", l.entropy}, {"top", top}};
        if (lens.target >= 0) {
            row["target_p"] = l.target_prob;
            row["target_rank"] = l.target_rank;
        }
        layers.push_back(row);
    }
    nlohmann::json j = {{"position", lens.position}, {"layers", layers}};
    if (lens.target >= 0) j["target"] = {{"id", lens.target}, {"piece", lens.target_piece}};
    return j;
}

}  // namespace

int cmd_lens(const Argv& argv) {
    Args a("lens",
           "(--model FILE --prompt TEXT [--position N] | --run ID --node N [--token I] [--db FILE] "
           "[--model FILE]) [--top K] [--threads T] [--json]");
    a.option("model", "GGUF model (with --run: instead of the run's own model file)")
        .option("prompt", "text (BOS added when the model wants one)")
        .option("position",
                "with --prompt: predict token N of the prompt from the ones before it (1 .. "
                "tokens; default: the token after the prompt)")
        .option("db", "run store (default: $XDG_DATA_HOME/reasonscope/runs.sqlite)")
        .option("run", "a stored run's id")
        .option("node", "with --run: a node (step) of the run")
        .option("token", "with --run: the step's token whose prediction to look at", "0")
        .option("top", "tokens per layer", "5")
        .option("threads", "compute threads (0 = all cores)", "0")
        .flag("json", "print JSON");
    add_session_options(a, "f32");
    if (!a.parse(argv)) return 0;
    if (a.has("prompt") == a.has("run"))
        throw UsageError{"lens: one of --prompt (with --model) or --run (with --node) is required"};
    if (a.has("prompt") && !a.has("model")) throw UsageError{"lens: --prompt needs --model"};
    if (a.has("run") && !a.has("node")) throw UsageError{"lens: --run needs --node"};
    const int k = a.get_int("top", 1, 1 << 20);

    std::unique_ptr<Model> model;
    std::vector<TokenId> tokens;
    int position = 0;
    if (a.has("prompt")) {
        model = Model::load(a.get("model"));
        tokens = model->tokenizer().encode(a.get("prompt"), true, false);
        if (tokens.empty()) throw Error("lens: --prompt gives no tokens");
        position =
            a.has("position") ? a.get_int("position", 1, 1 << 30) : static_cast<int>(tokens.size());
    } else {
        const int64_t id = a.get_int("run", 1, 1L << 30);
        auto store =
            RunStore::open_read_only(a.get("db").empty() ? RunStore::default_path() : a.get("db"));
        const StoredRun run = store->load(id);
        std::string path = a.has("model") ? a.get("model") : run.run.model_path;
        if (!a.has("model") && !std::filesystem::exists(path))
            throw Error("run " + std::to_string(id) + "'s model " + path +
                        " is not there; give the file with --model");
        model = Model::load(path);
        if (!a.has("model") && !run.run.model_hash.empty() &&
            app::model_fingerprint(path) != run.run.model_hash)
            throw Error(path + " is not the file run " + std::to_string(id) +
                        " ran on (its fingerprint differs); give that file with --model");
        const int node = a.get_int("node", 0, 1 << 30);
        const int token = a.get_int("token", 0, 1 << 30);
        if (node < run.tree.size() && token >= static_cast<int>(run.tree.at(node).tokens.size()))
            throw Error("node " + std::to_string(node) + " of run " + std::to_string(id) + " has " +
                        std::to_string(run.tree.at(node).tokens.size()) + " tokens; --token " +
                        std::to_string(token) + " is past them");
        tokens = app::trace_tokens(model->tokenizer(), run.run, run.tree, node, token + 1);
        position = static_cast<int>(tokens.size()) - 1;
    }

    SessionOptions so;
    so.threads = a.get_threads();
    apply_session_options(a, so);
    so.n_ctx = static_cast<int>(tokens.size()) + 1;
    Session s(*model, so);
    const LogitLens lens = logit_lens(s, tokens, position, k);
    if (a.flag_set("json")) {
        print_json(to_json(lens));
    } else {
        const size_t from = static_cast<size_t>(std::max(0, position - 6));
        const std::string context = model->tokenizer().decode(
            std::span(tokens.data() + from, static_cast<size_t>(position) - from), true);
        print_table(lens, context);
    }
    return 0;
}

}  // namespace rs::cli
