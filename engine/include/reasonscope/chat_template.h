// Chat templates: the Jinja text a GGUF carries in `tokenizer.chat_template`,
// rendered by the engine's own Jinja interpreter exactly as Hugging Face's
// apply_chat_template renders it with Python's Jinja2 (trim_blocks,
// lstrip_blocks, loop controls, {% generation %}, tojson as json.dumps,
// raise_exception, strftime_now). docs/chat-templates.md lists what is
// supported.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "reasonscope/error.h"

namespace rs {

namespace jinja {
struct Program;
}

// Every failure of parse() or render() is one of these.
class ChatTemplateError : public Error {
  public:
    enum class Kind {
        Raised,   // the template called raise_exception(msg): what() is msg exactly
        Syntax,   // malformed template or a construct the interpreter lacks (parse time)
        Runtime,  // e.g. an undefined value used, a type error, an unknown filter
        Limit,    // output size, step budget or nesting depth exceeded
    };
    ChatTemplateError(Kind kind, const std::string& what, int line, int column)
        : Error(what), kind_(kind), line_(line), column_(column) {}
    Kind kind() const { return kind_; }
    int line() const { return line_; }      // 1-based line in the template; 0 if unknown
    int column() const { return column_; }  // 1-based; 0 if unknown

  private:
    Kind kind_;
    int line_;
    int column_;
};

struct ChatTemplateOptions {
    // The time strftime_now() formats (broken-down local time); default: now.
    std::optional<std::tm> now;
    size_t max_output = size_t(64) << 20;  // bytes of output (and of any one string)
    uint64_t max_steps = 20'000'000;       // statements, loop iterations, items touched
    int max_depth = 600;                   // nesting at run time, macro recursion included
};

class ChatTemplate {
  public:
    // Parses the template. Throws ChatTemplateError (Syntax) naming the line
    // and column of the first problem.
    static ChatTemplate parse(const std::string& source);

    // Renders with `context` (a JSON object) as the template's variables,
    // e.g. {"messages": [...], "add_generation_prompt": true,
    // "bos_token": "<s>", "eos_token": "</s>", "tools": [...]}. Objects keep
    // their key order with ordered_json (tojson prints in that order);
    // nlohmann::json sorts keys. Throws ChatTemplateError.
    std::string render(const nlohmann::ordered_json& context,
                       const ChatTemplateOptions& options = {}) const;
    std::string render(const nlohmann::json& context,
                       const ChatTemplateOptions& options = {}) const;

    const std::string& source() const { return source_; }

  private:
    std::shared_ptr<const jinja::Program> program_;
    std::string source_;
};

}  // namespace rs
