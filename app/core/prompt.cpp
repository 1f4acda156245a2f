#include "core/prompt.h"

#include <QCryptographicHash>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "reasonscope/chat_template.h"
#include "reasonscope/error.h"
#include "reasonscope/ggml_types.h"
#include "reasonscope/gguf.h"
#include "reasonscope/json_limits.h"

namespace rs::app {
namespace {

std::string read_template_file(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw Error(path + ": not a regular file (a chat template)");
    if (fs::file_size(path, ec) > (4u << 20))
        throw Error(path + ": chat template larger than 4 MiB");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open chat template");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string token_text_or_empty(const Tokenizer& tok, TokenId id) {
    return id >= 0 && id < tok.n_vocab() ? tok.token_text(id) : std::string();
}

}  // namespace

PromptPlan plan_prompt(const Model& model, const Task& task, const PromptOptions& opt) {
    PromptPlan plan;
    const Tokenizer& tok = model.tokenizer();
    plan.chat = opt.chat >= 0 ? opt.chat == 1 : task.chat == 1;
    std::string source;
    if (!opt.template_file.empty()) {
        source = read_template_file(opt.template_file);
        plan.template_from = opt.template_file;
    } else if (model.gguf().has("tokenizer.chat_template")) {
        source = model.gguf().get_string("tokenizer.chat_template");
        plan.template_from = "model";
    }
    if (!opt.rendered.empty()) {
        plan.chat = true;
        plan.rendered = opt.rendered;
        plan.template_from = "a stored run's rendered prompt";
    } else if (plan.chat) {
        if (source.empty())
            throw Error(model.path() +
                        ": the model has no chat template (tokenizer.chat_template); run without "
                        "--chat, or give one with --template FILE.jinja");
        nlohmann::ordered_json ctx;
        nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
        const std::string system = !opt.system.empty() ? opt.system : task.system;
        if (!system.empty()) msgs.push_back({{"role", "system"}, {"content", system}});
        msgs.push_back({{"role", "user"}, {"content", task.prompt}});
        ctx["messages"] = msgs;
        ctx["add_generation_prompt"] = true;
        ctx["bos_token"] = token_text_or_empty(tok, tok.bos());
        ctx["eos_token"] = token_text_or_empty(tok, tok.eos());
        if (opt.thinking >= 0) ctx["enable_thinking"] = opt.thinking == 1;
        for (const auto& [k, v] : opt.template_vars) {
            auto parsed = parse_json_bounded<nlohmann::ordered_json>(v, "template variable " + k,
                                                                     kMaxJsonDepth, false);
            ctx[k] = parsed.is_discarded() ? nlohmann::ordered_json(v) : parsed;
        }
        try {
            plan.rendered = ChatTemplate::parse(source).render(ctx);
        } catch (const ChatTemplateError& e) {
            const std::string where = plan.template_from == "model"
                                          ? model.path() + " (tokenizer.chat_template)"
                                          : plan.template_from;
            throw Error(where + (e.line() > 0 ? ":" + std::to_string(e.line()) : "") +
                        ": chat template: " + e.what());
        }
        plan.template_sha =
            QCryptographicHash::hash(QByteArray::fromStdString(source), QCryptographicHash::Sha256)
                .toHex()
                .toStdString();
    }
    if (plan.chat) plan.rendered += opt.continuation;
    plan.thinking = detect_thinking(plan.chat ? source : std::string(), tok);
    plan.thinking.min_tokens = opt.think_min;
    plan.thinking.max_tokens = opt.think_max;
    if (!opt.wait_text.empty()) plan.thinking.wait_text = opt.wait_text;
    if ((opt.think_min > 0 || opt.think_max > 0) && !plan.thinking.enabled())
        throw Error("a thinking budget was given, but the model shows no thinking markers (" +
                    std::string(plan.chat ? "neither its chat template nor its vocabulary"
                                          : "its vocabulary; try --chat") +
                    " names <think>, an analysis or thought channel or [THINK])");
    const std::string steps = !opt.steps.empty()    ? opt.steps
                              : !task.steps.empty() ? task.steps
                                                    : "line";
    plan.steps = parse_step_delimiters(steps);
    return plan;
}

void apply_prompt_plan(const PromptPlan& plan, RunConfig& cfg) {
    cfg.rendered_prompt = plan.rendered;
    cfg.thinking = plan.thinking;
    cfg.step_delimiters = plan.steps;
}

nlohmann::json PromptPlan::describe() const {
    nlohmann::json j;
    j["chat"] = chat;
    if (chat) {
        j["template_sha256"] = template_sha;
        j["template_from"] = template_from;
    }
    j["steps"] = steps;
    if (thinking.enabled()) {
        j["thinking"] = {{"open", thinking.open},
                         {"close", thinking.close},
                         {"min_tokens", thinking.min_tokens},
                         {"max_tokens", thinking.max_tokens},
                         {"wait_text", thinking.wait_text},
                         {"close_text", thinking.forced_close()}};
    } else
        j["thinking"] = nullptr;
    return j;
}

std::string file_type_name(int64_t ftype) {
    static const std::map<int64_t, const char*> names = {
        {0, "F32"},      {1, "F16"},      {2, "Q4_0"},      {3, "Q4_1"},    {7, "Q8_0"},
        {8, "Q5_0"},     {9, "Q5_1"},     {10, "Q2_K"},     {11, "Q3_K_S"}, {12, "Q3_K_M"},
        {13, "Q3_K_L"},  {14, "Q4_K_S"},  {15, "Q4_K_M"},   {16, "Q5_K_S"}, {17, "Q5_K_M"},
        {18, "Q6_K"},    {19, "IQ2_XXS"}, {20, "IQ2_XS"},   {21, "Q2_K_S"}, {22, "IQ3_XS"},
        {23, "IQ3_XXS"}, {24, "IQ1_S"},   {25, "IQ4_NL"},   {26, "IQ3_S"},  {27, "IQ3_M"},
        {28, "IQ2_S"},   {29, "IQ2_M"},   {30, "IQ4_XS"},   {31, "IQ1_M"},  {32, "BF16"},
        {36, "TQ1_0"},   {37, "TQ2_0"},   {38, "MXFP4_MOE"}};
    auto it = names.find(ftype);
    if (it != names.end()) return it->second;
    return ftype < 0 ? std::string() : "type " + std::to_string(ftype);
}

nlohmann::json tensor_type_mix(const Model& model) {
    std::map<std::string, int> mix;
    for (const GgufTensor& t : model.gguf().tensors()) mix[std::string(type_name(t.type))]++;
    return mix;
}

}  // namespace rs::app
