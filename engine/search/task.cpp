#include "reasonscope/task.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "reasonscope/error.h"

namespace rs {

static const char* kDefaultPattern = R"(Answer:\s*(-?[0-9][0-9.,]*))";

std::vector<Task> load_suite(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(path + ": cannot open task suite");
    std::vector<Task> out;
    std::string line;
    int ln = 0;
    while (std::getline(in, line)) {
        ++ln;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
            auto j = nlohmann::json::parse(line);
            Task t;
            t.id = j.at("id").is_string() ? j.at("id").get<std::string>() : j.at("id").dump();
            t.prompt = j.at("prompt").get<std::string>();
            if (j.contains("answer"))
                t.answer =
                    j["answer"].is_string() ? j["answer"].get<std::string>() : j["answer"].dump();
            t.answer_pattern = j.value("answer_pattern", std::string(kDefaultPattern));
            std::regex check(t.answer_pattern);  // validate early
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

std::string normalize_answer(const std::string& a) {
    size_t b = a.find_first_not_of(" \t\r\n"), e = a.find_last_not_of(" \t\r\n.");
    if (b == std::string::npos) return {};
    std::string s = a.substr(b, e - b + 1);
    std::string t;
    for (char c : s)
        if (c != ',') t += c;
    return t;
}

bool answers_equal(const std::string& a, const std::string& b) {
    std::string x = normalize_answer(a), y = normalize_answer(b);
    if (x.empty() || y.empty()) return false;
    char *ex = nullptr, *ey = nullptr;
    double dx = std::strtod(x.c_str(), &ex), dy = std::strtod(y.c_str(), &ey);
    if (*ex == '\0' && *ey == '\0')
        return std::fabs(dx - dy) <= 1e-9 * std::max(1.0, std::fabs(dy));
    return x == y;
}

std::string extract_answer(const std::string& text, const std::string& pattern) {
    std::regex re(pattern.empty() ? kDefaultPattern : pattern);
    std::smatch m;
    std::string last;
    auto begin = text.cbegin();
    while (std::regex_search(begin, text.cend(), m, re)) {
        last = m.size() > 1 ? m[1].str() : m[0].str();
        begin = m[0].second;
        if (m[0].length() == 0) break;
    }
    return normalize_answer(last);
}

}  // namespace rs
