#include "reasonscope/task.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "reasonscope/error.h"
#include "reasonscope/json_limits.h"

namespace rs {
namespace {

constexpr uintmax_t kMaxSuiteBytes = 512ull << 20;

std::string trimmed(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string as_text(const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

// The first of `names` the entry has (or the mapped one, which must exist).
const nlohmann::json* field(const nlohmann::json& j, const std::string& mapped,
                            std::initializer_list<const char*> names, const char* what,
                            bool required) {
    if (!mapped.empty()) {
        if (j.contains(mapped)) return &j[mapped];
        if (!required) return nullptr;
        throw Error(std::string("no field '") + mapped + "' (the " + what + " field)");
    }
    for (const char* n : names)
        if (j.contains(n)) return &j[n];
    if (!required) return nullptr;
    std::string list;
    for (const char* n : names) list += (list.empty() ? "" : ", ") + std::string(n);
    throw Error(std::string("no ") + what + " field (looked for " + list +
                "; map another with --field " + what + "=NAME)");
}

struct SuiteSettings {
    std::string question_field, answer_field, id_field;
    std::string answer_format, answer_pattern, steps, system, prompt_template;
    int chat = -1;
};

SuiteSettings read_settings(const nlohmann::json& s) {
    if (!s.is_object()) throw Error("\"suite\" must be an object");
    static const char* known[] = {"name", "fields", "answer_format",   "answer_pattern", "steps",
                                  "chat", "system", "prompt_template", "description"};
    for (const auto& [k, v] : s.items()) {
        bool ok = false;
        for (const char* n : known) ok |= k == n;
        if (!ok) throw Error("unknown suite setting '" + k + "'");
    }
    SuiteSettings out;
    if (s.contains("fields")) {
        const auto& f = s["fields"];
        if (!f.is_object()) throw Error("\"fields\" must be an object");
        out.question_field = f.value("question", "");
        out.answer_field = f.value("answer", "");
        out.id_field = f.value("id", "");
    }
    out.answer_format = s.value("answer_format", "");
    if (!out.answer_format.empty()) (void)parse_answer_format(out.answer_format);
    out.answer_pattern = s.value("answer_pattern", "");
    if (s.contains("steps")) {
        const auto& st = s["steps"];
        if (st.is_array()) {
            for (const auto& d : st) {
                if (!d.is_string() || d.get<std::string>().empty())
                    throw Error("\"steps\" wants non-empty strings");
                if (!out.steps.empty()) out.steps += '|';
                for (char c : d.get<std::string>()) {  // escaped as parse_step_delimiters reads it
                    if (c == '\n')
                        out.steps += "\\n";
                    else if (c == '|' || c == '\\')
                        out.steps += std::string("\\") + c;
                    else
                        out.steps += c;
                }
            }
        } else
            out.steps = st.get<std::string>();
    }
    if (s.contains("chat")) out.chat = s["chat"].get<bool>() ? 1 : 0;
    out.system = s.value("system", "");
    out.prompt_template = s.value("prompt_template", "");
    if (!out.prompt_template.empty() && out.prompt_template.find("{question}") == std::string::npos)
        throw Error("\"prompt_template\" must contain {question}");
    return out;
}

// Reads a suite file whole, refusing what is not a regular file (a FIFO
// would block, /dev/zero never ends) and files past the size limit.
void check_suite_file(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) throw Error(path + ": cannot open task suite (no such file)");
    if (!fs::is_regular_file(st)) throw Error(path + ": a task suite must be a regular file");
    const uintmax_t size = fs::file_size(path, ec);
    if (!ec && size > kMaxSuiteBytes)
        throw Error(path + ": task suite of " + std::to_string(size >> 20) +
                    " MiB is larger than the limit of " + std::to_string(kMaxSuiteBytes >> 20) +
                    " MiB");
}

}  // namespace

AnswerRule Task::answer_rule() const {
    AnswerRule r;
    r.format = answer_format.empty()
                   ? (answer_pattern.empty() ? AnswerFormat::Auto : AnswerFormat::Regex)
                   : parse_answer_format(answer_format);
    r.pattern = answer_pattern;
    if (r.format == AnswerFormat::Regex && r.pattern.empty())
        throw Error("task " + id + ": answer format 'regex' without an answer_pattern");
    return r;
}

std::string reference_answer(const std::string& field) {
    const size_t hashes = field.rfind("####");
    if (hashes != std::string::npos) return trimmed(field.substr(hashes + 4));
    if (field.find("\\boxed") != std::string::npos || field.find("\\fbox") != std::string::npos)
        if (auto b = last_boxed(field)) return *b;
    return trimmed(field);
}

std::vector<Task> load_suite(const std::string& path, const SuiteOptions& opt) {
    check_suite_file(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open task suite");
    std::vector<Task> out;
    std::map<std::string, int> seen;  // id -> line
    SuiteSettings set;
    std::string line;
    int ln = 0;
    bool first = true;
    while (std::getline(in, line)) {
        ++ln;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
            const auto j = parse_json_bounded(line, "JSON", 64);
            if (!j.is_object()) throw Error("an entry must be a JSON object");
            if (first && j.contains("suite") && j.size() == 1) {
                set = read_settings(j["suite"]);
                first = false;
                continue;
            }
            first = false;
            Task t;
            const std::string qf =
                opt.question_field.empty() ? set.question_field : opt.question_field;
            const std::string af = opt.answer_field.empty() ? set.answer_field : opt.answer_field;
            const std::string idf = opt.id_field.empty() ? set.id_field : opt.id_field;
            const nlohmann::json* q =
                field(j, qf, {"prompt", "question", "problem", "input", "query"}, "question", true);
            if (!q->is_string()) throw Error("the question field is not a string");
            t.prompt = q->get<std::string>();
            if (!set.prompt_template.empty()) {
                std::string p = set.prompt_template;
                const size_t at = p.find("{question}");
                p.replace(at, 10, t.prompt);
                t.prompt = p;
            }
            if (const nlohmann::json* a =
                    field(j, af, {"answer", "final_answer", "target", "solution", "output"},
                          "answer", !af.empty()))
                t.answer = a->is_string() ? reference_answer(a->get<std::string>()) : a->dump();
            if (const nlohmann::json* id =
                    field(j, idf, {"id", "task_id", "unique_id", "problem_id", "idx"}, "id",
                          !idf.empty()))
                t.id = as_text(*id);
            else
                t.id = std::to_string(out.size() + 1);
            if (t.id.empty()) throw Error("empty task id");
            t.answer_pattern = j.contains("answer_pattern") ? j["answer_pattern"].get<std::string>()
                                                            : set.answer_pattern;
            t.answer_format = !opt.answer_format.empty()    ? opt.answer_format
                              : j.contains("answer_format") ? j["answer_format"].get<std::string>()
                                                            : set.answer_format;
            if (t.answer_format.empty() && !t.answer_pattern.empty()) t.answer_format = "regex";
            if (!t.answer_pattern.empty()) check_answer_pattern(t.answer_pattern);
            (void)t.answer_rule();  // an unknown format or regex without a pattern fails here
            t.steps = j.contains("steps") ? j["steps"].get<std::string>() : set.steps;
            t.chat = set.chat;
            t.system = j.contains("system") ? j["system"].get<std::string>() : set.system;
            auto [it, fresh] = seen.emplace(t.id, ln);
            if (!fresh)
                throw Error("duplicate task id '" + t.id + "' (first on line " +
                            std::to_string(it->second) + ")");
            out.push_back(std::move(t));
        } catch (const std::exception& e) {
            throw Error(path + ":" + std::to_string(ln) + ": bad task entry: " + e.what());
        }
    }
    if (out.empty()) throw Error(path + ": no tasks");
    return out;
}

Task find_task(const std::vector<Task>& suite, const std::string& id,
               const std::string& suite_name) {
    for (const auto& t : suite)
        if (t.id == id) return t;
    throw Error(suite_name + ": no task with id '" + id + "'");
}

}  // namespace rs
