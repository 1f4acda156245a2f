#include "core/run_service.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "remote/remote_generator.h"

namespace rs::app {

PreparedRun prepare_run(const PluginManager& plugins, const RunRequest& req) {
    PreparedRun p;
    const auto* entry = plugins.find(req.strategy);
    p.strategy = plugins.create(req.strategy);  // throws with the list of strategies
    p.info = entry->info;
    p.params = resolve_params(p.info, req.sets);
    p.config = req.config;
    p.config.sampling.seed = req.seed;
    if (p.params.contains("temperature"))
        p.config.sampling.temperature = p.params["temperature"].get<float>();
    if (p.params.contains("max_depth")) p.config.max_depth = p.params["max_depth"].get<int>();
    // The latent scorer reads hidden states, and so does a strategy that
    // needs them (latent-select): switch taps on when either is used.
    const bool needs_taps =
        std::find(p.info.needs.begin(), p.info.needs.end(), "hidden_taps") != p.info.needs.end();
    if (((p.params.contains("scorer") && p.params["scorer"] == "latent") || needs_taps) &&
        p.config.tap_layers.empty())
        p.config.tap_layers = {-1};
    // Scorer options must be options of the scorer the strategy uses.
    if (!p.config.scorer_options.empty()) {
        const std::string sid =
            p.params.contains("scorer") ? p.params["scorer"].get<std::string>() : std::string();
        const ScorerInfo* si = sid.empty() ? nullptr : find_scorer(sid);
        if (!si)
            throw Error("--scorer-opt given, but strategy '" + req.strategy + "' uses no scorer" +
                        (sid.empty() ? "" : " known as '" + sid + "'"));
        for (const auto& [k, v] : p.config.scorer_options) {
            bool known = false;
            std::string names;
            for (const auto& o : si->options) {
                known = known || o.name == k;
                names += (names.empty() ? "" : ", ") + o.name;
            }
            if (!known)
                throw Error("scorer '" + sid + "' has no option '" + k +
                            "' (options: " + (names.empty() ? "none" : names) + ")");
        }
    }
    p.config.sampling.validate();
    return p;
}

std::string model_fingerprint(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return {};
    f.seekg(0, std::ios::end);
    const auto size = static_cast<uint64_t>(f.tellg());
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&](uint64_t from, uint64_t n) {
        std::string buf(n, '\0');
        f.seekg(static_cast<std::streamoff>(from));
        f.read(buf.data(), static_cast<std::streamsize>(n));
        for (char c : buf) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
    };
    const uint64_t mib = 1 << 20;
    mix(0, std::min(size, mib));
    if (size > mib) mix(size - std::min(size - mib, mib), std::min(size - mib, mib));
    h = (h ^ size) * 1099511628211ULL;
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

std::string app_version() {
    return RS_APP_VERSION;
}

RunRow describe_run(const Model& model, const Generator& gen, const RunRequest& req,
                    const PreparedRun& p, const PromptPlan& plan) {
    RunRow r;
    r.model_path = std::filesystem::absolute(model.path()).string();
    r.model_name = model.gguf().get_string("general.name",
                                           std::filesystem::path(model.path()).stem().string());
    r.model_bytes = static_cast<int64_t>(model.gguf().file_size());
    r.model_hash = model_fingerprint(model.path());
    r.backend = gen.backend_name();
    r.backend_reason = gen.backend_reason();
    r.strategy = req.strategy;
    r.params = p.params.dump();
    r.suite = req.suite;
    r.task_id = req.task.id;
    r.prompt = req.task.prompt;
    r.expected = req.task.answer;
    r.prompt_rendered = plan.rendered;
    nlohmann::json ps = plan.describe();
    ps["answer_format"] = answer_format_name(req.task.answer_rule().format);
    if (!req.task.answer_pattern.empty()) ps["answer_pattern"] = req.task.answer_pattern;
    r.prompt_settings = ps.dump();
    r.model_file_type = file_type_name(model.gguf().get_int("general.file_type", -1));
    r.tensor_types = tensor_type_mix(model).dump();
    r.seed = static_cast<int64_t>(req.seed);
    r.app_version = RS_APP_VERSION;
    if (const auto* remote = dynamic_cast<const remote::RemoteGenerator*>(&gen))
        r.server = remote->server().to_json().dump();
    r.parent_run = req.counterfactual_of.run;
    r.parent_node = req.counterfactual_of.node;
    r.parent_token = req.counterfactual_of.token;
    r.forced_token = req.counterfactual_of.forced_token;
    return r;
}

RunRow finished_row(const RunOutcome& out, const SearchContext& ctx) {
    RunRow r;
    r.status = out.status;
    r.answer = out.answer;
    r.correct = out.correct;
    r.chosen_node = ctx.chosen_node();
    r.tokens = out.metrics.tokens_generated;
    r.forward_passes = out.metrics.forward_passes;
    r.wall_seconds = out.metrics.wall_seconds;
    r.kv_peak_bytes = out.metrics.kv_peak_bytes;
    r.node_count = out.metrics.nodes;
    r.error = out.error;
    return r;
}

bool any_correct(const ReasoningTree& tree) {
    for (const auto& n : tree.nodes())
        if (n.correct == 1) return true;
    return false;
}

RunResult run_and_record(const Model& model, Generator& gen, const PluginManager& plugins,
                         const RunRequest& req, const RunOptions& opt) {
    return run_and_record(model, gen, req, prepare_run(plugins, req), opt);
}

RunResult run_and_record(const Model& model, Generator& gen, const RunRequest& req, PreparedRun p,
                         const RunOptions& opt) {
    RunResult res;
    res.params = p.params;
    // What the strategy and its scorer need of the generator (a server has
    // no hidden states, no full distributions, perhaps no text scoring):
    // refused before anything is stored.
    if (!p.config.tap_layers.empty() && !gen.caps().hidden_taps)
        throw Error("hidden-state taps are not available on " + gen.backend_name());
    if (const std::string m = missing_capabilities(p.info.needs, gen.caps()); !m.empty())
        throw Error("strategy '" + req.strategy + "' needs " + m + ", which " + gen.backend_name() +
                    " does not give; use a local model");
    if (p.params.is_object() && p.params.contains("scorer") && p.params["scorer"].is_string())
        if (const ScorerInfo* sc = find_scorer(p.params["scorer"].get<std::string>()))
            if (const std::string m = missing_capabilities(sc->needs, gen.caps()); !m.empty())
                throw Error("the scorer '" + sc->id + "' needs " + m + ", which " +
                            gen.backend_name() +
                            " does not give; choose another scorer (--set scorer=...) or run "
                            "on a local model");
    // The prompt as the model sees it: a template that fails fails here,
    // before anything is stored.
    res.prompt = plan_prompt(model, req.task, req.prompt);
    apply_prompt_plan(res.prompt, p.config);
    RunStore* store = opt.store;
    if (store) {
        res.row = describe_run(model, gen, req, p, res.prompt);
        res.row.name = opt.name;
        res.run_id = res.row.id = store->begin_run(res.row);
    }
    try {
        std::vector<RunObserver*> observers;
        if (store) {
            for (const auto& t : opt.tags) store->add_tag(res.run_id, t);
            res.row.tags = opt.tags;
            res.recorder = store->recorder(res.run_id);
            observers.push_back(res.recorder.get());
            if (opt.on_stored) opt.on_stored(res.row);
        }
        observers.insert(observers.end(), opt.observers.begin(), opt.observers.end());
        res.context = std::make_unique<SearchContext>(gen, req.task, p.config, observers);
        res.context->set_control(opt.cancel, opt.pause);
        // A server's generator abandons requests in flight on cancel.
        struct WatchCancel {
            Generator& g;
            ~WatchCancel() { g.watch_cancel(nullptr); }
        } watching{gen};
        gen.watch_cancel(opt.cancel);
        const auto* remote = dynamic_cast<const remote::RemoteGenerator*>(&gen);
        const remote::RemoteUsage before = remote ? remote->usage() : remote::RemoteUsage{};
        res.outcome = run_strategy(*p.strategy, *res.context, p.params);
        if (remote) res.server_usage = remote->usage().since(before).to_json();
        if (store) {
            res.recorder->flush();
            RunRow fin = finished_row(res.outcome, *res.context);
            if (remote) {
                nlohmann::json j = remote->server().to_json();
                j["usage"] = res.server_usage;
                fin.server = j.dump();
            }
            const RunRow stored = store->finish_run(res.run_id, fin);
            // Rows the store could not write make the run incomplete: say why.
            if (stored.status == "incomplete") {
                res.outcome.status = stored.status;
                res.outcome.error = stored.status_reason;
            }
        }
    } catch (const std::exception& e) {
        // The stored row never stays "running": keep what was recorded and
        // mark the run failed (a second failure here must not hide the first).
        if (store) {
            RunRow failed;
            failed.status = "error";
            failed.error = e.what();
            if (res.context) failed.node_count = res.context->tree().size();
            try {
                if (res.recorder) res.recorder->flush();
            } catch (const std::exception&) {
            }
            try {
                store->finish_run(res.run_id, failed);
            } catch (const std::exception&) {
            }
        }
        throw;
    }
    return res;
}

}  // namespace rs::app
