// libFuzzer entry for the Jinja chat-template interpreter
// (reasonscope/chat_template.h): any bytes, as a template, must parse or fail
// with a ChatTemplateError, and a parsed template must render a conversation
// (with tools, tool calls and the jinja_cases variables) or fail with one,
// within the given limits. Never a crash, a hang or another exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "reasonscope/chat_template.h"

namespace {

const nlohmann::ordered_json& context() {
    static const nlohmann::ordered_json c = nlohmann::ordered_json::parse(R"({
      "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+3? <think>ü</think>"},
        {"role": "assistant", "content": "", "reasoning_content": "add",
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
        {"role": "assistant", "content": "5"},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}
      ],
      "tools": [{"type": "function", "function": {"name": "add", "description": "a+b",
                 "parameters": {"type": "object", "properties": {"a": {"type": "integer"},
                 "b": {"type": "integer"}}, "required": ["a", "b"]}}}],
      "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
      "enable_thinking": true,
      "xs": [3, 1, 2], "d": {"b": 1, "a": [1, 2], "C": null}, "s": "Hello, World",
      "u": "héllo wörld ß", "n": null, "t": true, "f": 1.5, "i": 7, "neg": -7,
      "big": 12345678901234, "e": "", "words": ["b", "A", "c", "a"],
      "nested": {"k": {"j": [10, 20, {"z": "deep"}]}}
    })");
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string source(reinterpret_cast<const char*>(data), size);
    rs::ChatTemplateOptions opt;
    opt.now = std::tm{};
    opt.max_output = size_t(1) << 20;  // small limits keep each input fast
    opt.max_steps = 200'000;
    opt.max_depth = 200;
    try {
        const rs::ChatTemplate t = rs::ChatTemplate::parse(source);
        (void)t.render(context(), opt);
    } catch (const rs::ChatTemplateError&) {
    }
    return 0;
}
