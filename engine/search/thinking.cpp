// Thinking spans and step delimiters: the run settings that say where a
// model thinks and where one reasoning step ends.
#include <array>

#include "reasonscope/error.h"
#include "reasonscope/search.h"

namespace rs {
namespace {

struct Syntax {
    const char* open;
    const char* close;
    const char* close_text;  // forced at the thinking budget's maximum
    const char* template_mark;
};

// Most specific first: a template that names gpt-oss's channels also
// contains "<think>"-free text, Qwen and R1 templates name "<think>".
constexpr std::array<Syntax, 4> kSyntaxes = {{
    {"<|channel|>analysis<|message|>", "<|end|>",
     "<|end|><|start|>assistant<|channel|>final<|message|>", "<|channel|>analysis"},
    {"<|channel>thought", "<channel|>", "<channel|>", "<|channel>thought"},
    {"[THINK]", "[/THINK]", "\n[/THINK]\n", "[THINK]"},
    {"<think>", "</think>", "\n</think>\n\n", "<think>"},
}};

}  // namespace

ThinkingConfig detect_thinking(const std::string& chat_template, const Tokenizer& tok) {
    ThinkingConfig t;
    auto take = [&](const Syntax& s) {
        t.open = s.open;
        t.close = s.close;
        t.close_text = s.close_text;
    };
    for (const Syntax& s : kSyntaxes)
        if (!chat_template.empty() && chat_template.find(s.template_mark) != std::string::npos) {
            take(s);
            return t;
        }
    // No template, or one that does not say: a vocabulary with the markers
    // as tokens of their own.
    for (const Syntax& s : kSyntaxes)
        if (tok.find(s.open) >= 0 && tok.find(s.close) >= 0) {
            take(s);
            return t;
        }
    return t;
}

bool ends_in_thinking(const std::string& text, const ThinkingConfig& t) {
    if (!t.enabled()) return false;
    const size_t o = text.rfind(t.open);
    if (o == std::string::npos) return false;
    const size_t c = text.rfind(t.close);
    return c == std::string::npos || c < o;
}

std::vector<std::string> parse_step_delimiters(const std::string& setting) {
    if (setting == "line") return {"\n"};
    if (setting == "paragraph") return {"\n\n"};
    std::vector<std::string> out(1);
    for (size_t i = 0; i < setting.size(); ++i) {
        const char c = setting[i];
        if (c == '|') {
            out.emplace_back();
            continue;
        }
        if (c == '\\' && i + 1 < setting.size()) {
            const char n = setting[++i];
            out.back() += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n;
            continue;
        }
        out.back() += c;
    }
    for (const auto& d : out)
        if (d.empty())
            throw Error("step delimiters '" + setting +
                        "': an empty delimiter (want line, paragraph or text separated by |)");
    return out;
}

}  // namespace rs
