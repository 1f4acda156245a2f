#include "cli/runner.h"

#include <filesystem>

#include "cli/defaults.h"
#include "reasonscope/error.h"

namespace rs::cli {

PreparedRun prepare_run(const app::PluginManager& plugins, const RunRequest& req) {
    PreparedRun p;
    const auto* entry = plugins.find(req.strategy);
    p.strategy = plugins.create(req.strategy);  // throws with the list of strategies
    p.info = entry->info;
    p.params = resolve_params(p.info, req.sets);
    p.config = req.config;
    p.config.sampling.seed = req.seed;
    if (p.params.contains("temperature")) p.config.sampling.temperature = p.params["temperature"].get<float>();
    if (p.params.contains("max_depth")) p.config.max_depth = p.params["max_depth"].get<int>();
    p.config.sampling.validate();
    return p;
}

std::string resolve_suite_path(const std::string& name) {
    namespace fs = std::filesystem;
    if (fs::exists(name)) return name;
    std::string dir = default_tasks_dir();
    for (const std::string& cand : {dir + "/" + name + ".jsonl", dir + "/arith-" + name + ".jsonl"})
        if (!dir.empty() && fs::exists(cand)) return cand;
    throw Error("task suite '" + name + "' not found (give a .jsonl path or a suite name in resources/tasks)");
}

Task load_task_ref(const std::string& ref) {
    auto colon = ref.rfind(':');
    if (colon == std::string::npos) throw Error("--task wants SUITE:ID, got '" + ref + "'");
    std::string suite = resolve_suite_path(ref.substr(0, colon));
    return find_task(load_suite(suite), ref.substr(colon + 1), suite);
}

bool any_correct(const ReasoningTree& tree) {
    for (const auto& n : tree.nodes())
        if (n.correct == 1) return true;
    return false;
}

}  // namespace rs::cli
