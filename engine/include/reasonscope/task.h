// Problems with known answers, read from JSONL task suites. One JSON object
// per line; the question, answer and id fields are found by name (prompt,
// question, problem, ...; answer, final_answer, solution, ...; id, task_id,
// unique_id, ...) or mapped explicitly. GSM8K answers ("... #### 42") and
// MATH solutions (the last \boxed{...}) give their final answer. An optional
// first line {"suite": {...}} holds the suite's settings: name, fields,
// answer_format, answer_pattern, steps, chat, system, prompt_template.
// docs/user-guide.md ("Using your own model") documents the format.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "reasonscope/answer.h"

namespace rs {

struct Task {
    Task() = default;
    Task(std::string id_, std::string prompt_, std::string answer_ = {},
         std::string answer_pattern_ = {})
        : id(std::move(id_)),
          prompt(std::move(prompt_)),
          answer(std::move(answer_)),
          answer_pattern(std::move(answer_pattern_)) {}

    std::string id;
    std::string prompt;          // the question as the model gets it (before any chat template)
    std::string answer;          // empty when unknown
    std::string answer_pattern;  // PCRE2, first capture group (answer_format "regex")
    std::string answer_format;  // auto (default), boxed, answer-is, answer-line, last-number, regex
    std::string steps;          // step delimiters: "" (the run's), "line", "paragraph" or text
    int chat = -1;              // apply the model's chat template: -1 the run decides, 0 no, 1 yes
    std::string system;         // the system message when the template is applied

    AnswerRule answer_rule() const;  // throws rs::Error for an unknown format
};

// Overrides for loading a suite (the CLI's --field and --answer-format).
struct SuiteOptions {
    std::string question_field, answer_field, id_field;  // "" = the suite's or found by name
    std::string answer_format;                           // "" = the suite's
};

// Throws rs::Error naming the file and line of a malformed entry, a
// duplicate id, a file that is not a regular file or is too large.
std::vector<Task> load_suite(const std::string& path, const SuiteOptions& opt = {});
// The task with this id; throws rs::Error naming the suite otherwise.
Task find_task(const std::vector<Task>& suite, const std::string& id,
               const std::string& suite_name);

// The final answer a dataset's answer field states: after GSM8K's "####",
// the last \boxed{} of a MATH solution, else the text itself (trimmed).
std::string reference_answer(const std::string& field);

}  // namespace rs
