#include "cli/prompt_args.h"

namespace rs::cli {

void add_prompt_options(Args& a) {
    a.flag("chat", "apply the model's chat template (system + user message)")
        .flag("no-chat", "give the question as it is, even when the suite asks for the template")
        .option("system", "system message for the chat template")
        .flag("no-think", "enable_thinking=false for templates that take it (Qwen3, SmolLM3, ...)")
        .flag("think", "enable_thinking=true")
        .option("template", "a .jinja chat template instead of the model's (implies --chat)")
        .multi("template-var", "one more chat-template variable KEY=VALUE (JSON if it parses)")
        .option("think-min",
                "budget forcing: below this many thinking tokens the end of thinking "
                "becomes --wait-text (0 = off)",
                "0")
        .option("think-max",
                "budget forcing: at this many thinking tokens thinking is closed and "
                "the answer follows (0 = off)",
                "0")
        .option("wait-text", "what replaces an early end of thinking", "Wait")
        .option("steps",
                "where a step ends: line, paragraph, or delimiters separated by | (\\n escapes); "
                "default: the suite's, else line")
        .multi("field", "suite field mapping question=NAME, answer=NAME or id=NAME (repeatable)")
        .option("answer-format",
                "how answers are found: auto, boxed, answer-is, answer-line, last-number, regex "
                "(default: the suite's, else auto)");
}

app::PromptOptions prompt_options(const Args& a) {
    app::PromptOptions o;
    if (a.flag_set("chat") && a.flag_set("no-chat"))
        throw UsageError{"--chat and --no-chat contradict each other"};
    if (a.flag_set("think") && a.flag_set("no-think"))
        throw UsageError{"--think and --no-think contradict each other"};
    o.template_file = a.get("template");
    o.chat = a.flag_set("chat") || !o.template_file.empty() ? 1 : a.flag_set("no-chat") ? 0 : -1;
    o.system = a.get("system");
    o.thinking = a.flag_set("think") ? 1 : a.flag_set("no-think") ? 0 : -1;
    for (const auto& kv : a.all("template-var")) {
        const size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            throw UsageError{"--template-var wants KEY=VALUE, got '" + kv + "'"};
        o.template_vars[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    o.think_min = a.get_int("think-min", 0, 1 << 24);
    o.think_max = a.get_int("think-max", 0, 1 << 24);
    if (o.think_max > 0 && o.think_min > o.think_max)
        throw UsageError{"--think-min " + std::to_string(o.think_min) + " is above --think-max " +
                         std::to_string(o.think_max)};
    o.wait_text = a.get("wait-text");
    o.steps = a.get("steps");
    return o;
}

SuiteOptions suite_options(const Args& a) {
    SuiteOptions s;
    for (const auto& kv : a.all("field")) {
        const size_t eq = kv.find('=');
        const std::string k = eq == std::string::npos ? kv : kv.substr(0, eq);
        const std::string v = eq == std::string::npos ? "" : kv.substr(eq + 1);
        if (v.empty() || (k != "question" && k != "answer" && k != "id"))
            throw UsageError{"--field wants question=NAME, answer=NAME or id=NAME, got '" + kv +
                             "'"};
        (k == "question" ? s.question_field : k == "answer" ? s.answer_field : s.id_field) = v;
    }
    s.answer_format = a.get("answer-format");
    if (!s.answer_format.empty()) (void)parse_answer_format(s.answer_format);
    return s;
}

}  // namespace rs::cli
