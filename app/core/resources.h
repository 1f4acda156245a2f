// Where the app finds the bundled model and the task suites when none is
// named, and how a task is named ("SUITE:ID"): shared by the CLI and the GUI.
#pragma once

#include <string>

#include "reasonscope/task.h"

namespace rs::app {

// The bundled model: $REASONSCOPE_MODEL, else resources/models/reasoner.gguf
// beside the source tree or under the install prefix ("" when absent).
std::string default_model_path();
// `given` when not empty, else the bundled model (throws rs::Error if absent).
std::string model_path_or_default(const std::string& given);
std::string default_tasks_dir();
// docs/user-guide.md of the source tree or the installed share/reasonscope; "" if neither.
std::string user_guide_path();

// A suite given as a .jsonl path or a suite name under resources/tasks.
std::string resolve_suite_path(const std::string& name_or_path);
// Loads "SUITE:ID" (SUITE as for resolve_suite_path; the ID may itself
// contain ':', the suite is the shortest prefix that names one).
Task load_task_ref(const std::string& ref, const SuiteOptions& opt = {});
// The same, with the suite's path.
struct TaskRef {
    std::string suite_path;
    Task task;
};
TaskRef resolve_task_ref(const std::string& ref, const SuiteOptions& opt = {});

}  // namespace rs::app
