// What the model is given for a task: the question as it is, or rendered
// by the model's chat template (system and user message, enable_thinking),
// where its thinking span is, the thinking budget, and where steps end.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "reasonscope/model.h"
#include "reasonscope/search.h"
#include "reasonscope/task.h"

namespace rs::app {

// The front ends' settings; -1 / empty: the task's (suite's) setting, else
// the default.
struct PromptOptions {
    int chat = -1;              // apply the chat template (default: no)
    std::string system;         // system message (default: the task's, else none)
    int thinking = -1;          // enable_thinking for templates that take it (default: theirs)
    std::string template_file;  // a .jinja file instead of the model's template
    std::map<std::string, std::string> template_vars;  // more template variables (JSON or text)
    int think_min = 0, think_max = 0;                  // budget forcing; 0 = none
    std::string wait_text;                             // default "Wait"
    std::string steps;  // step delimiters (see parse_step_delimiters)
    // A prompt a chat template already rendered (a stored run's), used as
    // it is instead of rendering the task; and text the model's reply
    // starts with, after the template's output (a counterfactual branch
    // continues a chat run's trace this way).
    std::string rendered;
    std::string continuation;
};

struct PromptPlan {
    bool chat = false;
    std::string rendered;       // the chat template's output ("" without one)
    std::string template_sha;   // SHA-256 of the template text ("" without one)
    std::string template_from;  // "model" or the .jinja path
    ThinkingConfig thinking;
    std::vector<std::string> steps;
    nlohmann::json describe() const;  // stored with the run: chat, thinking, steps, template
};

// Throws rs::Error: --chat on a model without tokenizer.chat_template, a
// template that fails (its own message, or the line of a syntax error).
PromptPlan plan_prompt(const Model& model, const Task& task, const PromptOptions& opt);
// Applies a plan to a run's settings.
void apply_prompt_plan(const PromptPlan& plan, RunConfig& cfg);

// The file type llama.cpp's quantizer writes as general.file_type
// ("Q4_K_M", "F16", ...), or "" when the file has none; and the model's
// tensor-type mix as {"Q4_K": 97, "Q6_K": 13, "F32": 49}.
std::string file_type_name(int64_t ftype);
nlohmann::json tensor_type_mix(const Model& model);

}  // namespace rs::app
