// reasonscope: the workbench. With no subcommand it opens the desktop app;
// with one it runs headless (no display needed).
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "gui/gui_main.h"
#include "reasonscope/error.h"
#include "reasonscope/text_safety.h"

namespace {

struct Command {
    std::function<int(const rs::cli::Argv&)> fn;
    const char* help;
};

const std::map<std::string, Command>& commands() {
    static const std::map<std::string, Command> c = {
        {"models", {rs::cli::cmd_models, "inspect GGUF models (models info FILE)"}},
        {"devices",
         {rs::cli::cmd_devices, "compute backends and CUDA devices: which run here, and why not"}},
        {"run", {rs::cli::cmd_run, "run a search strategy on a problem"}},
        {"eval",
         {rs::cli::cmd_eval, "run a strategy over a task suite: accuracy and compute table"}},
        {"strategies", {rs::cli::cmd_strategies, "list strategy plugins and their parameters"}},
        {"scorers",
         {rs::cli::cmd_scorers, "list scorers (built-in and plugins) and their options"}},
        {"runs", {rs::cli::cmd_runs, "list stored runs (filter by model, strategy, tag)"}},
        {"show", {rs::cli::cmd_show, "show a stored run; tag, rename or delete it"}},
        {"export", {rs::cli::cmd_export, "export a run as html, json, csv or md"}},
        {"import", {rs::cli::cmd_import, "import a run exported as json"}},
        {"compare", {rs::cli::cmd_compare, "compare two runs side by side"}},
        {"demo",
         {rs::cli::cmd_demo,
          "headless demo: greedy vs a search on a bundled problem, stored, with a report"}},
        {"generate", {rs::cli::cmd_generate, "generate text from a prompt"}},
        {"serve", {rs::cli::cmd_serve, "serve the model over an OpenAI-compatible HTTP API"}},
        {"bench",
         {rs::cli::cmd_bench, "measure prompt and generation speed against the memory roofline"}},
        {"bench-store",
         {rs::cli::cmd_bench_store,
          "measure the run store: write rate, storing overhead, opening time"}},
        {"sweep",
         {rs::cli::cmd_sweep,
          "accuracy and coverage against compute: strategies x budgets, plots, coverage@k"}},
        {"bench-serve",
         {rs::cli::cmd_bench_serve,
          "measure serve: throughput of 1, 8 and 32 clients against a single stream"}},
        {"logits",
         {rs::cli::cmd_logits, "compare the engine's logits with a reference (teacher forcing)"}},
        {"answer-entropy",
         {rs::cli::cmd_answer_entropy,
          "answer entropy after each step of a stored trace (forced answers, sampled)"}},
        {"branch",
         {rs::cli::cmd_branch,
          "counterfactual branch of a stored run: another token at one place of its trace"}},
        {"lens",
         {rs::cli::cmd_lens,
          "logit lens: every layer's top next tokens at a position of a prompt or a run"}},
        {"tokenize", {rs::cli::cmd_tokenize, "tokenize text with a model's tokenizer"}},
        {"chat-template",
         {rs::cli::cmd_chat_template, "render a chat template for a conversation"}},
    };
    return c;
}

void usage(FILE* out) {
    std::fputs("usage: reasonscope [COMMAND] [ARGS...]\n\ncommands:\n", out);
    for (const auto& [name, c] : commands())
        std::fprintf(out, "  %-10s %s\n", name.c_str(), c.help);
    std::fputs(
        "\nWith no command: the desktop app when a display is available, else `demo`.\n"
        "Every command takes --help.\n",
        out);
}

}  // namespace

int main(int argc, char** argv) {
    std::string cmd = argc >= 2 ? argv[1] : "";
    if (cmd == "gui" ||
        (argc >= 2 && cmd.rfind("--", 0) == 0 && cmd != "--help" && cmd != "--version") ||
        (argc < 2 && rs::gui::display_available()))
        return rs::gui::run_gui(argc, argv);
    if (argc < 2) {
        std::puts(
            "No display: running the headless demo (reasonscope --help lists the commands).\n");
        cmd = "demo";
    }
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        usage(stdout);
        return 0;
    }
    if (cmd == "--version") {
        std::puts("reasonscope " RS_VERSION);
        return rs::cli::cmd_devices({});
    }
    auto it = commands().find(cmd);
    if (it == commands().end()) {
        std::fprintf(stderr, "reasonscope: unknown command '%s'\n", cmd.c_str());
        usage(stderr);
        return 2;
    }
    rs::cli::Argv args(argc >= 2 ? argv + 2 : argv + argc, argv + argc);
    try {
        return it->second.fn(args);
    } catch (const rs::cli::UsageError& e) {
        std::fprintf(stderr, "reasonscope %s\n", rs::text::printable(e.message).c_str());
    } catch (const rs::Error& e) {
        // One line, whatever names or model text the message quotes.
        std::fprintf(stderr, "reasonscope %s: error: %s\n", cmd.c_str(),
                     rs::text::printable(e.what()).c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "reasonscope %s: error: %s\n", cmd.c_str(),
                     rs::text::printable(e.what()).c_str());
    }
    return 2;
}
