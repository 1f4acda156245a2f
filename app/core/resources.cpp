#include "core/resources.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "reasonscope/error.h"

namespace rs::app {
namespace fs = std::filesystem;

static std::string find_resource(const std::string& rel) {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    std::vector<fs::path> roots = {RS_SOURCE_DIR};
    if (!ec) {
        roots.push_back(exe.parent_path().parent_path().parent_path());  // build/bin -> source
        roots.push_back(exe.parent_path().parent_path() / "share" / "reasonscope");  // installed
    }
    for (const auto& r : roots)
        if (fs::exists(r / rel, ec)) return (r / rel).string();
    return {};
}

std::string default_model_path() {
    if (const char* e = std::getenv("REASONSCOPE_MODEL")) return e;
    return find_resource("resources/models/reasoner.gguf");
}

std::string model_path_or_default(const std::string& given) {
    if (!given.empty()) return given;
    std::string p = default_model_path();
    if (p.empty())
        throw Error(
            "no --model given and the bundled model (resources/models/reasoner.gguf) was not "
            "found");
    return p;
}

std::string default_tasks_dir() {
    return find_resource("resources/tasks");
}

std::string user_guide_path() {
    return find_resource("docs/user-guide.md");
}

std::string resolve_suite_path(const std::string& name) {
    if (fs::exists(name)) return name;
    std::string dir = default_tasks_dir();
    for (const std::string& cand : {dir + "/" + name + ".jsonl", dir + "/arith-" + name + ".jsonl"})
        if (!dir.empty() && fs::exists(cand)) return cand;
    throw Error("task suite '" + name +
                "' not found (give a .jsonl path or a suite name in resources/tasks)");
}

TaskRef resolve_task_ref(const std::string& ref, const SuiteOptions& opt) {
    size_t colon = ref.find(':');
    if (colon == std::string::npos) throw Error("--task wants SUITE:ID, got '" + ref + "'");
    // Task ids may contain ':' ("test/algebra:12"): the suite is the first
    // prefix before a ':' that names one.
    for (size_t c = colon; c != std::string::npos; c = ref.find(':', c + 1)) {
        std::string suite;
        try {
            suite = resolve_suite_path(ref.substr(0, c));
        } catch (const Error&) {
            continue;
        }
        return {suite, find_task(load_suite(suite, opt), ref.substr(c + 1), suite)};
    }
    throw Error("task suite '" + ref.substr(0, colon) +
                "' not found (give a .jsonl path or a suite name in resources/tasks)");
}

Task load_task_ref(const std::string& ref, const SuiteOptions& opt) {
    return resolve_task_ref(ref, opt).task;
}

}  // namespace rs::app
