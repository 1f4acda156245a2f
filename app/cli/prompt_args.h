// The prompt flags of run and eval: chat template, system message,
// thinking switch and budget, step delimiters, and how a suite file's
// fields map (eval, run --task).
#pragma once

#include "cli/args.h"
#include "core/prompt.h"
#include "reasonscope/task.h"

namespace rs::cli {

void add_prompt_options(Args& a);
app::PromptOptions prompt_options(const Args& a);
SuiteOptions suite_options(const Args& a);

}  // namespace rs::cli
