// Problems with known answers, read from JSONL task suites:
// {"id", "prompt", "answer", "answer_pattern"?} per line.
#pragma once

#include <string>
#include <vector>

namespace rs {

struct Task {
    std::string id;
    std::string prompt;
    std::string answer;  // empty when unknown
    std::string
        answer_pattern;  // regex with one capture group; empty: "Answer:\s*(-?[0-9][0-9.,]*)"
};

// Throws rs::Error naming the file and line of a malformed entry.
std::vector<Task> load_suite(const std::string& path);
// "SUITE:ID" or a suite path and an id.
Task find_task(const std::vector<Task>& suite, const std::string& id,
               const std::string& suite_name);

// Answer extraction and comparison: numeric when both parse as numbers,
// otherwise exact after trimming.
std::string extract_answer(const std::string& text, const std::string& pattern);
bool answers_equal(const std::string& a, const std::string& b);
std::string normalize_answer(const std::string& a);

}  // namespace rs
