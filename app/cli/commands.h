// CLI subcommands. Each takes its arguments (after the subcommand name) and
// returns the process exit code; bad usage throws UsageError, bad input
// throws rs::Error (both printed by main as one line, exit code 2).
#pragma once

#include <string>
#include <vector>

namespace rs::cli {

using Argv = std::vector<std::string>;

int cmd_models(const Argv& args);
int cmd_tokenize(const Argv& args);
int cmd_chat_template(const Argv& args);
int cmd_logits(const Argv& args);
int cmd_lens(const Argv& args);
int cmd_branch(const Argv& args);
int cmd_answer_entropy(const Argv& args);
int cmd_generate(const Argv& args);
int cmd_bench(const Argv& args);
int cmd_run(const Argv& args);
int cmd_eval(const Argv& args);
int cmd_scorers(const Argv& args);
int cmd_strategies(const Argv& args);
int cmd_runs(const Argv& args);
int cmd_show(const Argv& args);
int cmd_export(const Argv& args);
int cmd_import(const Argv& args);
int cmd_compare(const Argv& args);
int cmd_demo(const Argv& args);
int cmd_bench_store(const Argv& args);
int cmd_serve(const Argv& args);
int cmd_bench_serve(const Argv& args);
int cmd_sweep(const Argv& args);
int cmd_devices(const Argv& args);

}  // namespace rs::cli
