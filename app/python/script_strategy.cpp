#include "python/script_strategy.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "python/interpreter.h"
#include "python/run_guard.h"
#include "python/script_context.h"
#include "reasonscope/error.h"
#include "reasonscope/search.h"

namespace rs::python {

namespace {

class ScriptStrategy final : public Strategy {
  public:
    explicit ScriptStrategy(std::string path) : path_(std::move(path)) {}
    void run(SearchContext& ctx, const Params& params) override;

  private:
    std::string path_;
};

void ScriptStrategy::run(SearchContext& ctx, const Params& params) {
    ensure_interpreter();
    py::gil_scoped_acquire gil;
    py::module_ support = support_module();
    py::object module;
    try {
        module = support.attr("load")(path_);
    } catch (py::error_already_set& e) {
        throw Error("strategy script " + path_ + " failed to load:\n" + describe_error(e));
    }
    auto sc = std::make_shared<ScriptContext>();
    sc->ctx = &ctx;
    sc->params = py::module_::import("json").attr("loads")(params.dump());
    if (params.contains("scorer") && params["scorer"].is_string())
        sc->run_scorer = params["scorer"].get<std::string>();
    enum class End { Returned, Stopped, Failed } end = End::Returned;
    std::string message;
    {
        RunGuard guard(ctx, support.attr("Interrupted").ptr());
        sc->guard = &guard;
        try {
            module.attr("run")(py::cast(sc), sc->params);
        } catch (py::error_already_set& e) {
            guard.leave_python();  // no more interrupts while the error is described
            if (e.matches(support.attr("StopSearch"))) {
                end = End::Stopped;
            } else if (e.matches(support.attr("Interrupted")) && guard.interrupted_for_cancel()) {
                end = End::Stopped;
            } else if (e.matches(support.attr("Interrupted"))) {
                end = End::Failed;
                message = "strategy script " + path_ + " was stopped: " + guard.reason() +
                          " and it went on running Python code without calling ctx (an endless "
                          "loop?); it was at:\n" +
                          describe_error(e);
            } else {
                end = End::Failed;
                message =
                    "strategy script " + path_ + " raised an exception:\n" + describe_error(e);
            }
        }
        sc->guard = nullptr;
    }
    // A script may have kept ctx: it refuses every call from now on.
    sc->ctx = nullptr;
    sc->scorers.clear();
    if (end == End::Stopped) throw SearchStopped{};
    if (end == End::Failed) throw Error(message);
}

}  // namespace

bool is_strategy_script(const std::string& path) {
    const std::filesystem::path p(path);
    return p.extension() == ".py" && !p.filename().string().starts_with("_");
}

StrategyInfo read_script_info(const std::string& path) {
    ensure_interpreter();
    std::string text, where;
    {
        py::gil_scoped_acquire gil;
        try {
            std::tie(text, where) = support_module()
                                        .attr("read_info")(path)
                                        .cast<std::pair<std::string, std::string>>();
        } catch (py::error_already_set& e) {
            throw Error(describe_error(e));
        }
    }
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + ": not valid JSON: " + e.what());
    }
    try {
        return strategy_info_from_json(j);
    } catch (const std::exception& e) {
        throw Error(where + ": " + e.what());
    }
}

std::unique_ptr<Strategy> make_script_strategy(const std::string& path) {
    return std::make_unique<ScriptStrategy>(path);
}

}  // namespace rs::python
