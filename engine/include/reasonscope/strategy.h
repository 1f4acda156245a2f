// The strategy contract. A strategy is a factory-made object with one
// run(SearchContext&, Params) entry; its metadata (JSON shipped with the
// plugin) names it and declares its parameters, from which the UI builds a
// form and the CLI its --set k=v options. Built-in strategies are plugins
// like any other (plugins/<id>/).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "reasonscope/events.h"
#include "reasonscope/params.h"

namespace rs {

class SearchContext;

struct StrategyInfo {
    std::string id, name, description, paper;
    std::vector<ParamSpec> params;
    // Generator capabilities the strategy cannot run without (generator.h's
    // capability_names()); metadata "needs": [...].
    std::vector<std::string> needs;
    const ParamSpec* find(const std::string& name) const;
};

// Reads metadata's "needs" (a list of capability names); throws rs::Error
// naming an unknown one.
std::vector<std::string> needs_from_json(const nlohmann::json& j, const std::string& what);

// Throws rs::Error for metadata that lacks id/name or has a malformed parameter.
StrategyInfo strategy_info_from_json(const nlohmann::json& j);
nlohmann::json strategy_info_to_json(const StrategyInfo& info);

using Params = nlohmann::json;  // object: name -> value

// Parses "k=v" settings by each parameter's type, checks ranges and fills
// defaults. Throws rs::Error naming the parameter, its value and the range.
Params resolve_params(const StrategyInfo& info,
                      const std::vector<std::pair<std::string, std::string>>& sets);
std::pair<std::string, std::string> split_setting(const std::string& kv);  // "k=v"

class Strategy {
  public:
    virtual ~Strategy() = default;
    // Grows the tree through ctx and calls ctx.choose_answer(). May throw
    // rs::Error; the runner reports it and fails the run cleanly.
    virtual void run(SearchContext& ctx, const Params& params) = 0;
};

struct RunOutcome {
    std::string status;  // ok, cancelled, budget, error
    std::string error;
    std::string answer;
    int correct = -1;
    RunMetrics metrics;
};

// Runs a strategy to the end and emits RunFinished, whatever happens: a
// strategy or scorer that throws anything (a std::exception or not) ends the
// run as `error` with a message.
RunOutcome run_strategy(Strategy& s, SearchContext& ctx, const Params& params);
// Inside a catch block: what was thrown, in words: a std::exception's
// what(), else e.g. "a thrown int 7 (not a std::exception)".
std::string describe_current_exception();

// Helpers strategies share.
struct Vote {
    std::string answer;
    double weight = 0;
    int count = 0;
    int best_node = -1;
};
// Among nodes with an answer, the one whose `score_key` score is highest
// (missing scores count as 0); chooses its answer. Returns the node or -1.
int choose_best_scored(SearchContext& ctx, const std::vector<int>& nodes,
                       const std::string& score_key);

// Groups terminal leaves by normalized answer; weight = count, or the sum of
// the leaves' `weight_key` scores when given. Sorted best first; each vote's
// best_node is its most confident leaf (highest mean token log-probability).
std::vector<Vote> vote(const SearchContext& ctx, const std::vector<int>& leaves,
                       const std::string& weight_key = "");

}  // namespace rs
