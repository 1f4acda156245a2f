// Exports of a stored run: JSON (the whole run, importable), CSV (tokens and
// nodes), Markdown (a readable summary) and a self-contained HTML report
// (inline SVG tree, tokens coloured by entropy with alternatives on hover,
// entropy/varentropy plots; all model text escaped). And run comparison.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "reasonscope/run_store.h"

namespace rs {

nlohmann::json run_to_json(const StoredRun& r);
StoredRun run_from_json(const nlohmann::json& j);  // throws rs::Error naming the bad field
std::string run_to_markdown(const StoredRun& r);
std::string run_to_html(const StoredRun& r);
std::string run_tokens_csv(const StoredRun& r);
std::string run_nodes_csv(const StoredRun& r);

// The path the run chose (root .. chosen node), or the longest path to a
// correct/answered leaf when none was recorded.
std::vector<int> chosen_path(const StoredRun& r);

nlohmann::json compare_runs(const StoredRun& a, const StoredRun& b);
std::string compare_to_text(const nlohmann::json& c);

}  // namespace rs
