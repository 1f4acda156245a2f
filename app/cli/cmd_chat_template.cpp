// reasonscope chat-template: renders a model's chat template (or a .jinja
// file) for a conversation, exactly as Hugging Face's apply_chat_template
// would, and prints the prompt byte for byte (no newline added).
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "reasonscope/chat_template.h"
#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "reasonscope/json_limits.h"
#include "reasonscope/regular_file.h"

namespace rs::cli {

namespace {

std::string read_text(const std::string& path) {
    if (path == "-") {
        return std::string(std::istreambuf_iterator<char>(std::cin),
                           std::istreambuf_iterator<char>());
    }
    // A regular file (a FIFO would block, /dev/zero never end), 64 MiB at most.
    return read_regular_file(path, uint64_t{64} << 20, "template or messages file");
}

// The text of a special token named by `key` (e.g. tokenizer.ggml.bos_token_id).
std::string token_text(const GgufFile& f, const char* key) {
    int64_t id = f.get_int(key, -1);
    if (id < 0 || !f.has("tokenizer.ggml.tokens")) return {};
    const GgufValue& tokens = f.get_array("tokenizer.ggml.tokens");
    if (static_cast<size_t>(id) >= tokens.items.size()) return {};
    return std::string(tokens.items[static_cast<size_t>(id)].str);
}

std::tm parse_now(const std::string& s) {
    std::tm tm{};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    int n = std::sscanf(s.c_str(), "%d-%d-%d%*[ T]%d:%d:%d", &y, &mo, &d, &h, &mi, &sec);
    if (n != 3 && n < 5)
        throw UsageError{"chat-template: --now takes YYYY-MM-DD or 'YYYY-MM-DD HH:MM[:SS]'"};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return tm;
}

}  // namespace

int cmd_chat_template(const Argv& argv) {
    Args a("chat-template",
           "(--model FILE.gguf | --template FILE.jinja) --messages FILE.json "
           "[--add-generation-prompt] [--set KEY=VALUE ...] [--bos TEXT] [--eos TEXT]");
    a.option("model", "GGUF file: renders its tokenizer.chat_template")
        .option("template-name",
                "with --model: the named template tokenizer.chat_template.NAME (e.g. tool_use)")
        .option("template", "a Jinja chat template file instead of a model's")
        .option("messages",
                "JSON file (- for stdin): an array of messages, or an object whose fields are "
                "all variables of the template (messages, tools, documents, ...)")
        .flag("add-generation-prompt", "end with the assistant's turn header")
        .multi("set",
               "KEY=VALUE: one more variable; VALUE is JSON if it parses, else a string "
               "(e.g. --set enable_thinking=false)")
        .option("bos", "bos_token (default: the model's BOS token text)")
        .option("eos", "eos_token (default: the model's EOS token text)")
        .option("now", "the date strftime_now() sees: 'YYYY-MM-DD[ HH:MM[:SS]]' (default: now)");
    if (!a.parse(argv)) return 0;
    if (a.has("model") == a.has("template"))
        throw UsageError{
            "chat-template: give exactly one of --model FILE.gguf and --template FILE"};
    if (!a.has("messages")) throw UsageError{"chat-template: --messages FILE.json is required"};

    std::string source;
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    if (a.has("model")) {
        auto f = GgufFile::open(a.get("model"));
        std::string key = "tokenizer.chat_template";
        if (a.has("template-name")) key += "." + a.get("template-name");
        if (!f->has(key)) throw Error(a.get("model") + ": no " + key + " in its metadata");
        source = f->get_string(key);
        ctx["bos_token"] = token_text(*f, "tokenizer.ggml.bos_token_id");
        ctx["eos_token"] = token_text(*f, "tokenizer.ggml.eos_token_id");
    } else {
        if (a.has("template-name"))
            throw UsageError{"chat-template: --template-name goes with --model"};
        source = read_text(a.get("template"));
    }

    const auto msgs =
        parse_json_bounded<nlohmann::ordered_json>(read_text(a.get("messages")), a.get("messages"));
    if (msgs.is_array()) {
        ctx["messages"] = msgs;
    } else if (msgs.is_object()) {
        for (auto it = msgs.begin(); it != msgs.end(); ++it) ctx[it.key()] = it.value();
    } else {
        throw Error(a.get("messages") + ": expected an array of messages or an object");
    }
    ctx["add_generation_prompt"] = a.flag_set("add-generation-prompt");
    for (const std::string& kv : a.all("set")) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            throw UsageError{"chat-template: --set takes KEY=VALUE, got '" + kv + "'"};
        std::string value = kv.substr(eq + 1);
        auto parsed =
            parse_json_or_discarded<nlohmann::ordered_json>(value, "--set " + kv.substr(0, eq));
        ctx[kv.substr(0, eq)] = parsed.is_discarded() ? nlohmann::ordered_json(value) : parsed;
    }
    if (a.has("bos")) ctx["bos_token"] = a.get("bos");
    if (a.has("eos")) ctx["eos_token"] = a.get("eos");

    ChatTemplateOptions opt;
    if (a.has("now")) opt.now = parse_now(a.get("now"));
    std::string prompt = ChatTemplate::parse(source).render(ctx, opt);
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    return 0;
}

}  // namespace rs::cli
